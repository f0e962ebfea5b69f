"""Writing one run's trace file: the schema, then one transaction per recorded test.

Each test is committed as soon as it ends (WAL, ``synchronous=NORMAL``), so a run killed
mid-way leaves every test written before it readable. ``close`` folds the WAL back into
the database so that the finished file is one self-contained file, fit for a CI artifact.

A full disk or a file size limit (``ulimit -f``) fails the test being written, never the
run: SQLite rolls the transaction back and the writer raises ``TraceFileError``. (The
kernel sends SIGXFSZ to a process that passes its size limit, which would kill it, but
CPython ignores that signal from startup; the write fails with EFBIG instead.)

While a writer is open it holds a lock on ``<file>.lock`` (``scope_dir.lock_path``), so that another
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
from pathlib import Path
from typing import cast

import sqlite_utils

from pytest_scope.errors import TraceFileError
from pytest_scope.trace.paths import one_path
from pytest_scope.trace.records import (
    CHUNKS,
    CODES,
    META,
    ORIGIN_SOURCES,
    ORIGINS,
    SOURCES,
    TEST_ORIGINS,
    TESTS,
    Chunk,
    CodeInfo,
    MetaEntry,
    Origin,
    OriginSource,
    Source,
    TestOrigin,
    TestRecord,
)
from pytest_scope.trace.schema import FORMAT_NAME, ORIGINS_SCHEMA, SCHEMA, SCHEMA_VERSION
from pytest_scope.trace.scope_dir import lock_path

# Rows per INSERT batch: large enough that batching dominates, small enough for SQLite's
# limit on bound parameters (32766 since 3.32; five columns per chunk row).
_BATCH_SIZE = 1000


class TraceWriter:
    """Creates a run's trace file and appends tests to it; one writer per file."""

    def __init__(self, path: Path, meta: Mapping[str, str]) -> None:
        self.path = path
        self._codes: list[dict[str, object]] = []
        self._sources: dict[str, str] = {}
        self._written_sources: set[str] = set()
        self._origin_sources: dict[tuple[int, str], str] = {}
        self._has_origins = False
        self._closed = False
        if path.exists():
            raise TraceFileError(path, "already exists; a trace file is never overwritten")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _hold_lock(lock_path(path))
        except OSError as exc:
            raise TraceFileError(path, f"cannot create it ({exc.strerror})") from None
        try:
            self._create(meta)
        except BaseException:
            os.close(self._lock)
            lock_path(path).unlink(missing_ok=True)
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
                self._db.table(META.name).insert_all(
                    (META.row(MetaEntry(key, value)) for key, value in rows.items()), replace=True
                )

    def add_code(self, code_no: int, qualname: str, filename: str, firstlineno: int) -> None:
        """Remember a code object; it is written with the next test, in that transaction."""
        code = CodeInfo(qualname, one_path(filename), firstlineno)
        self._codes.append(CODES.row(code, id=code_no))

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
            row = ORIGINS.row(Origin(origin, json.dumps(dict(meta))))
            self._db.table(ORIGINS.name).insert(row)

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
                db.table(CODES.name).insert_all(codes, batch_size=_BATCH_SIZE, replace=True)
                db.table(SOURCES.name).insert_all(
                    (SOURCES.row(Source(name, text)) for name, text in sources.items()),
                    batch_size=_BATCH_SIZE,
                    replace=True,
                )
                # An INTEGER PRIMARY KEY: the rowid SQLite just assigned.
                test_id = cast(int, db.table(TESTS.name).insert(TESTS.row(test)).last_pk)
                db.table(CHUNKS.name).insert_all(
                    (
                        CHUNKS.row(chunk, test_id=test_id, seq=seq)
                        for seq, chunk in enumerate(chunks)
                    ),
                    batch_size=_BATCH_SIZE,
                )
                if origin is not None:
                    db.table(TEST_ORIGINS.name).insert(
                        TEST_ORIGINS.row(TestOrigin(test_id, origin))
                    )
                    db.table(ORIGIN_SOURCES.name).insert_all(
                        (
                            ORIGIN_SOURCES.row(OriginSource(number, name, text))
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
                    lock_path(self.path).unlink()
                os.close(self._lock)

    def _errors(self) -> AbstractContextManager[None]:
        return _sqlite_errors(self.path)


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
