"""What the recorded forms mean for a reader, said once for every view.

The trace format (``pytest_scope.trace.schema``) says how values are written; a few facts
about what some of them *mean* are needed by every view that shows them: how a recorded
exception reads as the last line of a traceback, and which locals pytest's assertion
rewriting put in a test's frame. The terminal view, the prompt, the DAP server and the CI
index take them from here, and the HTML viewer's script, which cannot import them, reads
them from its page's data (``html_view``), so that no two of them can come to disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from replay.reading.state import State

# pytest's assertion rewriting binds these in a test's frame; they repeat the values the
# assert compared, and crowd the locals a user reads and the differences a diff lists.
ASSERTION_TEMPORARIES: Final = ("@py_assert", "@py_format")
_CUT: Final = "…"


def names_without_assertion_temporaries(names: Mapping[str, Any]) -> dict[str, Any]:
    """``names`` (a frame's locals) without pytest's assertion temporaries."""
    return {
        name: value for name, value in names.items() if not name.startswith(ASSERTION_TEMPORARIES)
    }


def without_assertion_temporaries(state: State) -> State:
    """``state`` as the views show it by default: every frame's locals without pytest's
    assertion temporaries (``@py_assert1``, ``@py_format6``)."""
    stack = [
        {**frame, "locals": names_without_assertion_temporaries(frame["locals"])}
        for frame in state.stack
    ]
    return replace(state, stack=stack)


def exception_type(exception: Any) -> str | None:
    """The recorded exception's type as a traceback names it (``AssertionError``,
    ``shop.OutOfStock``: the recorder leaves ``builtins`` out), or None for no exception form."""
    if not isinstance(exception, dict) or "$type" not in exception:
        return None
    return str(exception["$type"])


def exception_message(exception: Any) -> str | None:
    """The recorded exception's message, as ``str()`` of the exception gave it: its one
    argument when that is a str. A long message the recorder cut ends in "…". None when the
    form does not hold one text argument (none, several, or not text), which a traceback
    would show otherwise."""
    attrs = exception.get("attrs") if isinstance(exception, dict) else None
    args = attrs.get("args") if isinstance(attrs, dict) else None
    if isinstance(args, dict):  # the args tuple as a resolved object: its items
        args = args.get("items")
    if not isinstance(args, list | tuple) or len(args) != 1:
        return None
    (message,) = args
    if isinstance(message, str):
        return message
    if isinstance(message, dict) and message.get("$type") == "str":
        kept = message.get("repr")
        if isinstance(kept, str):
            return kept + _CUT if "$truncated" in message else kept
    return None


def exception_summary(exception: Any, *, whole_message: bool = False) -> str | None:
    """``AssertionError: assert 2 == 3``, as a traceback's last line starts: the type, then
    the message's first line, with " …" where the message goes on (``whole_message``: all
    of it, its lines as they are). Only the type when the message is empty; None when the
    form holds no one text message (a view then shows the whole form)."""
    name = exception_type(exception)
    message = exception_message(exception)
    if name is None or message is None:
        return None
    if not message:
        return name
    if whole_message:
        return f"{name}: {message}"
    first, *more = message.splitlines() or [""]
    return f"{name}: {first}" + (f" {_CUT}" if more else "")
