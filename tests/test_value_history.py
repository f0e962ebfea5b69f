"""``scope-replay TEST_ID --history PATH``: every change of a value, checked against the
states the replay engine gives at every step."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from recordings import record_demo
from replaycli import replay_json, run_replay

from replay.state import state_at
from replay.tracefile import ScopeDir

TEST = "test_ship_takes_every_line"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    record_demo(root)
    return root


def _every_state(root: Path) -> list[Any]:
    trace, test = ScopeDir(root / ".scope").find_test(TEST)
    with trace:
        return [state_at(trace, test, step) for step in range(test.first_step, test.steps + 1)]


def test_the_changes_are_those_of_the_states(demo: Path) -> None:
    """order.lines in the test function: each step whose state holds another value."""
    expected = []
    last: Any = None
    for state in _every_state(demo):
        order = state.stack[0]["locals"].get("order")
        value = None if order is None else order["attrs"]["lines"]
        if value != last:
            expected.append((state.step, last, value))
            last = value
    document = replay_json(demo, TEST, "--history", "order.lines")
    assert document["path"] == "order.lines"
    assert (document["frame"], document["depth"]) == (TEST, 0)
    changes = document["changes"]
    assert [(c["step"], c["old"], c["new"]) for c in changes] == expected
    assert [c["change"] for c in changes] == ["appeared", "changed", "changed"]
    # The list shrinks under the loop: the code between the steps ran in Stock.ship.
    assert {c["by"]["function"] for c in changes[1:]} == {"Stock.ship"}
    assert changes[1]["by"]["source"] == "self.take(sku, count)"
    assert changes[0]["by"]["source"].startswith('order = Order("grace")')
    assert changes[1]["by"]["after_step"] == changes[1]["step"] - 1


def test_a_path_in_a_callee_follows_each_call(demo: Path) -> None:
    """Stock.take's self.levels, read at a step inside take: one history across its calls."""
    rows = replay_json(demo, TEST, "--timeline")
    first_take = next(r["step"] for r in rows if r["function"] == "Stock.take")
    document = replay_json(demo, TEST, "--history", "self.levels", "--step", str(first_take))
    assert (document["frame"], document["depth"]) == ("Stock.take", 2)
    levels = [c["new"] for c in document["changes"]]
    assert levels == [
        {"apple": 10, "pear": 4, "plum": 6},
        {"apple": 9, "pear": 4, "plum": 6},
        {"apple": 9, "pear": 4, "plum": 5},
    ]


def test_text_history(demo: Path) -> None:
    result = run_replay(demo, TEST, "--history", "order.lines")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"history of order.lines (in {TEST}): 3 change(s)"
    assert lines[1].endswith("(absent) → [['apple', 1], ['pear', 1], ['plum', 1]]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--history", "order.lines + 1"), "--history: 'order.lines + 1' is not a path"),
        (("--history", "nowhere"), "--history: no 'nowhere' in this frame, its callers or the"),
        (("--history", "x", "--step", "99"), "step 99 is out of range"),
        (("--history", "x", "--against", "none"), "--against compares states"),
    ],
)
def test_bad_history_input_is_one_line(demo: Path, args: tuple[str, ...], message: str) -> None:
    result = run_replay(demo, TEST, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_corrupt_chunk_is_one_line_in_every_new_mode(demo: Path, tmp_path: Path) -> None:
    """The prompt and --history on a damaged copy of the run."""
    (run,) = (demo / ".scope" / "runs").glob("*.sqlite")
    damaged = shutil.copy(run, tmp_path / run.name)
    with sqlite3.connect(damaged) as connection:
        connection.execute("UPDATE chunks SET data = x'789c03000000000001'")
    connection.close()
    for args in (("-i",), ("--history", "order.lines")):
        result = run_replay(demo, TEST, "--run", str(damaged), *args)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1
        assert "corrupt chunk 0 of tests/test_stock.py::test_ship_takes_every_line" in result.stderr
