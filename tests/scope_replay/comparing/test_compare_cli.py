"""Comparing recordings from the CLI: fixtures/compare recorded passing, then broken.

Run 1 records the suite as it is, with ``--reruns 1`` (test_flaky fails, then passes);
run 2 records test_price and test_restock with COMPARE_BROKEN=1: test_price's callee
returns another rate, test_restock's loop makes one more round. Steps are read from each
run's own timeline, so every expectation below is an exact step of a real recording.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.paths import FIXTURES
from support.recordings import run_pytest
from support.replaycli import replay_json, run_replay

pytestmark = pytest.mark.slow

FIXTURE = FIXTURES / "compare"
ASSERTION_ERROR = "AssertionError"


@dataclass(frozen=True)
class Runs:
    root: Path
    passing: str
    broken: str
    passing_summary: str


def _pytest(root: Path, *args: str, broken: bool = False) -> subprocess.CompletedProcess[str]:
    return run_pytest(root, *args, env={**os.environ, "COMPARE_BROKEN": "1" if broken else "0"})


def _steps(root: Path, test: str, run: str, kind: str, line: int) -> list[int]:
    """The steps of ``test`` in ``run`` that are a ``kind`` event at ``line``."""
    rows = replay_json(root, test, "--run", run, "--timeline")
    return [row["step"] for row in rows if row["kind"] == kind and row["line"] == line]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("compare")
    shutil.copytree(FIXTURE, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".scope"))
    first = _pytest(root, "--reruns", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    (passing,) = [path.stem for path in (root / ".scope" / "runs").glob("*.sqlite")]
    second = _pytest(root, "-k", "price or restock", broken=True)
    assert second.returncode == 1, second.stdout + second.stderr
    (broken,) = [
        path.stem for path in (root / ".scope" / "runs").glob("*.sqlite") if path.stem != passing
    ]
    return Runs(root, passing, broken, first.stdout)


def test_a_changed_callee_value_is_the_difference_at_the_failure(runs: Runs) -> None:
    state = replay_json(runs.root, "test_price")
    assert state["run"] == runs.broken
    assert state["event"]["kind"] == "exception"
    (assert_line,) = _steps(runs.root, "test_price", runs.passing, "line", 15)
    assert state["diff"] == {
        "against": runs.passing,
        "attempt": 1,
        "step": assert_line,  # the passing run never raised: the assert line, before it ran
        "exact": False,
        "plans": None,
        # From there the broken run raised; the passing run returned.
        "parted": {
            "this": state["diff"]["parted"]["this"] | {"step": state["step"], "kind": "exception"},
            "against": state["diff"]["parted"]["against"]
            | {"step": assert_line + 1, "kind": "return"},
        },
        "changes": [
            {
                "frame": "test_price",
                "depth": 0,
                "path": "charged",
                "change": "changed",
                "this": 80.0,
                "against": 90.0,
            },
            {
                "frame": None,
                "depth": None,
                "path": "(exception)",
                "change": "added",
                "this": {"$type": ASSERTION_ERROR, "attrs": {"args": ["assert 80.0 == 90.0"]}},
                "against": None,
            },
        ],
        "omitted": 0,
        "cut": [],
        "set_aside": [],
    }


def test_a_changed_callee_value_diverges_where_the_callee_returns(runs: Runs) -> None:
    report = replay_json(runs.root, "test_price", "--diverge")
    (returned,) = _steps(runs.root, "test_price", runs.broken, "return", 8)
    assert report["by"] == "value"
    assert report["this"]["step"] == report["against"]["step"] == returned
    assert report["this"]["event"]["function"] == "discount_rate"
    assert report["against"]["run"] == runs.passing
    assert report["changes"] == [
        {
            "frame": "discount_rate",
            "depth": 2,
            "path": "rate",
            "change": "changed",
            "this": 0.2,
            "against": 0.1,
        },
        {
            "frame": None,
            "depth": None,
            "path": "(return value)",
            "change": "changed",
            "this": 0.2,
            "against": 0.1,
        },
    ]


def test_an_extra_loop_round_shifts_the_aligned_step(runs: Runs) -> None:
    (after_loop,) = _steps(runs.root, "test_restock", runs.broken, "line", 22)
    (passing_after_loop,) = _steps(runs.root, "test_restock", runs.passing, "line", 22)
    assert after_loop - passing_after_loop == 4  # line 21, call, return, line 20
    state = replay_json(runs.root, "test_restock", "--step", str(after_loop))
    assert state["diff"]["step"] == passing_after_loop
    assert state["diff"]["exact"] is True
    assert state["diff"]["changes"] == [
        {
            "frame": "test_restock",
            "depth": 0,
            "path": "_",
            "change": "changed",
            "this": 2,
            "against": 1,
        },
        {
            "frame": "test_restock",
            "depth": 0,
            "path": "levels['apple']",
            "change": "changed",
            "this": 3,
            "against": 2,
        },
    ]


def test_an_extra_loop_round_diverges_by_control_flow(runs: Runs) -> None:
    report = replay_json(runs.root, "test_restock", "--diverge")
    third_round = _steps(runs.root, "test_restock", runs.broken, "line", 21)[2]
    (passing_after_loop,) = _steps(runs.root, "test_restock", runs.passing, "line", 22)
    assert report["by"] == "control flow"
    assert report["this"]["step"] == third_round
    assert report["against"]["step"] == passing_after_loop == third_round
    assert report["changes"] == [
        {
            "frame": "test_restock",
            "depth": 0,
            "path": "(line)",
            "change": "changed",
            "this": 21,
            "against": 22,
        },
        {  # the third round has bound the loop variable anew
            "frame": "test_restock",
            "depth": 0,
            "path": "_",
            "change": "changed",
            "this": 2,
            "against": 1,
        },
    ]


def test_the_summary_names_the_flaky_test_and_where_its_attempts_part(runs: Runs) -> None:
    (tries_bound,) = _steps(runs.root, "test_flaky", runs.passing, "line", 29)
    assert (
        f"test_shop.py::test_flaky: attempt 1 failed, attempt 2 passed; they part ways at"
        f" step {tries_bound} by value" in runs.passing_summary
    )
    assert "scope-replay test_shop.py::test_flaky --attempt 1 --diverge" in runs.passing_summary
    assert "replay the failures" not in runs.passing_summary
    report = replay_json(
        runs.root, "test_flaky", "--run", runs.passing, "--attempt", "1", "--diverge"
    )
    assert (report["this"]["attempt"], report["against"]["attempt"]) == (1, 2)
    assert report["this"]["step"] == tries_bound
    # The newest recording passed: --diverge explains the failed attempt before it.
    assert replay_json(runs.root, "test_flaky", "--run", runs.passing, "--diverge") == report
    text = run_replay(runs.root, "test_flaky", "--diverge")
    assert "The runs part ways by value" in text.stdout, text.stdout + text.stderr
    assert "test_flaky: tries" in text.stdout
    assert report["changes"] == [
        {
            "frame": "test_flaky",
            "depth": 0,
            "path": "tries",
            "change": "changed",
            "this": 1,
            "against": 2,
        }
    ]


def test_against_a_named_run_or_none(runs: Runs) -> None:
    named = replay_json(runs.root, "test_price", "--against", runs.passing)
    assert named["diff"]["against"] == runs.passing
    assert replay_json(runs.root, "test_price", "--against", "none")["diff"] is None
    itself = replay_json(runs.root, "test_price", "--against", runs.broken, "--step", "3")
    assert itself["diff"]["step"] == 3
    assert itself["diff"]["changes"] == []


def test_no_passing_recording_is_a_note_not_an_error(runs: Runs) -> None:
    # test_flaky's first attempt in the first run has nothing older to compare with but
    # its own passing rerun; its rerun has nothing at all.
    result = run_replay(runs.root, "test_flaky", "--run", runs.passing, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["diff"] is None
    assert result.stderr.strip() == (
        "scope-replay: note: no passing recording of test_shop.py::test_flaky to compare"
        " with; diff is null"
    )
    text = run_replay(runs.root, "test_flaky", "--run", runs.passing)
    assert "no passing recording of test_shop.py::test_flaky to compare with" in text.stdout


def test_text_views_show_both_sides(runs: Runs) -> None:
    state = run_replay(runs.root, "test_price")
    assert state.returncode == 0, state.stderr
    assert f"Compared with run {runs.passing} (attempt 1)" in state.stdout
    assert "charged" in state.stdout
    assert "80.0" in state.stdout and "90.0" in state.stdout
    diverge = run_replay(runs.root, "test_restock", "--diverge")
    assert diverge.returncode == 0, diverge.stderr
    assert "The runs part ways by control flow" in diverge.stdout
    assert 'restock(levels, "apple")' in diverge.stdout
    assert 'stocked = levels["apple"]' in diverge.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test_price", "--against", "20990101-000000-1"], "no run '20990101-000000-1'"),
        (["test_price", "--against", "missing.sqlite"], "no such file"),
        (["test_flaky", "--run", "{passing}", "--attempt", "2", "--diverge"], "no passing"),
        (["test_restock", "--run", "{passing}", "--diverge"], "no failure to explain"),
        (["test_price", "--diverge", "--against", "none"], "--against none"),
        (["test_price", "--diverge", "--step", "3"], "leave out --step"),
        (["test_price", "--attempt", "5"], "not 5"),
        (["test_price", "--timeline", "--against", "none"], "use it with a step or --diverge"),
    ],
)
def test_bad_comparisons_are_one_line_and_exit_code_2(
    runs: Runs, args: list[str], message: str
) -> None:
    result = run_replay(runs.root, *[arg.format(passing=runs.passing) for arg in args])
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_retention_keeps_the_latest_pass_beyond_the_last_runs(runs: Runs, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(runs.root, root, ignore=shutil.ignore_patterns("__pycache__"))
    for _ in range(2):
        result = _pytest(root, "--scope-keep-runs", "1", "-k", "price", broken=True)
        assert result.returncode == 1
    kept = sorted(path.stem for path in (root / ".scope" / "runs").glob("*.sqlite"))
    assert len(kept) == 2
    assert runs.passing in kept  # test_price's latest pass, two failing runs ago
    assert runs.broken not in kept
    assert "runs kept: 2 (the last 1 at most, and 1 more for tests' latest passes)" in (
        result.stdout
    )
    assert "pruned 1" in result.stdout
    index = json.loads((root / ".scope" / "last-pass.json").read_text())
    assert index["tests"]["test_shop.py::test_price"] == runs.passing
    assert replay_json(root, "test_price")["diff"]["against"] == runs.passing


def test_an_unreadable_older_run_does_not_hide_the_last_pass(runs: Runs, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(runs.root, root, ignore=shutil.ignore_patterns("__pycache__"))
    runs_dir = root / ".scope" / "runs"
    garbage = runs_dir / f"{runs.broken[:15]}-1.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    between = sum(
        (runs_dir / f"{run}.sqlite").stat().st_mtime for run in (runs.passing, runs.broken)
    )
    os.utime(
        garbage, (between / 2, between / 2)
    )  # newer than the passing run, older than the broken one
    assert replay_json(root, "--runs")[1]["run"] == garbage.stem
    state = replay_json(root, "test_price")
    assert state["diff"]["against"] == runs.passing


def test_the_text_timeline_marks_the_failure_and_the_first_divergence(runs: Runs) -> None:
    report = replay_json(runs.root, "test_price", "--diverge")
    state = replay_json(runs.root, "test_price")
    result = run_replay(runs.root, "test_price", "--timeline")
    assert result.returncode == 0, result.stderr
    marked = {
        int(line.split()[0]): line.split("◀ ")[1].strip()
        for line in result.stdout.splitlines()
        if "◀" in line
    }
    assert marked == {
        report["this"]["step"]: f"first divergence from run {runs.passing}",
        state["step"]: "failure",
    }
