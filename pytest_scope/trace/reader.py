"""Reading trace files, and finding a test in a list of runs.

A trace file may come from a CI artifact: it is opened read-only, checked to be ours and
of a format this version reads before anything else, and every SQLite or decoding
problem becomes a ``TraceFileError`` that names the file. Nothing in it is trusted: our
tables must be plain tables (a view could compute rows forever), no value may exceed
``MAX_VALUE_BYTES``, and every row is checked to hold the types the schema says.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from pytest_scope.errors import NotFoundError, SchemaVersionError, TraceFileError
from pytest_scope.trace.codec import Event, Keyframe, unpack_chunk
from pytest_scope.trace.records import (
    CHUNKS,
    CODES,
    ORIGIN_TABLES,
    ORIGINS,
    TABLES,
    TEST_ORIGINS,
    TESTS,
    Chunk,
    CodeInfo,
    Table,
    TestOrigin,
    TestRecord,
)
from pytest_scope.trace.schema import FORMAT_NAME, KIND_NAMES, SCHEMA_VERSION, Payload

_MAX_CANDIDATES = 5
_MAX_SUGGESTIONS = 3  # "did you mean": the closest few, on one line
# The largest string or blob read: a source file, a chunk (which inflates to 8 MiB at most).
MAX_VALUE_BYTES = 64 * 1024 * 1024
_MAX_META_CHARS = 65536


@dataclass(frozen=True, slots=True)
class RecordedTest:
    """A recorded attempt of a test as replay shows it: its ``tests`` row (``TestRecord``)
    without the timing, with its id and origin. Its fields are also ``--list``'s JSON."""

    id: int
    nodeid: str
    attempt: int
    outcome: str
    steps: int
    first_step: int
    dropped_steps: int
    failure_step: int | None
    incomplete: str | None
    origin: int | None = None  # the run it was copied from (``schema.ORIGINS_SCHEMA``)


# The columns of ``tests`` a RecordedTest holds, and of ``chunks`` a Chunk holds.
_SHOWN: Final = [field.name for field in fields(RecordedTest) if field.name != "origin"]
_PACKED: Final = CHUNKS.names(keys=False)


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A decoded chunk: the state before ``first_step`` and the events through ``last_step``."""

    seq: int
    first_step: int
    last_step: int
    keyframe: Keyframe
    events: list[Event]


class TraceFile:
    """A run's trace file, opened read-only and checked to be one this version reads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            problem = "is a directory" if self.path.is_dir() else "no such file"
            raise TraceFileError(self.path, f"{problem}; pass a run's .sqlite file")
        self._codes: dict[int, CodeInfo] | None = None
        self._origins: dict[int, dict[str, str]] | None = None
        try:
            # Read-only, never creating anything; a -wal left by a killed writer is read too.
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        except sqlite3.Error as exc:
            raise TraceFileError(self.path, f"cannot open ({exc})") from None
        try:
            self.meta = self._check_format()
        except BaseException:
            self._conn.close()
            raise

    @property
    def run_id(self) -> str:
        return self.meta.get("run_id") or self.path.stem

    def meta_of(self, test: RecordedTest) -> dict[str, str]:
        """The meta of the run ``test`` was recorded in: the file's, or for a test copied
        from another run (an exported baseline), that run's."""
        if test.origin is None:
            return self.meta
        return self.meta | self.origins().get(test.origin, {})

    def run_id_of(self, test: RecordedTest) -> str:
        return self.meta_of(test).get("run_id") or self.run_id

    def origins(self) -> dict[int, dict[str, str]]:
        """The meta of each run the file's tests were copied from, by number (loaded once)."""
        if self._origins is None:
            self._origins = {}
            if self._has_origins:
                numbered = ORIGINS.accepts(["id"])
                for number, text in self._query("SELECT id, meta FROM origins"):
                    self._typed((number,), ORIGINS.name, numbered)
                    self._origins[number] = self._meta(text)
        return self._origins

    def _meta(self, text: object) -> dict[str, str]:
        try:
            meta = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            meta = None
        if not (
            isinstance(meta, dict)
            and all(
                isinstance(value, str) and len(value) <= _MAX_META_CHARS for value in meta.values()
            )
        ):
            raise TraceFileError(self.path, "corrupt trace file (an origin's meta)")
        return meta

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TraceFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_format(self) -> dict[str, str]:
        if self.path.stat().st_size == 0:
            raise TraceFileError(self.path, "empty file, not a pytest-scope trace file")
        try:
            names = [table.name for table in (*TABLES, *ORIGIN_TABLES)]
            marks = ", ".join("?" * len(names))
            kinds = dict(
                self._conn.execute(
                    f"SELECT name, type FROM sqlite_master WHERE name IN ({marks})", names
                ).fetchall()
            )
            if kinds.get("meta", "table") != "table":
                raise sqlite3.OperationalError("no such table: meta")
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such" not in str(exc):
                raise TraceFileError(self.path, f"cannot read ({exc})") from None
            raise TraceFileError(
                self.path, "a SQLite database but not a pytest-scope trace file (no meta)"
            ) from None
        except sqlite3.DatabaseError:
            problem = "not a SQLite database (garbage or truncated)"
            raise TraceFileError(self.path, problem) from None
        except UnicodeDecodeError:
            raise TraceFileError(self.path, "corrupt trace file (text that is not UTF-8)") from None
        if any(kind != "table" for kind in kinds.values()):
            raise TraceFileError(
                self.path, "a SQLite database but not a pytest-scope trace file (views)"
            )
        self._has_origins = all(table.name in kinds for table in ORIGIN_TABLES)
        meta = {str(key): str(value) for key, value in rows}
        if any(len(value) > _MAX_META_CHARS for value in meta.values()):
            raise TraceFileError(self.path, "corrupt trace file (a meta value is too long)")
        if meta.get("format") != FORMAT_NAME:
            raise TraceFileError(
                self.path, "a SQLite database but not a pytest-scope trace file (foreign format)"
            )
        version = meta.get("schema_version", "")
        if not (version.isascii() and version.isdigit()) or len(version) > 9:
            raise TraceFileError(self.path, f"corrupt trace file (schema_version {version!r})")
        if int(version) > SCHEMA_VERSION:
            raise SchemaVersionError(
                self.path,
                f"written by a newer pytest-scope (format {version}); upgrade pytest-scope "
                f"to replay it (this one reads format {SCHEMA_VERSION})",
            )
        if int(version) < SCHEMA_VERSION:
            raise SchemaVersionError(
                self.path,
                f"written by an older pytest-scope (format {version}); this one reads format "
                f"{SCHEMA_VERSION}: record the tests again",
            )
        return meta

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise TraceFileError(self.path, f"corrupt trace file ({exc})") from None
        except UnicodeDecodeError:
            raise TraceFileError(self.path, "corrupt trace file (text that is not UTF-8)") from None

    def _select(
        self, table: Table, names: list[str], where: str = "", params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """The columns ``names`` of ``table``'s rows, each value checked to have its type."""
        rows = self._query(f"SELECT {', '.join(names)} FROM {table.name}{where}", params)
        accepts = table.accepts(names)
        return [self._typed(row, table.name, accepts) for row in rows]

    def _typed(
        self, row: tuple[Any, ...], table_name: str, accepts: tuple[tuple[type, ...], ...]
    ) -> tuple[Any, ...]:
        """``row`` if each value has its column's type (SQLite stores any type anywhere)."""
        for value, expected in zip(row, accepts, strict=True):
            if not isinstance(value, expected) or isinstance(value, bool):
                shown = type(value).__name__
                raise TraceFileError(
                    self.path, f"corrupt trace file ({shown} in a {table_name} row)"
                )
        return row

    def tests(self) -> list[RecordedTest]:
        """Every recorded attempt, in the order they were written."""
        rows = self._select(TESTS, _SHOWN, " ORDER BY id")
        origins: dict[int, int] = {}
        if self._has_origins:
            for row in self._select(TEST_ORIGINS, TEST_ORIGINS.names()):
                origin = TestOrigin(*row)
                origins[origin.test_id] = origin.origin
        tests = [RecordedTest(*row) for row in rows]
        return [replace(test, origin=origins.get(test.id)) for test in tests] if origins else tests

    def record(self, test: RecordedTest) -> TestRecord:
        """The whole ``tests`` row of ``test``, to copy it."""
        names = TESTS.names(keys=False)
        rows = self._select(TESTS, names, " WHERE id = ?", (test.id,))
        if not rows:
            raise TraceFileError(self.path, f"corrupt trace file (test {test.id} is gone)")
        values = dict(zip(names, rows[0], strict=True))
        for name in ("started", "duration"):  # REAL columns may hold a whole number
            values[name] = float(values[name])
        return TestRecord(**values)

    def codes(self) -> dict[int, CodeInfo]:
        """Code objects by number (loaded once: events refer to them constantly)."""
        if self._codes is None:
            rows = self._select(CODES, CODES.names())
            self._codes = {row[0]: CodeInfo(*row[1:]) for row in rows}
        return self._codes

    def code(self, code_no: int) -> CodeInfo:
        code = self.codes().get(code_no)
        if code is None:
            raise TraceFileError(self.path, f"corrupt trace file (unknown code {code_no})")
        return code

    def source(self, filename: str, test: RecordedTest | None = None) -> str | None:
        """The recorded text of a file (as ``test``'s run had it), or None if it was not
        readable when recorded."""
        rows = []
        if test is not None and test.origin is not None and self._has_origins:
            rows = self._query(
                "SELECT text FROM origin_sources WHERE origin = ? AND filename = ?",
                (test.origin, filename),
            )
        rows = rows or self._query("SELECT text FROM sources WHERE filename = ?", (filename,))
        if rows and not isinstance(rows[0][0], str):
            raise TraceFileError(
                self.path, f"corrupt trace file (source of {filename} is not text)"
            )
        return rows[0][0] if rows else None

    def chunks(self, test: RecordedTest) -> Iterator[StoredChunk]:
        """A test's chunks in step order, decoded one at a time."""
        rows = self._query(
            "SELECT seq, first_step, last_step FROM chunks WHERE test_id = ? ORDER BY seq",
            (test.id,),
        )
        for seq, _, _ in rows:
            yield self._load_chunk(test, seq)

    def packed_chunks(self, test: RecordedTest) -> list[Chunk]:
        """A test's chunks as stored, to copy as they are."""
        rows = self._select(CHUNKS, _PACKED, " WHERE test_id = ? ORDER BY seq", (test.id,))
        return [Chunk(*row) for row in rows]

    def chunk_at(self, test: RecordedTest, step: int) -> StoredChunk:
        """The one chunk holding ``step`` (found by SQL, so only it is decoded)."""
        rows = self._query(
            "SELECT seq FROM chunks WHERE test_id = ? AND first_step <= ? AND last_step >= ?"
            " ORDER BY seq LIMIT 1",
            (test.id, step, step),
        )
        if not rows:
            raise NotFoundError(f"step {step} is not recorded for {test.nodeid}")
        return self._load_chunk(test, rows[0][0])

    def _load_chunk(self, test: RecordedTest, seq: int) -> StoredChunk:
        rows = self._select(CHUNKS, _PACKED, " WHERE test_id = ? AND seq = ?", (test.id, seq))
        first_step, last_step, data = rows[0]
        where = f"corrupt chunk {seq} of {test.nodeid}"
        try:
            keyframe, events = unpack_chunk(data)
        except ValueError as exc:
            raise TraceFileError(self.path, f"{where} ({exc})") from None
        problem = _chunk_problem(keyframe, events, first_step, last_step)
        if problem is not None:
            raise TraceFileError(self.path, f"{where} ({problem})")
        return StoredChunk(seq, first_step, last_step, keyframe, events)


def _chunk_problem(
    keyframe: Keyframe, events: list[Event], first_step: int, last_step: int
) -> str | None:
    """What makes a decoded chunk one the recorder could not have written, if anything.

    Checked once here, so that every reader (state, alignment, the viewer, the artifact)
    may unpack events and frames as the schema lays them out."""
    if keyframe.get("step") != first_step - 1 or not events:
        return "keyframe does not match its steps"
    threads, suspended = keyframe.get("threads"), keyframe.get("suspended")
    if not isinstance(threads, list) or not isinstance(suspended, list):
        return "keyframe without threads"
    frames = list(suspended)
    for thread in threads:
        if not (isinstance(thread, list) and len(thread) == 2 and _is_int(thread[0])):
            return "keyframe thread is not [thread, frames]"
        if not isinstance(thread[1], list):
            return "keyframe thread without frames"
        frames.extend(thread[1])
    for frame in frames:
        if not (
            isinstance(frame, list)
            and len(frame) == 4
            and all(_is_int(number) for number in frame[:3])
            and _is_names_map(frame[3])
        ):
            return "keyframe frame is not [frame, code, line, locals]"
    for step, event in enumerate(events, start=first_step):
        if not isinstance(event, list) or len(event) != 7 or event[0] != step:
            return f"step {step} is not an event"
        if not all(_is_int(number) for number in event[1:6]):
            return f"step {step} has a field that is not a number"
        if not 0 <= event[1] < len(KIND_NAMES):
            return f"step {step} has unknown kind {event[1]}"
        payload = event[6]
        if payload is not None and not isinstance(payload, dict):
            return f"step {step} has a payload that is not a map"
        if payload and not _names_in_payload(payload):
            return f"step {step} has a local or watched name that is not a str"
    if first_step + len(events) - 1 != last_step:
        return f"holds steps {first_step} to {first_step + len(events) - 1}, not to {last_step}"
    return None


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_names_map(value: Any) -> bool:
    """A map of names (a frame's locals, the watched values): every key a str."""
    return isinstance(value, dict) and all(type(name) is str for name in value)


def _names_in_payload(payload: dict[Any, Any]) -> bool:
    """Whether the maps of names in an event's payload are keyed by names: its locals,
    its watched values and each other frame's changed locals (``[frame, line, changed,
    deleted]``)."""
    for key in (Payload.LOCALS, Payload.WATCHED):
        if key in payload and not _is_names_map(payload[key]):
            return False
    others = payload.get(Payload.OTHER_FRAMES, [])
    return isinstance(others, list) and all(
        isinstance(other, list) and len(other) == 4 and _is_names_map(other[2]) for other in others
    )


def find_test(
    paths: list[Path],
    test_id: str,
    where: str,
    unreadable: list[TraceFileError] | None = None,
) -> tuple[TraceFile, RecordedTest]:
    """The test ``test_id`` names, in the first of ``paths`` (newest first) that has it.

    ``test_id`` is a node id, its end after a ``::`` or ``/``, or an unambiguous
    substring of one (see ``_best_matches``). Of
    several attempts (reruns) the last is taken. The caller closes the returned file.
    With ``unreadable``, a file that cannot be read is passed over and its error added
    there: one damaged run must not hide the test in the others.
    """
    seen: dict[str, None] = {}  # every node id looked at, for "did you mean"
    for path in paths:
        try:
            trace = TraceFile(path)
            try:
                test = _match(trace, test_id, seen)
            except BaseException:
                trace.close()
                raise
        except TraceFileError as exc:
            if unreadable is None:
                raise
            unreadable.append(exc)
            continue
        if test is not None:
            return trace, test
        trace.close()
    close = _close_matches(test_id, list(seen))
    hint = f"did you mean {_either(close)}?" if close else "list them with --list"
    raise NotFoundError(f"no recorded test matches {test_id!r} in {where}; {hint}")


def _close_matches(test_id: str, nodeids: list[str]) -> list[str]:
    """The node ids a mistyped ``test_id`` most likely meant: close to a whole id, or to the
    name after its last ``::`` (a test's name is what people type)."""
    names: dict[str, list[str]] = {}
    for nodeid in nodeids:
        names.setdefault(nodeid.rpartition("::")[2], []).append(nodeid)
    close = difflib.get_close_matches(test_id, nodeids, n=_MAX_SUGGESTIONS)
    for name in difflib.get_close_matches(test_id, list(names), n=_MAX_SUGGESTIONS):
        close.extend(names[name])
    return list(dict.fromkeys(close))[:_MAX_SUGGESTIONS]


def _either(choices: list[str]) -> str:
    return " or ".join([", ".join(choices[:-1]), choices[-1]] if len(choices) > 1 else choices)


def _match(trace: TraceFile, test_id: str, seen: dict[str, None]) -> RecordedTest | None:
    tests = trace.tests()
    nodeids = list(dict.fromkeys(test.nodeid for test in tests))
    seen.update(dict.fromkeys(nodeids))
    matches = _best_matches(nodeids, test_id)
    if not matches:
        return None
    if len(matches) > 1:
        shown = ", ".join(matches[:_MAX_CANDIDATES])
        hidden = len(matches) - _MAX_CANDIDATES
        more = f" and {hidden} more" if hidden > 0 else ""
        raise NotFoundError(
            f"test id {test_id!r} is ambiguous in run {trace.run_id}: it matches {shown}"
            f"{more}; give more of the node id"
        )
    return [test for test in tests if test.nodeid == matches[0]][-1]


def _best_matches(nodeids: list[str], test_id: str) -> list[str]:
    """The node ids ``test_id`` names, by the closest kind of match any of them makes.

    An exact id, then an id ending in ``test_id`` at a ``::`` or ``/`` boundary, then any
    id holding it: ``test_mod.py::test_pop`` names that test even when
    ``test_mod.py::test_pop_empty`` exists too.
    """
    if test_id in nodeids:
        return [test_id]
    suffixes = [
        nodeid
        for nodeid in nodeids
        if nodeid.endswith(test_id)
        and (test_id.startswith(("::", "/")) or nodeid[: -len(test_id)].endswith(("::", "/")))
    ]
    return suffixes or [nodeid for nodeid in nodeids if test_id in nodeid]
