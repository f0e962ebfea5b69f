"""``--export-baseline`` merges the latest passes of several runs into one trace file:
each test keeps its own code (code numbers clash between runs), its run's provenance, and
the newest pass still wins against runs kept elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.replaycli import replay_json, run_replay

from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.scope_dir import ScopeDir
from replay.comparing.last_pass import baseline_runs, last_pass, newest_first

pytestmark = pytest.mark.slow

SUITE = """
import os

def helper_a(values):
    return sorted(values)

def helper_b(values):
    return list(reversed(values))

def test_a():
    assert helper_a([2, 1]) == [1, 2] or os.environ.get("BREAK_A")
    assert not os.environ.get("BREAK_A")

def test_b():
    assert helper_b([2, 1]) == [1, 2]
"""


def _run(root: Path, scope_dir: str, test: str, *, broken: bool = False) -> Path:
    """Record one test into ``scope_dir`` in a run of a second of its own; its file."""
    started = time.strftime("%Y%m%d-%H%M%S")
    while time.strftime("%Y%m%d-%H%M%S") == started:  # run ids are ordered by the second
        time.sleep(0.05)
    env = {"BREAK_A": "1"} if broken else {}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope"),
            f"--scope-dir={scope_dir}",
            f"test_suite.py::{test}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "BREAK_A"}, **env},
    )
    assert result.returncode == (1 if broken else 0), result.stdout + result.stderr
    return ScopeDir(root / scope_dir).newest()


def test_one_file_keeps_each_runs_code_and_the_newest_pass_wins(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    run_a = _run(tmp_path, "exported", "test_a")  # code 1: test_a, 2: helper_a
    local_a = _run(tmp_path, "local", "test_a")  # newer than run_a, older than run_b
    run_b = _run(tmp_path, "exported", "test_b")  # code 1: test_b, 2: helper_b
    exported = run_replay(tmp_path, "--export-baseline", "cache", "--dir", "exported")
    assert exported.returncode == 0, exported.stderr
    (merged,) = (tmp_path / "cache" / "runs").iterdir()
    assert merged.name == run_b.name
    assert "2 passing recording(s)" in exported.stdout

    for test, helper, run in (("test_a", "helper_a", run_a), ("test_b", "helper_b", run_b)):
        timeline = replay_json(tmp_path, test, "--timeline", "--dir", "cache")
        assert {row["function"] for row in timeline} == {test, helper}
        state = replay_json(tmp_path, test, "--dir", "cache", "--against", "none")
        assert state["run"] == run.stem

    # test_a fails in a later local run: its last pass is the local one, newer than the
    # baseline's (from run_a), although the baseline's file orders as run_b.
    failed = _run(tmp_path, "local", "test_a", broken=True)
    runs = newest_first(
        [*ScopeDir(tmp_path / "local").runs(), *baseline_runs([tmp_path / "cache"])]
    )
    with TraceFile(failed) as trace:
        shown = trace.tests()[-1]
    found = last_pass(runs, failed, shown)
    assert found is not None
    with found[0] as trace:
        assert trace.run_id_of(found[1]) == local_a.stem
    # Without the local pass, the baseline's is found, named by its own run.
    (tmp_path / "local" / "runs" / local_a.name).unlink()
    runs = newest_first(
        [*ScopeDir(tmp_path / "local").runs(), *baseline_runs([tmp_path / "cache"])]
    )
    found = last_pass(runs, failed, shown)
    assert found is not None
    with found[0] as trace:
        assert trace.path.name == merged.name
        assert trace.run_id_of(found[1]) == run_a.stem
