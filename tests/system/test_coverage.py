"""coverage.py and pytest-cov measure the same lines and branches with ``--scope`` as without.

coverage.py traces with ``sys.settrace`` (its default "ctrace" core) or with
``sys.monitoring`` tool id 1 (``COVERAGE_CORE=sysmon``); pytest-scope records with its own
tool id. Neither may hide a line from the other.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CALC = """
def classify(n):
    if n < 0:
        return "negative"
    if n == 0:
        return "zero"
    return "positive"

def total(values):
    result = 0
    for value in values:
        if value > 0:
            result += value
    return result

def never_called():
    return 1
"""

SUITE = """
import json
import sys

from calc import classify, total

def test_classify():
    assert classify(-1) == "negative"
    assert classify(5) == "positive"

def test_total_fails():
    assert total([1, -2, 3]) == 2

def test_tools():
    tools = {n: sys.monitoring.get_tool(n) for n in range(6)}
    with open("tools.json", "w") as file:
        json.dump(tools, file)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(calc=CALC, test_calc=SUITE)
    return pytester


def _measured(report: dict[str, Any]) -> dict[str, Any]:
    """What coverage measured, without the report's timestamp."""
    return {
        "totals": report["totals"],
        "files": {
            name: {key: data[key] for key in ("executed_lines", "missing_lines", "excluded_lines")}
            | {key: data.get(key) for key in ("executed_branches", "missing_branches")}
            for name, data in report["files"].items()
        },
    }


def _coverage_run(project: pytest.Pytester, branch: bool, *pytest_args: str) -> dict[str, Any]:
    python = sys.executable
    coverage_args = ["--branch"] if branch else []
    result = project.run(
        python, "-m", "coverage", "run", *coverage_args, "--source=calc", "-m", "pytest",
        "-p", "no:cacheprovider", *pytest_args,
    )  # fmt: skip
    result.assert_outcomes(passed=2, failed=1)
    assert project.run(python, "-m", "coverage", "json", "-o", "coverage.json").ret == 0
    measured = _measured(json.loads((project.path / "coverage.json").read_text()))
    (project.path / "coverage.json").unlink()
    return measured


# sys.monitoring measures branches from Python 3.14 on: before, coverage.py would fall back
# from sysmon to ctrace with --branch, and sysmon would go untested.
@pytest.mark.parametrize(("core", "branch"), [("ctrace", True), ("sysmon", False)])
def test_coverage_measures_the_same_with_scope(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str, branch: bool
) -> None:
    monkeypatch.setenv("COVERAGE_CORE", core)
    plain = _coverage_run(project, branch)
    recorded = _coverage_run(project, branch, "--scope")
    assert recorded == plain
    assert plain["files"]["calc.py"]["missing_lines"] == [5, 16]
    tools = json.loads((project.path / "tools.json").read_text())
    assert tools["4"] == "pytest-scope"
    if core == "sysmon":
        assert tools["1"] == "coverage.py"
    (run,) = (project.path / ".scope" / "runs").glob("*.sqlite")
    assert run.stat().st_size > 0


def test_pytest_cov_measures_the_same_with_scope(project: pytest.Pytester) -> None:
    def measure(*args: str) -> dict[str, Any]:
        result = project.runpytest_subprocess(
            "--cov=calc", "--cov-branch", "--cov-report=json:cov.json", "-p", "no:cacheprovider",
            *args,
        )  # fmt: skip
        result.assert_outcomes(passed=2, failed=1)
        return _measured(json.loads((project.path / "cov.json").read_text()))

    plain = measure()
    recorded = measure("--scope")
    assert recorded == plain
    assert plain["files"]["calc.py"]["missing_lines"] == [5, 16]
    assert recorded == measure("--scope", "-n", "2")
