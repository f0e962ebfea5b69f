"""Writing one run's trace file: the schema, then one transaction per recorded test.

Each test is committed as soon as it ends (WAL, ``synchronous=NORMAL``), so a run killed
mid-way leaves every test written before it readable. ``close`` folds the WAL back into
the database so that the finished file is one self-contained file, fit for a CI artifact.

A full disk or a file size limit (``ulimit -f``) fails the test being written, never the
run: SQLite rolls the transaction back and the writer raises ``TraceFileError``. (The
kernel sends SIGXFSZ to a process that passes its size limit, which would kill it, but
CPython ignores that signal from startup; the write fails with EFBIG instead.)

While a writer is open it holds a lock on ``<file>.lock`` (``run_lock``), so that another
pytest process pruning the same scope directory leaves this run alone; the lock goes with
the process, however it ends, so a killed run's file is pruned like any other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from pytest_scope.errors import TraceFileError
from pytest_scope.trace.paths import one_path
from pytest_scope.trace.schema import FORMAT_NAME, ORIGINS_SCHEMA, SCHEMA, SCHEMA_VERSION

# Rows per INSERT batch: large enough that batching dominates, small enough for SQLite's
# limit on bound parameters (32766 since 3.32; five columns per chunk row).
_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One recorded attempt of a test: the ``tests`` row, without its id."""

    __test__ = False  # not a pytest test class, whatever its name says

    nodeid: str
    attempt: int
    outcome: str
    started: float
    duration: float
    steps: int
    first_step: int
    dropped_steps: int
    failure_step: int | None
    incomplete: str | None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A packed chunk (``codec.seal_chunk``) and the steps it holds."""

    first_step: int
    last_step: int
    data: bytes


class TraceWriter:
    """Creates a run's trace file and appends tests to it; one writer per file."""

    def __init__(self, path: Path, meta: Mapping[str, str]) -> None:
        self.path = path
        self._codes: list[dict[str, Any]] = []
        self._sources: dict[str, str] = {}
        self._written_sources: set[str] = set()
        self._origin_sources: dict[tuple[int, str], str] = {}
        self._has_origins = False
        self._closed = False
        if path.exists():
            raise TraceFileError(path, "already exists; a trace file is never overwritten")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _hold_lock(run_lock(path))
        except OSError as exc:
            raise TraceFileError(path, f"cannot create it ({exc.strerror})") from None
        try:
            self._create(meta)
        except BaseException:
            os.close(self._lock)
            run_lock(path).unlink(missing_ok=True)
            raise

    def _create(self, meta: Mapping[str, str]) -> None:
        path = self.path
        with self._errors():
            # No sqlite-utils plugins: they could run arbitrary code in every test run.
            self._db = sqlite_utils.Database(path, execute_plugins=False)
            self._db.enable_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version={int(SCHEMA_VERSION)}")
            rows = {**meta, "format": FORMAT_NAME, "schema_version": str(SCHEMA_VERSION)}
            with self._db.atomic():
                self._db.table("meta").insert_all(
                    ({"key": key, "value": value} for key, value in rows.items()), replace=True
                )

    def add_code(self, code_no: int, qualname: str, filename: str, firstlineno: int) -> None:
        """Remember a code object; it is written with the next test, in that transaction."""
        self._codes.append(
            {
                "id": code_no,
                "qualname": qualname,
                "filename": one_path(filename),
                "firstlineno": firstlineno,
            }
        )

    def add_source(self, filename: str, text: str, origin: int | None = None) -> None:
        """Remember a file's text, so replay needs nothing but the trace file; with
        ``origin``, the text that run had where it differs from the file's."""
        filename = one_path(filename)
        if origin is not None:
            self._origin_sources[origin, filename] = text
        elif filename not in self._written_sources:
            self._sources[filename] = text

    def add_origin(self, origin: int, meta: Mapping[str, str]) -> None:
        """Name a run that tests are copied from (``schema.ORIGINS_SCHEMA``)."""
        with self._errors(), self._db.atomic():
            if not self._has_origins:
                self._db.executescript(ORIGINS_SCHEMA)
                self._has_origins = True
            self._db.table("origins").insert({"id": origin, "meta": json.dumps(dict(meta))})

    def write_test(
        self, test: TestRecord, chunks: Sequence[Chunk], origin: int | None = None
    ) -> int:
        """Commit a test with its chunks and the codes and sources pending; its id.
        ``origin``: the run it was copied from (``add_origin``)."""
        if self._closed:
            raise TraceFileError(self.path, "already closed")
        codes, sources = self._codes, self._sources
        origin_sources, self._origin_sources = self._origin_sources, {}
        self._codes, self._sources = [], {}
        try:
            with self._errors(), self._db.atomic():
                db = self._db
                db.table("codes").insert_all(codes, batch_size=_BATCH_SIZE, replace=True)
                db.table("sources").insert_all(
                    ({"filename": name, "text": text} for name, text in sources.items()),
                    batch_size=_BATCH_SIZE,
                    replace=True,
                )
                # An INTEGER PRIMARY KEY: the rowid SQLite just assigned.
                test_id = cast(int, db.table("tests").insert(asdict(test)).last_pk)
                db.table("chunks").insert_all(
                    (
                        {
                            "test_id": test_id,
                            "seq": seq,
                            "first_step": chunk.first_step,
                            "last_step": chunk.last_step,
                            "data": chunk.data,
                        }
                        for seq, chunk in enumerate(chunks)
                    ),
                    batch_size=_BATCH_SIZE,
                )
                if origin is not None:
                    db.table("test_origins").insert({"test_id": test_id, "origin": origin})
                    db.table("origin_sources").insert_all(
                        (
                            {"origin": number, "filename": name, "text": text}
                            for (number, name), text in origin_sources.items()
                        ),
                        replace=True,
                    )
        except BaseException:
            # Rolled back: what was pending is still pending for the next test.
            self._codes = codes + self._codes
            self._sources = {**sources, **self._sources}
            self._origin_sources = {**origin_sources, **self._origin_sources}
            raise
        self._written_sources.update(sources)
        return test_id

    def close(self) -> None:
        """Fold the WAL into the database and leave one self-contained file."""
        if self._closed:
            return
        self._closed = True
        with self._errors():
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.disable_wal()
            finally:
                self._db.close()
                with contextlib.suppress(OSError):
                    run_lock(self.path).unlink()
                os.close(self._lock)

    def _errors(self) -> AbstractContextManager[None]:
        return _sqlite_errors(self.path)


def run_lock(path: Path) -> Path:
    """The file a trace file's writer holds locked while it writes."""
    return path.with_name(path.name + ".lock")


def remove_trace_file(path: Path) -> None:
    """Delete a trace file and what SQLite and its writer may have left beside it."""
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def _hold_lock(lock: Path) -> int:
    """Lock a new file at ``lock`` before it appears there: no one sees it unlocked."""
    draft = lock.with_name(f"{lock.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(draft, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(draft, lock)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Every ``sqlite3.Error`` becomes a ``TraceFileError`` naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        raise TraceFileError(path, f"cannot write ({exc})") from exc
