"""The trace file writer: the file it leaves, its transactions, and surviving a kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.counter_chunks import counter_chunk, failed_record
from support.paths import REPO, TESTS
from support.tracebuilder import close_traces, open_trace

from pytest_scope.errors import TraceFileError
from pytest_scope.trace.records import Chunk, TestRecord
from pytest_scope.trace.schema import FORMAT_NAME, SCHEMA_VERSION
from pytest_scope.trace.writer import TraceWriter
from replay.reading.state import state_at


@pytest.fixture(autouse=True)
def _close_traces() -> Iterator[None]:
    yield
    close_traces()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_closed_file_is_one_self_contained_file(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "deep" / "r.sqlite"
    writer = TraceWriter(path, {"run_id": "r1", "python": "3.13"})
    writer.add_code(1, "test_a", "t.py", 1)
    writer.add_source("t.py", "def test_a():\n    pass\n")
    assert writer.write_test(failed_record(), [counter_chunk(1, 2)]) == 1
    writer.close()
    writer.close()  # idempotent
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.sqlite"]
    assert _rows(path, "PRAGMA journal_mode") == [("delete",)]
    assert _rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert dict(_rows(path, "SELECT key, value FROM meta")) == {
        "run_id": "r1", "python": "3.13", "format": FORMAT_NAME,
        "schema_version": str(SCHEMA_VERSION),
    }  # fmt: skip
    assert _rows(path, "SELECT * FROM codes") == [(1, "test_a", "t.py", 1)]
    assert _rows(path, "SELECT nodeid, outcome, steps, failure_step FROM tests") == [
        ("t.py::test_a", "failed", 2, 2)
    ]
    with pytest.raises(TraceFileError, match="already closed"):
        writer.write_test(failed_record(), [])


def test_codes_and_sources_go_with_the_next_test_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    writer = TraceWriter(path, {})
    writer.add_code(1, "test_a", "t.py", 1)
    writer.add_source("t.py", "one")
    writer.write_test(failed_record(), [counter_chunk(1, 2)])
    writer.add_code(2, "test_b", "t.py", 5)
    writer.add_source("t.py", "again")  # already written: ignored
    assert (
        writer.write_test(
            failed_record("t.py::test_b", 3), [counter_chunk(1, 2), counter_chunk(3, 3)]
        )
        == 2
    )
    writer.close()
    assert _rows(path, "SELECT id FROM codes ORDER BY id") == [(1,), (2,)]
    assert _rows(path, "SELECT filename, text FROM sources") == [("t.py", "one")]
    assert _rows(path, "SELECT test_id, seq, first_step, last_step FROM chunks") == [
        (1, 0, 1, 2), (2, 0, 1, 2), (2, 1, 3, 3),
    ]  # fmt: skip


def test_a_failed_write_keeps_pending_codes_for_the_next_test(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    writer = TraceWriter(path, {})
    writer.add_code(1, "test_a", "t.py", 1)
    bad = TestRecord("t.py::x", 1, "failed", 0.0, 0.0, 1, 1, 0, None, None)
    with pytest.raises(TraceFileError, match=r"r\.sqlite: cannot write"):
        writer.write_test(bad, [counter_chunk(1, 1), Chunk(1, 1, None)])  # type: ignore[arg-type]
    assert _rows(path, "SELECT count(*) FROM tests") == [(0,)], "rolled back"
    writer.write_test(failed_record(), [counter_chunk(1, 2)])
    writer.close()
    assert _rows(path, "SELECT id FROM codes") == [(1,)]


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    path.write_text("precious")
    with pytest.raises(TraceFileError, match="already exists"):
        TraceWriter(path, {})
    assert path.read_text() == "precious"


def test_sqlite_errors_name_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TraceFileError, match="file"):
        TraceWriter(blocker / "r.sqlite", {})


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from support.counter_chunks import counter_chunk, failed_record
from pytest_scope.trace.writer import TraceWriter
writer = TraceWriter(Path(sys.argv[1]), {"run_id": "killed"})
writer.add_code(1, "test_a", "t.py", 1)
writer.write_test(failed_record(steps=3), [counter_chunk(1, 2), counter_chunk(3, 3)])
if sys.argv[4] == "exit":
    os._exit(0)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
@pytest.mark.parametrize("death", ["exit", "sigkill"])
def test_a_killed_writer_leaves_its_tests_readable(tmp_path: Path, death: str) -> None:
    path = tmp_path / "r.sqlite"
    run = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(REPO), str(TESTS), death],
        capture_output=True, text=True,
    )  # fmt: skip
    expected = 0 if death == "exit" else -signal.SIGKILL
    assert run.returncode == expected, run.stderr
    assert (tmp_path / "r.sqlite-wal").exists(), "the test is in the WAL, not yet checkpointed"
    trace = open_trace(path)
    (test,) = trace.tests()
    assert (test.nodeid, test.steps) == ("t.py::test_a", 3)
    assert state_at(trace, test, 3).stack[-1]["locals"] == {"i": 3}
    assert trace.meta["run_id"] == "killed"


@pytest.mark.slow
def test_the_reader_does_not_change_a_killed_writers_file(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(REPO), str(TESTS), "exit"],
        check=True,
    )
    before = path.read_bytes()
    trace = open_trace(path)
    trace.tests()
    trace.close()
    assert path.read_bytes() == before
    assert os.path.exists(str(path) + "-wal")
