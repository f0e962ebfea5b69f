"""The text and JSON views, on fixed-width consoles."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from replay.reading.state import State
from replay.views.json_view import dumps, state_document
from replay.views.text_view import format_value, render_state, render_timeline, short_path


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "None"),
        ("hi", "'hi'"),
        ([1, 2], "[1, 2]"),
        ({"a": 1}, "{'a': 1}"),
        ({"$type": "shapes.Point", "attrs": {"x": 1, "y": 2}}, "Point(x=1, y=2)"),
        ({"$type": "KeyError", "attrs": {"args": ["missing"]}}, "KeyError('missing')"),
        ({"$type": "KeyError", "attrs": {"args": ("missing",)}}, "KeyError('missing')"),
        (
            {"$type": "list", "$kind": "sequence", "items": [1, 2], "$truncated": 100},
            "[1, 2, …+98 more]",
        ),
        (("a", 1), "('a', 1)"),
        ((1,), "(1,)"),
        ((), "()"),
        ([("a", 1), [2]], "[('a', 1), [2]]"),
        ({"$type": "tuple", "$kind": "tuple", "items": [1], "$truncated": 9}, "(1, …+8 more)"),
        ({"$type": "set", "$kind": "set", "items": []}, "set()"),
        ({"$type": "set", "$kind": "set", "items": [1, 2]}, "{1, 2}"),
        ({"$type": "frozenset", "$kind": "set", "items": [1]}, "frozenset({1})"),
        ({"$type": "frozenset", "$kind": "set", "items": []}, "frozenset()"),
        ({"$type": "dict", "$kind": "mapping", "items": [[1, "a"]]}, "{1: 'a'}"),
        (
            {"$type": "collections.OrderedDict", "$kind": "mapping", "items": [["k", 1]]},
            "OrderedDict({'k': 1})",
        ),
        ({"$type": "collections.deque", "$kind": "sequence", "items": [1]}, "deque([1])"),
        ({"$type": "app.Registry", "$kind": "mapping", "items": [["a", 1]]}, "Registry({'a': 1})"),
        (
            {"$type": "app.Verdict", "$kind": "sequence", "items": [(1, "one"), (5, "five")]},
            "Verdict([(1, 'one'), (5, 'five')])",
        ),
        ({"$type": "app.Pair", "$kind": "tuple", "items": ["a", 1]}, "Pair(('a', 1))"),
        ({"$type": "app.Tags", "$kind": "set", "items": []}, "Tags(set())"),
        (
            {"$type": "app.Stack", "$kind": "sequence", "items": [1], "attrs": {"name": "s"}},
            "Stack([1], name='s')",
        ),
        ({"$type": "app.Point", "$kind": "tuple", "attrs": {"x": 1, "y": 2}}, "Point(x=1, y=2)"),
        ({"$type": "app.Summary", "items": [1, 2]}, "Summary([1, 2])"),  # a plugin's items
        ({"$type": "str", "repr": "abc", "$truncated": 10}, "'abc'…+7 more"),
        ({"$type": "decimal.Decimal", "repr": "Decimal('1.5')"}, "Decimal('1.5')"),
        ({"$type": "function", "repr": "helper"}, "<function helper>"),
        ({"$type": "list", "$cycle": True}, "<cycle>"),
        ({"$redacted": True}, "<redacted>"),
        ({"$type": "Node", "$depth": True}, "<Node …>"),
        ({"$type": "Opaque"}, "<Opaque>"),
        ([{"$type": "Box", "attrs": {"v": {"$redacted": True}}}], "[Box(v=<redacted>)]"),
    ],
)
def test_values_in_python_notation(value: Any, shown: str) -> None:
    assert format_value(value) == shown


def test_long_values_are_cut() -> None:
    assert format_value(list(range(1000)), limit=20) == "[0, 1, 2, 3, 4, 5, …"
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    assert "…" in format_value(deep)


SOURCE = "".join(f"line_{n} = {n}\n" for n in range(1, 31))


def _state(**changes: Any) -> State:
    fields: dict[str, Any] = {
        "test": "test_shop.py::test_discount",
        "run": "20260101-000000-1",
        "step": 7,
        "steps": 9,
        "event": {"kind": "exception", "function": "apply", "file": "shop.py", "line": 12,
                  "thread": 1},
        "stack": [
            {"function": "test_discount", "file": "test_shop.py", "line": 5,
             "locals": {"cart": {"$type": "shop.Cart", "attrs": {"items": [1, 2]}}}},
            {"function": "apply", "file": "shop.py", "line": 12,
             "locals": {"rate": 0.5, "token": {"$redacted": True}, "names": ["a", "[b]"]}},
        ],
        "exception": {"$type": "ValueError", "attrs": {"args": ["bad rate"]}},
        "return_value": None,
    }  # fmt: skip
    fields.update(changes)
    return State(**fields)


def _text(render: Any, *args: Any) -> list[str]:
    console = Console(width=100, file=StringIO(), color_system=None)
    render(console, *args)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in output.splitlines()]


def test_text_view_of_a_state() -> None:
    lines = _text(render_state, _state(), SOURCE)
    assert lines[:3] == [
        "test_shop.py::test_discount",
        "run 20260101-000000-1 · step 7 of 9",
        "exception in apply at shop.py:12 (thread 1)",
    ]
    assert "❱ 12 line_12 = 12" in lines
    assert "   7 line_7 = 7" in lines and "  17 line_17 = 17" in lines
    assert not any("line_6 " in line or "line_18 " in line for line in lines)
    stack = lines[lines.index("Call stack (outermost first)") :]
    assert [line.split() for line in stack[4:6]] == [
        ["test_discount", "test_shop.py:5"],
        ["→", "apply", "shop.py:12"],
    ]
    assert "Locals of apply" in lines
    assert any(line.split() == ["rate", "0.5"] for line in lines)
    assert any(line.split() == ["token", "<redacted>"] for line in lines)
    assert any(line.split() == ["names", "['a',", "'[b]']"] for line in lines), "not markup"
    assert lines[-1] == "exception: ValueError: bad rate"


def test_text_view_hides_assertion_temporaries_and_keeps_message_lines() -> None:
    frame = {
        "function": "test_x",
        "file": "t.py",
        "line": 5,
        "locals": {"order": [1], "@py_assert1": 2, "@py_format4": "assert 2 == 3"},
    }
    exception = {"$type": "AssertionError", "attrs": {"args": ["assert 2 == 3\n  first\n  second"]}}
    lines = _text(render_state, _state(stack=[frame], exception=exception), None)
    assert any(line.split() == ["order", "[1]"] for line in lines)
    assert not any("@py_" in line for line in lines)
    assert any("2 assertion temporaries of pytest not shown" in line for line in lines)
    assert lines[-3:] == ["exception: AssertionError: assert 2 == 3", "  first", "  second"]


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("/p/tests/t.py", "tests/t.py"),
        ("/venv/lib/python3.13/site-packages/inventory/stock.py", "inventory/stock.py"),
        ("/usr/lib/python3/dist-packages/pkg/m.py", "pkg/m.py"),
        ("/elsewhere/m.py", "/elsewhere/m.py"),
    ],
)
def test_paths_are_shown_as_the_user_knows_them(filename: str, shown: str) -> None:
    assert short_path(filename, "/p") == shown


def test_text_view_of_a_return_without_source() -> None:
    state = _state(
        event={"kind": "return", "function": "apply", "file": "shop.py", "line": 12, "thread": 2},
        exception=None,
        return_value=[1],
    )
    lines = _text(render_state, state, None)
    assert "(the source of shop.py was not recorded)" in lines
    assert lines[-1] == "returned: [1]"
    assert not any(line.startswith("exception") for line in lines)


def test_timeline_table_with_paths_relative_to_the_rootdir() -> None:
    rows = [
        {
            "step": 1,
            "kind": "call",
            "function": "test_x",
            "file": "/p/t.py",
            "line": 3,
            "thread": 1,
        },
        {
            "step": 2,
            "kind": "line",
            "function": "test_x",
            "file": "/p/t.py",
            "line": 4,
            "thread": 1,
        },
    ]
    lines = _text(render_timeline, "t.py::test_x", rows, "/p")
    assert lines[0] == "Timeline of t.py::test_x"
    assert [line.split() for line in lines[4:6]] == [
        ["1", "1", "call", "test_x", "t.py:3"],
        ["2", "1", "line", "test_x", "t.py:4"],
    ]


def test_json_document_is_the_documented_shape() -> None:
    document = json.loads(dumps(state_document(_state())))
    assert list(document) == [
        "test", "run", "step", "steps", "event", "stack", "exception", "return_value", "diff",
    ]  # fmt: skip
    assert document["diff"] is None
    assert set(document["event"]) == {"kind", "function", "file", "line", "thread"}
    assert [set(frame) for frame in document["stack"]] == [
        {"function", "file", "line", "locals"}
    ] * 2
    assert document["exception"] == {"$type": "ValueError", "attrs": {"args": ["bad rate"]}}


def test_json_survives_values_json_lacks() -> None:
    assert json.loads(dumps({"v": b"\x00"})) == {"v": {"$type": "bytes", "repr": "b'\\x00'"}}
