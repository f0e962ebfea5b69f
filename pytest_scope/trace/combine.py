"""Combining the trace files of pytest-xdist workers into their run's one trace file.

SQLite wants one writer per file, so each worker records into a file of its own
(``<run_id>-<worker>.sqlite``, as coverage.py keeps a data file per process). When the
session ends, the controller copies their rows into ``<run_id>.sqlite``, tests in the
order they started, and deletes the worker files: a run stays one file, which replay,
retention and the CI artifacts already know how to use. The rows are copied as they are,
chunks included, by SQLite itself; code numbers cannot clash because each worker numbers
its code objects from a base of its own (``code_base``). A worker file that cannot be
combined is left where it is, still replayable on its own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pytest_scope.trace.records import CHUNKS, CODES, SOURCES, TESTS, Table
from pytest_scope.trace.schema import FORMAT_NAME, SCHEMA_VERSION
from pytest_scope.trace.scope_dir import remove_trace_file
from pytest_scope.trace.writer import TraceWriter

# Code numbers a worker may use before reaching the next worker's base.
CODES_PER_WORKER: Final = 2**24


@dataclass(slots=True)
class Combined:
    """What combining did, for the end-of-run summary."""

    parts: list[Path] = field(default_factory=list)  # combined, then deleted
    left: list[tuple[Path, str]] = field(default_factory=list)  # not combined, and why


def code_base(worker_number: int) -> int:
    """The first code number of worker ``worker_number`` (0 for the first worker)."""
    return worker_number * CODES_PER_WORKER


def combine(target: Path, parts: list[Path], meta: Mapping[str, str]) -> Combined:
    """Write ``target`` from the worker files ``parts``; delete each part combined.

    ``target`` appears whole or not at all: it is built under another name (one that
    replay does not list) and renamed when complete.
    """
    building = target.with_name(target.name + ".combining")
    remove_trace_file(building)
    TraceWriter(building, meta).close()
    result = Combined()
    with closing(
        sqlite3.connect(building.resolve().as_uri(), uri=True, isolation_level=None)
    ) as db:
        readable = []
        for part in parts:
            problem = _check(db, part)
            if problem is None:
                readable.append(part)
            else:
                result.left.append((part, problem))
        new_ids = _ids_by_start(db, readable)
        for number, part in enumerate(readable):
            try:
                _copy(db, part, new_ids[number])
            except sqlite3.Error as exc:
                result.left.append((part, f"not combined ({exc})"))
            else:
                result.parts.append(part)
    os.replace(building, target)
    for part in result.parts:
        remove_trace_file(part)
    return result


def _check(db: sqlite3.Connection, part: Path) -> str | None:
    """Why ``part`` cannot be combined, or None: it must be a trace file of this format."""
    try:
        with _attached(db, part):
            meta = dict(db.execute("SELECT key, value FROM part.meta").fetchall())
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"
    if meta.get("format") != FORMAT_NAME or meta.get("schema_version") != str(SCHEMA_VERSION):
        return "not a trace file of this pytest-scope"
    return None


def _ids_by_start(db: sqlite3.Connection, parts: list[Path]) -> list[dict[int, int]]:
    """New test ids for each part's tests, numbering all of them in the order they started."""
    starts: list[tuple[float, int, int]] = []
    for number, part in enumerate(parts):
        with _attached(db, part):
            rows = db.execute("SELECT started, id FROM part.tests").fetchall()
        starts.extend((float(started), number, int(test_id)) for started, test_id in rows)
    new_ids: list[dict[int, int]] = [{} for _ in parts]
    for new_id, (_, number, old_id) in enumerate(sorted(starts), start=1):
        new_ids[number][old_id] = new_id
    return new_ids


def _copy(db: sqlite3.Connection, part: Path, new_ids: dict[int, int]) -> None:
    """Copy one part's rows in one transaction: all of them or none."""
    with _attached(db, part):
        db.execute("BEGIN")
        try:
            db.execute("CREATE TEMP TABLE new_ids (old INTEGER PRIMARY KEY, new INTEGER)")
            db.executemany("INSERT INTO new_ids VALUES (?, ?)", new_ids.items())
            tests = _columns(TESTS, but="id")
            db.execute(
                f"INSERT INTO main.tests (id, {tests}) SELECT new_ids.new, {tests} FROM part.tests"
                " JOIN new_ids ON new_ids.old = part.tests.id"
            )
            chunks = _columns(CHUNKS, but="test_id")
            db.execute(
                f"INSERT INTO main.chunks (test_id, {chunks}) SELECT new_ids.new, {chunks}"
                " FROM part.chunks JOIN new_ids ON new_ids.old = part.chunks.test_id"
            )
            # A clash of code numbers fails the part rather than mixing two codes up.
            codes, sources = _columns(CODES), _columns(SOURCES)
            db.execute(f"INSERT INTO main.codes ({codes}) SELECT {codes} FROM part.codes")
            db.execute(
                f"INSERT OR IGNORE INTO main.sources ({sources}) SELECT {sources} FROM part.sources"
            )
            db.execute("DROP TABLE temp.new_ids")
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise


def _columns(table: Table, but: str = "") -> str:
    """The column list of ``table`` for SQL, without the column ``but``."""
    return ", ".join(name for name in table.names() if name != but)


@contextmanager
def _attached(db: sqlite3.Connection, part: Path) -> Iterator[None]:
    """``part`` attached as the schema ``part`` for the duration of a ``with`` block."""
    db.execute("ATTACH DATABASE ? AS part", (part.resolve().as_uri(),))
    try:
        yield
    finally:
        db.execute("DETACH DATABASE part")
