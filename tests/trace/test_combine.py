"""Combining xdist workers' trace files into the run's one file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from support.counter_chunks import counter_chunk, failed_record

from pytest_scope.trace.combine import code_base, combine
from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.scope_dir import ScopeDir
from pytest_scope.trace.writer import TraceWriter

META = {"run_id": "20260101-000000-1"}


def _worker_file(path: Path, number: int, tests: list[tuple[str, float]]) -> Path:
    writer = TraceWriter(path, {"run_id": path.stem})
    writer.add_code(code_base(number) + 1, f"test_{number}", "t.py", 1)
    writer.add_source("t.py", "def test_a():\n    pass\n")
    for nodeid, started in tests:
        writer.write_test(replace(failed_record(nodeid), started=started), [counter_chunk(1, 2)])
    writer.close()
    return path


def test_tests_of_every_worker_in_the_order_they_started(tmp_path: Path) -> None:
    scope, run = ScopeDir(tmp_path), "20260101-000000-1"
    parts = [
        _worker_file(scope.worker_path(run, "gw0"), 0, [("t::a", 1.0), ("t::c", 3.0)]),
        _worker_file(scope.worker_path(run, "gw1"), 1, [("t::b", 2.0), ("t::d", 4.0)]),
    ]
    assert scope.worker_files(run) == parts
    target = scope.run_path(run)
    result = combine(target, parts, META)
    assert result.parts == parts
    assert result.left == []
    assert [path.name for path in scope.runs_dir.iterdir()] == [target.name]
    with TraceFile(target) as trace:
        assert trace.run_id == "20260101-000000-1"
        assert [test.nodeid for test in trace.tests()] == ["t::a", "t::b", "t::c", "t::d"]
        assert {code.qualname for code in trace.codes().values()} == {"test_0", "test_1"}
        assert all(len(list(trace.chunks(test))) == 1 for test in trace.tests())


def test_a_part_that_cannot_be_combined_is_left_and_said_why(tmp_path: Path) -> None:
    good = _worker_file(tmp_path / "r-gw0.sqlite", 0, [("t::a", 1.0)])
    clash = _worker_file(tmp_path / "r-gw1.sqlite", 0, [("t::b", 2.0)])  # same code numbers
    garbage = tmp_path / "r-gw2.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    result = combine(tmp_path / "r.sqlite", [good, clash, garbage], META)
    assert result.parts == [good]
    assert [(path, problem.split(" (")[0]) for path, problem in result.left] == [
        (garbage, "unreadable"),
        (clash, "not combined"),
    ]
    assert clash.exists()
    assert garbage.exists()
    with closing(sqlite3.connect(tmp_path / "r.sqlite")) as db:
        assert db.execute("SELECT nodeid FROM tests").fetchall() == [("t::a",)]
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone() == (1,)
