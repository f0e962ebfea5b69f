"""``scope-replay TEST_ID --history PATH``: every change of a value, checked against the
states the replay engine gives at every step, and followed by identity into callees."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support.recordings import FIXTURES, record_history
from support.replaycli import replay_json, run_replay

from pytest_scope.trace.scope_dir import ScopeDir
from replay.reading.state import state_at

pytestmark = pytest.mark.slow

TEST = "test_ship_takes_every_line"
FILLED = "test_items_are_filled_elsewhere"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    record_history(root)
    return root


def _every_state(root: Path, test_id: str = TEST) -> list[Any]:
    trace, test = ScopeDir(root / ".scope").find_test(test_id)
    with trace:
        return [state_at(trace, test, step) for step in range(test.first_step, test.steps + 1)]


def _line_of(text: str) -> int:
    """The line of fixtures/history/test_history.py that holds ``text``."""
    source = (FIXTURES / "history" / "test_history.py").read_text().splitlines()
    return next(number for number, line in enumerate(source, 1) if text in line)


def test_the_changes_are_those_of_the_states(demo: Path) -> None:
    """order.lines follows the order from the test into Order.__init__, Order.add and
    Stock.ship: each step whose state shows the one Order in any frame with other lines."""
    expected = []
    last: Any = None
    for state in _every_state(demo):
        seen = [
            value["attrs"]["lines"]
            for frame in state.stack
            for value in frame["locals"].values()
            if isinstance(value, dict)
            and value.get("$type") == "inventory.stock.Order"
            and "lines" in value["attrs"]
        ]
        assert all(lines == seen[0] for lines in seen)  # one order, however many names
        if seen and seen[0] != last:
            expected.append((state.step, last, seen[0]))
            last = seen[0]
    document = replay_json(demo, TEST, "--history", "order.lines")
    assert document["path"] == "order.lines"
    assert (document["frame"], document["depth"], document["follows"]) == (TEST, 0, "object")
    changes = document["changes"]
    assert [[c["step"], c["old"], c["new"]] for c in changes] == json.loads(json.dumps(expected))
    assert [c["change"] for c in changes] == ["appeared"] + ["changed"] * 5
    seen = [(c["seen"]["function"], c["seen"]["path"]) for c in changes]
    assert (
        seen
        == [("Order.__init__", "self.lines")]
        + [("Order.add", "self.lines")] * 3
        + [("Stock.ship", "order.lines")] * 2
    )
    # The list shrinks under the loop: the code between the steps ran in Stock.ship.
    assert {c["by"]["function"] for c in changes[4:]} == {"Stock.ship"}
    assert changes[4]["by"]["source"] == "self.take(sku, count)"
    assert changes[4]["by"]["after_step"] == changes[4]["step"] - 1


def test_a_scalar_is_followed_as_a_name_in_its_frame(demo: Path) -> None:
    """Stock.ship's shipped (an int) at a step inside ship: the states' values there."""
    rows = replay_json(demo, TEST, "--timeline")
    in_ship = next(
        r["step"] for r in rows if r["function"] == "Stock.ship" and r["kind"] == "return"
    )
    expected = []
    last: Any = None
    for state in _every_state(demo):
        if len(state.stack) > 1 and state.stack[1]["function"] == "Stock.ship":
            value = state.stack[1]["locals"].get("shipped")
            if value != last:
                expected.append((state.step, value))
                last = value
    document = replay_json(demo, TEST, "--history", "shipped", "--step", str(in_ship))
    assert (document["frame"], document["depth"], document["follows"]) == ("Stock.ship", 1, "name")
    assert [(c["step"], c["new"]) for c in document["changes"]] == expected
    assert {c["seen"]["function"] for c in document["changes"]} == {"Stock.ship"}


def test_a_path_in_a_callee_follows_its_object_everywhere(demo: Path) -> None:
    """Stock.take's self.levels, read at a step inside take: the stock's levels from the
    test's first step, each change in take."""
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
    seen = [(c["seen"]["function"], c["seen"]["path"]) for c in document["changes"]]
    assert seen == [
        (TEST, "stock.levels"),
        ("Stock.take", "self.levels"),
        ("Stock.take", "self.levels"),
    ]


def test_text_history(demo: Path) -> None:
    result = run_replay(demo, TEST, "--history", "order.lines")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # piped: each line whole, however long
    assert lines[0] == (
        f"history of order.lines (the object in {TEST}, in every frame that holds it): 6 change(s)"
    )
    assert "step 4: (absent) → []  (as self.lines in Order.__init__)" in lines
    assert (
        "step 10: [('apple', 1), ('pear', 1)] → [('apple', 1), ('pear', 1), ('plum', 1)]"
        "  (as self.lines in Order.add)"
    ) in lines


def test_a_list_changed_in_a_callee_under_another_name(filled: Path) -> None:
    """The test's items, appended to in fill() as acc (a helper recorded line by line) and
    in Box.put as things (project code recorded by calls): each change at the callee's
    step, with the callee's function, line and name."""
    document = replay_json(filled, FILLED, "--history", "items")
    assert (document["frame"], document["depth"], document["follows"]) == (FILLED, 0, "object")
    changes = document["changes"]
    assert [(c["change"], c["new"]) for c in changes] == [
        ("appeared", []),
        ("changed", [0]),
        ("changed", [0, 1]),
        ("changed", [0, 1, 2]),
    ]
    assert [c["seen"] for c in changes] == [
        {"function": FILLED, "depth": 0, "thread": 1, "path": "items"},
        {"function": "fill", "depth": 1, "thread": 1, "path": "acc"},
        {"function": "fill", "depth": 1, "thread": 1, "path": "acc"},
        {"function": "Box.put", "depth": 1, "thread": 1, "path": "things"},
    ]
    appended = _line_of("acc.append(number)")
    for change in changes[1:3]:
        assert change["by"]["function"] == "fill"
        assert (change["by"]["line"], change["by"]["source"]) == (appended, "acc.append(number)")
    assert changes[3]["by"]["function"] == "Box.put"
    rows = {r["step"]: r for r in replay_json(filled, FILLED, "--timeline")}
    assert [rows[c["step"]]["function"] for c in changes[1:]] == ["fill", "fill", "Box.put"]


def test_the_callee_name_has_the_same_history(filled: Path) -> None:
    """acc, asked inside fill(), is the test's items: its changes before and after fill."""
    rows = replay_json(filled, FILLED, "--timeline")
    in_fill = next(r["step"] for r in rows if r["function"] == "fill")
    from_callee = replay_json(filled, FILLED, "--history", "acc", "--step", str(in_fill))
    assert (from_callee["frame"], from_callee["depth"]) == ("fill", 1)
    from_test = replay_json(filled, FILLED, "--history", "items")
    assert from_callee["changes"] == from_test["changes"]


def test_a_dict_and_an_attribute_follow_their_objects(filled: Path) -> None:
    ledger = replay_json(filled, FILLED, "--history", "ledger")["changes"]
    assert [(c["new"], c["seen"]["function"], c["seen"]["path"]) for c in ledger] == [
        ({"apples": 0}, FILLED, "ledger"),
        ({"apples": 1}, "tally", "book"),
    ]
    contents = replay_json(filled, FILLED, "--history", "box.contents")["changes"]
    assert [(c["new"], c["seen"]["function"], c["seen"]["path"]) for c in contents] == [
        ([], "Box.__init__", "self.contents"),
        ([0, 1], "Box.put", "self.contents"),
    ]


def test_text_history_names_the_callee(filled: Path) -> None:
    result = run_replay(filled, FILLED, "--history", "items")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "step 7: [] → [0]  (as acc in fill)" in lines
    line = _line_of("acc.append(number)")
    assert f"    after step 6, in fill at test_history.py:{line}: acc.append(number)" in lines


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
