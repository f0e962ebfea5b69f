"""Opening trace files (and refusing what is not one), and finding runs and tests."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.tracebuilder import Recording, close_traces, open_trace, write_trace

from pytest_scope.errors import NotFoundError, SchemaVersionError, TraceFileError
from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.schema import Kind
from pytest_scope.trace.scope_dir import ScopeDir


@pytest.fixture(autouse=True)
def _close_traces() -> Iterator[None]:
    yield
    close_traces()


def _recording(steps: int = 3, per_chunk: int | None = None) -> Recording:
    rec = Recording(per_chunk)
    rec.event(Kind.CALL, line=10)
    for line in range(11, 10 + steps):
        rec.event(Kind.LINE, line=line, l={"i": line})
    return rec


def _run(directory: Path, run_id: str, *nodeids: str) -> Path:
    path = directory / "runs" / f"{run_id}.sqlite"
    return write_trace(path, {nodeid: _recording() for nodeid in nodeids})


def test_tests_codes_sources_and_meta(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "r.sqlite", {"t.py::a": _recording(), "t.py::b": _recording(5)})
    trace = open_trace(path)
    a, b = trace.tests()
    assert (a.id, a.nodeid, a.attempt, a.outcome, a.steps) == (1, "t.py::a", 1, "passed", 3)
    assert (b.first_step, b.dropped_steps, b.failure_step, b.incomplete) == (1, 0, None, None)
    assert trace.codes()[2].qualname == "helper"
    assert trace.source(
        "sample.py",
    ).startswith("# sample line 1\n")  # type: ignore[union-attr]
    assert trace.source("elsewhere.py") is None
    assert trace.meta["run_id"] == "r"
    assert trace.run_id == "r"


def test_only_the_chunk_holding_a_step_is_found(tmp_path: Path) -> None:
    trace = open_trace(write_trace(tmp_path / "r.sqlite", {"t.py::a": _recording(10, 3)}))
    (test,) = trace.tests()
    assert [(c.first_step, c.last_step) for c in trace.chunks(test)] == [
        (1, 3), (4, 6), (7, 9), (10, 10),
    ]  # fmt: skip
    assert trace.chunk_at(test, 8).seq == 2
    assert trace.chunk_at(test, 8).keyframe["step"] == 6
    with pytest.raises(NotFoundError):
        trace.chunk_at(test, 11)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"this is not a database at all" * 100, "not a SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "not a SQLite database"),
    ],
)
def test_garbage_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "r.sqlite"
    path.write_bytes(content)
    with pytest.raises(TraceFileError, match=rf"^{path}: {message}") as info:
        TraceFile(path)
    assert not isinstance(info.value, SchemaVersionError)


def test_a_missing_file_and_a_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match="no such file"):
        TraceFile(tmp_path / "nope.sqlite")
    with pytest.raises(TraceFileError, match="is a directory"):
        TraceFile(tmp_path)
    assert not (tmp_path / "nope.sqlite").exists(), "read-only: nothing created"


def _sqlite(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def test_foreign_sqlite_files_are_refused(tmp_path: Path) -> None:
    no_meta = _sqlite(tmp_path / "a.sqlite", "CREATE TABLE coverage (x)")
    with pytest.raises(TraceFileError, match=r"not a pytest-scope trace file .no meta"):
        TraceFile(no_meta)
    other_meta = _sqlite(
        tmp_path / "b.sqlite",
        "CREATE TABLE meta (key, value)",
        "INSERT INTO meta VALUES ('format', 'something-else')",
    )
    with pytest.raises(TraceFileError, match=r"not a pytest-scope trace file .foreign format"):
        TraceFile(other_meta)


def _with_version(tmp_path: Path, version: str) -> Path:
    path = write_trace(tmp_path / f"v{version}.sqlite", {"t.py::a": _recording()})
    return _sqlite(path, f"UPDATE meta SET value = '{version}' WHERE key = 'schema_version'")


def test_a_newer_format_says_to_upgrade(tmp_path: Path) -> None:
    with pytest.raises(
        SchemaVersionError,
        match=r"written by a newer pytest-scope \(format 4\); upgrade .*reads format 3\)$",
    ):
        TraceFile(_with_version(tmp_path, "4"))


@pytest.mark.parametrize("version", ["1", "2"])  # 2: entries that do not name containers
def test_an_older_format_is_refused_in_one_line(tmp_path: Path, version: str) -> None:
    with pytest.raises(SchemaVersionError) as raised:
        TraceFile(_with_version(tmp_path, version))
    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith(
        f"written by an older pytest-scope (format {version}); this one reads format 3:"
        " record the tests again"
    )


def test_a_broken_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match=r"corrupt trace file .schema_version 'x'"):
        TraceFile(_with_version(tmp_path, "x"))


def test_a_corrupt_chunk_names_the_file_and_test(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "r.sqlite", {"t.py::a": _recording()})
    _sqlite(path, "UPDATE chunks SET data = x'00ff00'")
    trace = open_trace(path)
    (test,) = trace.tests()
    with pytest.raises(
        TraceFileError, match=r"r\.sqlite: corrupt chunk 0 of t\.py::a \(undecodable"
    ):
        trace.chunk_at(test, 1)


def test_a_missing_table_is_a_corrupt_file(tmp_path: Path) -> None:
    path = _sqlite(
        write_trace(tmp_path / "r.sqlite", {"t.py::a": _recording()}), "DROP TABLE chunks"
    )
    trace = open_trace(path)
    (test,) = trace.tests()
    with pytest.raises(TraceFileError, match=r"corrupt trace file .no such table: chunks"):
        trace.chunk_at(test, 1)


def test_runs_newest_first(tmp_path: Path) -> None:
    old = _run(tmp_path, "20250101-120000-7", "t.py::a")
    new = _run(tmp_path, "20250102-090000-3", "t.py::a")
    odd = _run(tmp_path, "custom-name", "t.py::a")
    os.utime(odd, (0, 0))  # named otherwise: its mtime (1970) places it
    (tmp_path / "runs" / "notes.txt").write_text("")
    assert ScopeDir(tmp_path).runs() == [new, old, odd]
    assert ScopeDir(tmp_path).run("20250101-120000-7") == old
    assert ScopeDir(tmp_path).run(str(odd)) == odd
    with pytest.raises(NotFoundError, match=r"no run 'nope' .*newest: 20250102-090000-3"):
        ScopeDir(tmp_path).run("nope")
    with pytest.raises(NotFoundError, match=r"missing\.sqlite: no such file"):
        ScopeDir(tmp_path).run("missing.sqlite")


def test_missing_and_empty_scope_directories(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no scope directory at .*pytest --scope"):
        ScopeDir.existing(tmp_path / "nowhere")
    with pytest.raises(NotFoundError, match="no runs in"):
        ScopeDir(tmp_path).find_test("x")


def test_finding_a_test(tmp_path: Path) -> None:
    _run(tmp_path, "20250101-120000-1", "t.py::test_a", "t.py::test_only_old")
    _run(tmp_path, "20250102-120000-1", "t.py::test_a", "t.py::test_ab", "t.py::test_b[1]")
    scope = ScopeDir(tmp_path)

    def found(test_id: str, run: str | None = None) -> tuple[str, str]:
        trace, test = scope.find_test(test_id, run)
        trace.close()
        return trace.run_id, test.nodeid

    assert found("t.py::test_a") == ("20250102-120000-1", "t.py::test_a"), "exact match wins"
    assert found("test_b[1") == ("20250102-120000-1", "t.py::test_b[1]")
    assert found("only_old") == ("20250101-120000-1", "t.py::test_only_old")
    assert found("t.py::test_a", "20250101-120000-1") == ("20250101-120000-1", "t.py::test_a")
    assert found("test_a") == ("20250102-120000-1", "t.py::test_a"), "an id's end wins"
    with pytest.raises(NotFoundError, match=r"ambiguous .* matches t\.py::test_a, t\.py::test_ab"):
        found("est_a")
    with pytest.raises(NotFoundError, match="no recorded test matches 'zzz'"):
        found("zzz")


def test_an_id_ending_on_a_boundary_wins_over_a_substring(tmp_path: Path) -> None:
    nodeids = ["tests/test_sl.py::test_pop", "tests/test_sl.py::test_pop_indexerror1"]
    _run(tmp_path, "20250101-120000-1", *nodeids, "other/test_sl.py::test_pop")
    scope = ScopeDir(tmp_path)
    trace, test = scope.find_test("tests/test_sl.py::test_pop")
    trace.close()
    assert test.nodeid == "tests/test_sl.py::test_pop"
    trace, test = scope.find_test("test_sl.py::test_pop_indexerror1")
    trace.close()
    assert test.nodeid == "tests/test_sl.py::test_pop_indexerror1"
    with pytest.raises(NotFoundError, match=r"ambiguous .*tests/test_sl\.py::test_pop, other/"):
        scope.find_test("test_sl.py::test_pop")  # a boundary in two files: still ambiguous
    with pytest.raises(NotFoundError, match="no recorded test matches"):
        scope.find_test("st_pop_x")


def test_ambiguity_lists_five_candidates(tmp_path: Path) -> None:
    _run(tmp_path, "20250101-120000-1", *[f"t.py::test_{n}" for n in range(8)])
    with pytest.raises(NotFoundError) as info:
        ScopeDir(tmp_path).find_test("test_")
    assert "t.py::test_4 and 3 more" in str(info.value)
    assert "t.py::test_5" not in str(info.value)
