"""Reading trace files, and finding runs and tests in a scope directory.

A trace file may come from a CI artifact: it is opened read-only, checked to be ours and
of a format this version reads before anything else, and every SQLite or decoding
problem becomes a ``TraceFileError`` that names the file.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_scope.codec import Event, Keyframe, unpack_chunk
from pytest_scope.errors import NotFoundError, SchemaVersionError, TraceFileError
from pytest_scope.schema import FORMAT_NAME, SCHEMA_VERSION

DEFAULT_SCOPE_DIR = ".scope"
_RUN_TIME = re.compile(r"^\d{8}-\d{6}")  # run ids start with %Y%m%d-%H%M%S
_MAX_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class RecordedTest:
    """One row of the ``tests`` table: a recorded attempt of a test."""

    id: int
    nodeid: str
    attempt: int
    outcome: str
    steps: int
    first_step: int
    dropped_steps: int
    failure_step: int | None
    incomplete: str | None


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What replay shows of a code object."""

    qualname: str
    filename: str
    firstlineno: int


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
        try:
            # Read-only, never creating anything; a -wal left by a killed writer is read too.
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
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
        meta = {str(key): str(value) for key, value in rows}
        if meta.get("format") != FORMAT_NAME:
            raise TraceFileError(
                self.path, "a SQLite database but not a pytest-scope trace file (foreign format)"
            )
        version = meta.get("schema_version", "")
        if not version.isdigit():
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

    def tests(self) -> list[RecordedTest]:
        """Every recorded attempt, in the order they were written."""
        rows = self._query(
            "SELECT id, nodeid, attempt, outcome, steps, first_step, dropped_steps,"
            " failure_step, incomplete FROM tests ORDER BY id"
        )
        return [RecordedTest(*row) for row in rows]

    def codes(self) -> dict[int, CodeInfo]:
        """Code objects by number (loaded once: events refer to them constantly)."""
        if self._codes is None:
            rows = self._query("SELECT id, qualname, filename, firstlineno FROM codes")
            self._codes = {row[0]: CodeInfo(*row[1:]) for row in rows}
        return self._codes

    def code(self, code_no: int) -> CodeInfo:
        code = self.codes().get(code_no)
        if code is None:
            raise TraceFileError(self.path, f"corrupt trace file (unknown code {code_no})")
        return code

    def source(self, filename: str) -> str | None:
        """The recorded text of a file, or None if it was not readable when recorded."""
        rows = self._query("SELECT text FROM sources WHERE filename = ?", (filename,))
        return str(rows[0][0]) if rows else None

    def chunks(self, test: RecordedTest) -> Iterator[StoredChunk]:
        """A test's chunks in step order, decoded one at a time."""
        rows = self._query(
            "SELECT seq, first_step, last_step FROM chunks WHERE test_id = ? ORDER BY seq",
            (test.id,),
        )
        for seq, _, _ in rows:
            yield self._load_chunk(test, seq)

    def packed_chunks(self, test: RecordedTest) -> list[tuple[int, int, bytes]]:
        """A test's chunks as stored, ``(first_step, last_step, data)``, to copy as they are."""
        rows = self._query(
            "SELECT first_step, last_step, data FROM chunks WHERE test_id = ? ORDER BY seq",
            (test.id,),
        )
        if any(not isinstance(row[2], bytes) for row in rows):
            raise TraceFileError(self.path, f"corrupt chunk of {test.nodeid} (not a blob)")
        return [(int(first), int(last), data) for first, last, data in rows]

    def timing(self, test: RecordedTest) -> tuple[float, float]:
        """When the test started (unix time) and how long its body ran."""
        rows = self._query("SELECT started, duration FROM tests WHERE id = ?", (test.id,))
        return (float(rows[0][0]), float(rows[0][1])) if rows else (0.0, 0.0)

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
        rows = self._query(
            "SELECT first_step, last_step, data FROM chunks WHERE test_id = ? AND seq = ?",
            (test.id, seq),
        )
        first_step, last_step, data = rows[0]
        where = f"corrupt chunk {seq} of {test.nodeid}"
        if not isinstance(data, bytes):
            raise TraceFileError(self.path, f"{where} (not a blob)")
        try:
            keyframe, events = unpack_chunk(data)
        except ValueError as exc:
            raise TraceFileError(self.path, f"{where} ({exc})") from None
        if keyframe.get("step") != first_step - 1 or not events:
            raise TraceFileError(self.path, f"{where} (keyframe does not match its steps)")
        return StoredChunk(seq, first_step, last_step, keyframe, events)


class ScopeDir:
    """A scope directory: its runs, newest first, and the tests recorded in them."""

    def __init__(self, path: Path | str = DEFAULT_SCOPE_DIR) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise NotFoundError(
                f"no scope directory at {self.path}; record with `pytest --scope` or pass --dir DIR"
            )

    def runs(self) -> list[Path]:
        """Run files under ``runs/``, newest first."""
        files = [path for path in (self.path / "runs").glob("*.sqlite") if path.is_file()]
        return sorted(files, key=_run_order, reverse=True)

    def run(self, run: str) -> Path:
        """A run by its id (the file's stem) or by the path of its file."""
        candidate = Path(run)
        if candidate.suffix == ".sqlite" and candidate.is_file():
            return candidate
        runs = self.runs()
        for path in runs:
            if path.stem == run:
                return path
        recent = ", ".join(path.stem for path in runs[:_MAX_CANDIDATES]) or "none"
        raise NotFoundError(f"no run {run!r} in {self.path / 'runs'} (newest: {recent})")

    def newest(self) -> Path:
        runs = self.runs()
        if not runs:
            raise NotFoundError(
                f"no runs in {self.path / 'runs'}; record some with `pytest --scope`"
            )
        return runs[0]

    def find_test(self, test_id: str, run: str | None = None) -> tuple[TraceFile, RecordedTest]:
        """The test ``test_id`` names, in ``run`` or in the newest run that has it."""
        if run is not None:
            return find_test([self.run(run)], test_id, where=f"run {run}")
        return find_test(
            [self.newest(), *self.runs()[1:]], test_id, where=f"the runs in {self.path}"
        )


def find_test(paths: list[Path], test_id: str, where: str) -> tuple[TraceFile, RecordedTest]:
    """The test ``test_id`` names, in the first of ``paths`` (newest first) that has it.

    ``test_id`` is a node id or an unambiguous substring of one; an exact match wins. Of
    several attempts (reruns) the last is taken. The caller closes the returned file.
    """
    for path in paths:
        trace = TraceFile(path)
        try:
            test = _match(trace, test_id)
        except BaseException:
            trace.close()
            raise
        if test is not None:
            return trace, test
        trace.close()
    raise NotFoundError(f"no recorded test matches {test_id!r} in {where}; list them with --list")


def _match(trace: TraceFile, test_id: str) -> RecordedTest | None:
    tests = trace.tests()
    nodeids = list(dict.fromkeys(test.nodeid for test in tests))
    if test_id in nodeids:
        chosen = test_id
    else:
        matches = [nodeid for nodeid in nodeids if test_id in nodeid]
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
        chosen = matches[0]
    return [test for test in tests if test.nodeid == chosen][-1]


def _run_order(path: Path) -> tuple[str, float]:
    """Run ids begin with their start time; files named otherwise sort by mtime."""
    mtime = path.stat().st_mtime
    named = _RUN_TIME.match(path.stem)
    started = named.group() if named else time.strftime("%Y%m%d-%H%M%S", time.localtime(mtime))
    return started, mtime
