"""Retention of the scope directory: the last runs, every test's latest pass, a disk budget."""

from __future__ import annotations

import json
from pathlib import Path

from support.tracebuilder import Recording, write_trace

from pytest_scope.trace.retention import Policy, load_index, prune
from pytest_scope.trace.schema import Kind
from pytest_scope.trace.scope_dir import ScopeDir

RUNS = [f"20250101-00000{second}-1" for second in range(5)]  # oldest first


def _recording() -> Recording:
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(Kind.RETURN, line=11, r=None)
    return rec


def _scope(tmp_path: Path, passes: dict[str, str]) -> Path:
    """Five runs of test_a; it passed only in the runs ``passes`` names (run -> outcome)."""
    scope = tmp_path / ".scope"
    for run in RUNS:
        write_trace(
            scope / "runs" / f"{run}.sqlite",
            {"t.py::test_a": _recording()},
            outcomes={"t.py::test_a": passes.get(run, "failed")},
        )
    return scope


def _kept(scope: Path) -> list[str]:
    return sorted(path.stem for path in (scope / "runs").glob("*.sqlite"))


def test_the_last_runs_and_the_latest_pass_are_kept(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {RUNS[0]: "passed", RUNS[1]: "passed"})
    result = prune(ScopeDir(scope), RUNS[4], [], Policy(keep_runs=2, max_bytes=2**30))
    assert _kept(scope) == [RUNS[1], RUNS[3], RUNS[4]]
    assert result.pruned == [RUNS[2], RUNS[0]]
    assert (result.kept, result.kept_for_passes, result.lost_passes) == (3, 1, 0)
    index = json.loads(ScopeDir(scope).index.read_text())
    assert index == {"version": 1, "tests": {"t.py::test_a": RUNS[1]}}


def test_the_current_runs_passes_update_the_index(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {RUNS[0]: "passed"})
    prune(ScopeDir(scope), RUNS[4], ["t.py::test_a"], Policy(keep_runs=1, max_bytes=2**30))
    assert _kept(scope) == [RUNS[4]]
    assert load_index(ScopeDir(scope)) == {"t.py::test_a": RUNS[4]}


def test_worker_files_left_uncombined_count_as_the_current_run(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {})
    left = scope / "runs" / f"{RUNS[4]}-gw1.sqlite"
    (scope / "runs" / f"{RUNS[3]}.sqlite").rename(left)  # an xdist worker's file
    result = prune(ScopeDir(scope), RUNS[4], [], Policy(keep_runs=1, max_bytes=2**30))
    assert _kept(scope) == [RUNS[4], left.stem]
    assert result.kept == 1


def test_over_budget_the_oldest_go_first_and_latest_passes_last(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {RUNS[0]: "passed"})
    size = (scope / "runs" / f"{RUNS[0]}.sqlite").stat().st_size
    result = prune(ScopeDir(scope), RUNS[4], [], Policy(keep_runs=5, max_bytes=3 * size))
    assert _kept(scope) == [RUNS[0], RUNS[3], RUNS[4]]
    assert result.pruned == [RUNS[1], RUNS[2]]
    result = prune(ScopeDir(scope), RUNS[4], [], Policy(keep_runs=5, max_bytes=size))
    assert _kept(scope) == [RUNS[4]]
    assert result.lost_passes == 1
    assert load_index(ScopeDir(scope)) == {}


def test_a_junk_index_is_rebuilt_from_the_runs(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {RUNS[0]: "passed", RUNS[2]: "passed"})
    ScopeDir(scope).index.write_text("{not json")
    assert load_index(ScopeDir(scope)) == {"t.py::test_a": RUNS[2]}
    ScopeDir(scope).index.write_text(json.dumps({"version": 99, "tests": {"x": "y"}}))
    assert load_index(ScopeDir(scope)) == {"t.py::test_a": RUNS[2]}


def test_files_not_named_as_runs_are_left_alone(tmp_path: Path) -> None:
    scope = _scope(tmp_path, {})
    artifact = write_trace(scope / "runs" / "from-ci.sqlite", {"t.py::test_a": _recording()})
    prune(ScopeDir(scope), RUNS[4], [], Policy(keep_runs=1, max_bytes=1))
    assert artifact.exists()
    assert _kept(scope) == [RUNS[4], "from-ci"]
