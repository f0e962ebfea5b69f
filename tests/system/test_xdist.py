"""pytest-xdist: each worker records its part, the controller combines them and reports once."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.replaycli import replay_json

pytestmark = pytest.mark.slow

SUITE = """
import os
import pytest

from calc import double

@pytest.mark.parametrize("n", range(8))
def test_double(n):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert double(n) != 2 * 3, f"{worker} doubled 3"

def test_other():
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert double(1) == 3
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(calc="def double(n):\n    return n * 2\n", test_calc=SUITE)
    return pytester


def _runs(root: Path) -> list[Path]:
    return sorted((root / ".scope" / "runs").glob("*.sqlite"))


def test_every_test_of_every_worker_is_replayable(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-n", "2", "--scope", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, failed=2)
    (run,) = _runs(suite.path)  # the workers' files were combined into one
    listed = replay_json(suite.path, "--list")
    nodeids = {f"test_calc.py::test_double[{n}]" for n in range(8)} | {"test_calc.py::test_other"}
    assert {test["nodeid"] for test in listed["tests"]} == nodeids
    assert listed["run"] == run.stem
    workers = set()
    for nodeid in nodeids:
        state = replay_json(suite.path, nodeid, "--against", "none")
        assert state["test"] == nodeid
        test_frame = state["stack"][0]
        assert test_frame["function"] in {"test_double", "test_other"}
        workers.add(test_frame["locals"]["worker"])
    assert workers == {"gw0", "gw1"}
    failed = replay_json(suite.path, "test_double[3]", "--against", "none")
    assert failed["event"]["kind"] == "exception"
    assert failed["stack"][0]["locals"]["n"] == 3


def test_one_summary_from_the_controller(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-n", "2", "--scope", "-p", "no:cacheprovider")
    output = result.stdout.str()
    assert output.count("pytest-scope") == 1
    result.stdout.fnmatch_lines(
        [
            "*- pytest-scope -*",
            "trace: .scope/runs/*.sqlite (* MB, combined from 2 xdist worker files)",
            "recorded 9 tests, * steps (0 dropped by the 32 MB buffer cap)",
            "recording: * steps/s over * s of recorded test bodies",
            "runs kept: 1 *",
            "heaviest recordings (of 9)",
            "replay the failures:",
        ]
    )
    commands = {line.strip() for line in result.outlines if line.startswith("  scope-replay ")}
    assert commands == {
        "scope-replay 'test_calc.py::test_double[3]'",
        "scope-replay test_calc.py::test_other",
    }


def test_retention_counts_a_combined_run_as_one(suite: pytest.Pytester) -> None:
    suite.runpytest_subprocess("-n", "2", "--scope", "-p", "no:cacheprovider")
    (first,) = _runs(suite.path)
    suite.makepyfile(test_calc=SUITE.replace("== 3", "== 2"))  # test_other passes now
    result = suite.runpytest_subprocess(
        "-n", "2", "--scope", "--scope-keep-runs", "1", "-p", "no:cacheprovider"
    )
    runs = _runs(suite.path)
    # Every test that passed in the first run passed in the second: the first run goes.
    assert first not in runs
    assert len(runs) == 1
    result.stdout.fnmatch_lines(["runs kept: 1 *; pruned 1 (* MB)"])
