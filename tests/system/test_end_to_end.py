"""Record a suite with ``pytest --scope``, then replay it with ``scope-replay`` as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.replaycli import replay_json, run_replay

pytestmark = pytest.mark.slow

PROJECT = """
class Ledger:
    def __init__(self):
        self.entries = []

    def post(self, amount):
        self.entries.append(amount)
        return sum(self.entries)


def apply_all(ledger, amounts):
    for amount in amounts:
        ledger.post(amount)
    return ledger


def evens(limit):
    for number in range(limit):
        if number % 2 == 0:
            yield number


def fail_deep(items):
    lookup = dict(items)
    return lookup["missing"]


def check(ledger):
    try:
        assert ledger.entries == [1], "unbalanced"
    except AssertionError:
        print("state:", ledger.entries)
        raise
"""

SUITE = """
from ledger import Ledger, apply_all, check, evens, fail_deep

def test_balance_is_wrong():
    ledger = Ledger()
    history = [5, 7]
    apply_all(ledger, history)
    history.sort(reverse=True)
    total = sum(ledger.entries)
    assert total == 13

def test_generator_passes():
    seen = []
    for number in evens(5):
        seen.append(number)
    assert seen == [0, 2, 4]

def test_error_in_project_code():
    fail_deep([("a", 1)])

def test_reraised_by_a_handler():
    check(apply_all(Ledger(), [2]))
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ledger")
    (root / "ledger.py").write_text(PROJECT)
    (root / "test_ledger.py").write_text(SUITE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "scope-replay test_ledger.py::test_balance_is_wrong" in run.stdout
    return root


def test_failure_point_shows_stack_locals_and_exception(recorded: Path) -> None:
    state = replay_json(recorded, "test_balance_is_wrong")
    assert state["test"] == "test_ledger.py::test_balance_is_wrong"
    assert state["event"]["kind"] == "exception"
    assert state["event"]["function"] == "test_balance_is_wrong"
    assert state["exception"]["$type"] == "AssertionError"
    (frame,) = state["stack"]
    assert frame["line"] == 10
    assert frame["locals"]["total"] == 12
    assert frame["locals"]["history"] == [7, 5]  # sorted in place by C code
    assert frame["locals"]["ledger"]["attrs"] == {"entries": [5, 7]}  # appended in a callee


def test_state_inside_a_callee_sees_the_mutation_in_the_caller(recorded: Path) -> None:
    timeline = replay_json(recorded, "test_balance_is_wrong", "--timeline")
    returns = [
        row for row in timeline if row["kind"] == "return" and row["function"] == "Ledger.post"
    ]
    assert len(returns) == 2
    state = replay_json(recorded, "test_balance_is_wrong", "--step", str(returns[1]["step"]))
    assert [frame["function"] for frame in state["stack"]] == [
        "test_balance_is_wrong",
        "apply_all",
        "Ledger.post",
    ]
    caller, helper, post = state["stack"]
    assert caller["line"] == 7
    assert caller["locals"]["ledger"]["attrs"]["entries"] == [5, 7]
    assert helper["locals"]["amount"] == 7
    assert post["locals"]["amount"] == 7
    assert state["return_value"] == 12


def test_timeline_is_the_documented_json(recorded: Path) -> None:
    timeline = replay_json(recorded, "test_generator_passes", "--timeline")
    assert [row["step"] for row in timeline] == list(range(1, len(timeline) + 1))
    assert all(
        set(row) == {"step", "kind", "function", "file", "line", "thread"} for row in timeline
    )
    kinds = {row["kind"] for row in timeline}
    assert {"call", "line", "yield", "resume", "return"} <= kinds


def test_generator_locals_survive_suspension(recorded: Path) -> None:
    timeline = replay_json(recorded, "test_generator_passes", "--timeline")
    resumes = [row["step"] for row in timeline if row["kind"] == "resume"]
    state = replay_json(recorded, "test_generator_passes", "--step", str(resumes[-1]))
    assert state["stack"][-1]["function"] == "evens"
    assert state["stack"][-1]["locals"] == {"limit": 5, "number": 4}
    assert state["stack"][0]["locals"]["seen"] == [0, 2, 4]


def test_failure_point_of_an_error_raised_deep_in_project_code(recorded: Path) -> None:
    state = replay_json(recorded, "test_error_in_project_code")
    assert state["event"]["kind"] == "exception"
    assert state["event"]["function"] == "fail_deep"
    assert state["exception"] == {"$type": "KeyError", "attrs": {"args": ["missing"]}}
    assert state["stack"][-1]["locals"]["lookup"] == {"a": 1}


def test_the_failure_point_is_where_the_exception_was_raised_not_re_raised(
    recorded: Path,
) -> None:
    """``check`` asserts, prints in its handler, re-raises with a bare ``raise``."""
    state = replay_json(recorded, "test_reraised_by_a_handler")
    assert state["event"]["kind"] == "exception"
    assert state["event"]["function"] == "check"
    assert (
        state["event"]["line"]
        == PROJECT.splitlines().index('        assert ledger.entries == [1], "unbalanced"') + 1
    )
    raises = [
        row
        for row in replay_json(recorded, "test_reraised_by_a_handler", "--timeline")
        if row["kind"] == "exception" and row["function"] == "check"
    ]
    assert len(raises) >= 2 and state["step"] == raises[0]["step"]  # not the bare raise


def test_text_view_shows_source_stack_and_locals(recorded: Path) -> None:
    result = run_replay(recorded, "test_balance_is_wrong")
    assert result.returncode == 0, result.stderr
    assert "assert total == 13" in result.stdout
    assert "AssertionError" in result.stdout
    assert "history" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_test"], "no_such_test"),
        (["test_balance_is_wrong", "--step", "0"], "out of range"),
        (["test_balance_is_wrong", "--step", "999999"], "out of range"),
        (["test_balance_is_wrong", "--step", "abc"], "--step"),
        (["test_", "--step", "1"], "ambiguous"),
        (["test_balance_is_wrong", "--dir", "nowhere"], "nowhere"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    recorded: Path, args: list[str], message: str
) -> None:
    result = run_replay(recorded, *args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_a_corrupt_trace_file_is_one_line_and_exit_code_2(recorded: Path, tmp_path: Path) -> None:
    runs = tmp_path / "scope" / "runs"
    runs.mkdir(parents=True)
    (runs / "20260101-000000-1.sqlite").write_bytes(b"not a database at all" * 100)
    result = run_replay(recorded, "test_balance_is_wrong", "--dir", str(tmp_path / "scope"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
