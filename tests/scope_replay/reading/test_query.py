"""Paths and conditions over recorded values: what they find, and what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from replay.reading.query import Condition, ExpressionError, parse_path, resolve

ORDER = {
    "$type": "inventory.stock.Order",
    "attrs": {
        "customer": "grace",
        "lines": [["apple", 1], ["pear", 1]],
        "index": {"$type": "dict", "$kind": "mapping", "items": [[1, "one"], [2, "two"]]},
        "tags": {"$type": "set", "$kind": "set", "items": ["b", "a"]},
        "big": {"$type": "list", "$kind": "sequence", "items": [0, 1], "$truncated": 40},
        "deep": {"$type": "inventory.stock.Order", "$depth": True},
        "note": {"$type": "str", "repr": "a long text", "$truncated": 900},
    },
}
NAMES: dict[str, Any] = {"self": ORDER, "count": 3, "levels": {"pear": 4}, "nothing": None}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("count", 3),
        ("self.customer", "grace"),
        ("self.lines[1]", ["pear", 1]),
        ("self.lines[-1][0]", "pear"),
        ("levels['pear']", 4),
        ("self.index[2]", "two"),
        ("self.big[1]", 1),
    ],
)
def test_a_path_finds_the_recorded_value(path: str, value: Any) -> None:
    assert resolve(NAMES, parse_path(path)) == value


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing", "no 'missing' here"),
        ("self.nope", "self has no recorded attribute 'nope'"),
        ("self.lines[5]", "self.lines has 2 items, no [5]"),
        ("self.big[9]", "self.big has 2 recorded items of 40, no [9]"),
        ("self.deep.x", "the contents of self.deep were not recorded (nesting limit)"),
        ("levels.pear", "levels has no attribute 'pear'"),
        ("count[0]", "count cannot be subscripted with 0"),
    ],
)
def test_a_path_that_is_not_there_says_why(path: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        resolve(NAMES, parse_path(path))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "text",
    ["a + b", "f(x)", "x.y()", "lambda: 1", "self.lines[i]", "[x for x in y]", "x if y else z"],
)
def test_only_paths_are_paths(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_path(text)


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("count > 2", True),
        ("count > 2 and self.customer == 'grace'", True),
        ("not count == 3 or levels['pear'] < 4", False),
        ("self.lines[0] == ('apple', 1)", True),
        ("'pear' in levels", True),
        ("'c' not in self.tags", True),
        ("len(self.lines) == 2", True),
        ("len(self.big) == 40", True),  # the full length, not the items kept
        ("self.note == 'a long text'", True),
        ("nothing is None", True),
        ("count >= -1", True),
        ("missing == 1", False),  # not there at this step: not met
        ("self.customer > 3", False),  # str against int: not met
        ("self.deep.x == 1", False),
        ("'attrs' in self", False),  # an object's recorded form is not its contents
        ("self == self", True),
        ("self < self", False),
        ("len(self) == 1", False),
    ],
)
def test_a_condition_compares_recorded_values(text: str, holds: bool) -> None:
    assert Condition(text).holds(NAMES) is holds


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "open('x')",
        "count + 1 > 2",
        "(lambda: 1)()",
        "count > f'{count}'",
        "count ==",
    ],
)
def test_a_condition_never_runs_code(text: str) -> None:
    with pytest.raises(ExpressionError):
        Condition(text)


def test_a_dunder_path_reads_the_recorded_form_only() -> None:
    """``count`` is an int in the recorded forms: it has no attributes to find."""
    assert Condition("count.__class__ == 1").holds(NAMES) is False
    with pytest.raises(ExpressionError, match="has no attribute '__class__'"):
        resolve(NAMES, parse_path("count.__class__"))
