"""What the recorded forms mean (``replay.reading.format_facts``), and that the HTML
viewer's script reads those facts from its page instead of keeping a copy."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from support.tracebuilder import Recording, close_traces, open_trace, write_trace

from pytest_scope.trace.schema import Kind
from replay.reading.format_facts import (
    ASSERTION_TEMPORARIES,
    exception_message,
    exception_summary,
    exception_type,
    names_without_assertion_temporaries,
    without_assertion_temporaries,
)
from replay.reading.state import State
from replay.views.html_view import viewer_data


def _raised(name: str, *args: Any) -> dict[str, Any]:
    return {"$type": name, "attrs": {"args": list(args)}}


@pytest.mark.parametrize(
    ("exception", "summary"),
    [
        (_raised("AssertionError", "assert 2 == 3"), "AssertionError: assert 2 == 3"),
        (_raised("shop.OutOfStock", "pear"), "shop.OutOfStock: pear"),
        (_raised("AssertionError", "assert 2 == 3\n  first"), "AssertionError: assert 2 == 3 …"),
        (_raised("ValueError", ""), "ValueError"),
        (
            _raised("ValueError", {"$type": "str", "repr": "a long me", "$truncated": 5000}),
            "ValueError: a long me…",
        ),
        (_raised("KeyError", 3), None),  # a traceback would show the argument's str
        (_raised("OSError", 2, "No such file"), None),  # ... or the arguments' tuple
        (_raised("RuntimeError"), None),
        ({"$type": "ValueError", "$depth": True}, None),
        ("not a form", None),
        (None, None),
    ],
)
def test_an_exception_reads_as_a_tracebacks_last_line(exception: Any, summary: str | None) -> None:
    assert exception_summary(exception) == summary


def test_the_whole_message_keeps_its_lines() -> None:
    exception = _raised("AssertionError", "assert 2 == 3\n  first\n  second")
    assert exception_summary(exception, whole_message=True) == (
        "AssertionError: assert 2 == 3\n  first\n  second"
    )
    assert exception_message(exception) == "assert 2 == 3\n  first\n  second"
    assert exception_type(exception) == "AssertionError"


def test_the_args_tuple_as_a_resolved_object_is_read_by_its_items() -> None:
    exception = {"$type": "ValueError", "attrs": {"args": {"$type": "tuple", "items": ["bad"]}}}
    assert exception_summary(exception) == "ValueError: bad"


def test_assertion_temporaries_leave_every_frame_and_nothing_else() -> None:
    names = {"order": [1], "@py_assert1": 2, "@py_format4": "assert 2 == 3", "py_assert": 0}
    assert names_without_assertion_temporaries(names) == {"order": [1], "py_assert": 0}
    stack = [
        {"function": "test_x", "file": "t.py", "line": 5, "locals": dict(names)},
        {"function": "helper", "file": "t.py", "line": 9, "locals": {"@py_assert3": None}},
    ]
    state = State("t.py::test_x", "run", 3, 9, {"kind": "line"}, stack, None, None)
    shown = without_assertion_temporaries(state)
    assert [frame["locals"] for frame in shown.stack] == [{"order": [1], "py_assert": 0}, {}]
    assert [frame["function"] for frame in shown.stack] == ["test_x", "helper"]
    assert state.stack[0]["locals"] == names  # the state read stays whole


def test_the_viewer_takes_the_assertion_temporaries_from_its_page(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    path = write_trace(tmp_path / "run.sqlite", {"t": rec})
    try:
        trace = open_trace(path)
        (test,) = trace.tests()
        data = viewer_data(trace, test)
    finally:
        close_traces()
    assert data["format_facts"] == {"assertion_temporaries": list(ASSERTION_TEMPORARIES)}
    script = (
        resources.files("replay.views.viewer").joinpath("viewer.js").read_text(encoding="utf-8")
    )
    assert "format_facts" in script
    assert not any(prefix in script for prefix in ASSERTION_TEMPORARIES)  # no copy to drift
