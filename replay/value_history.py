"""Where did this value come from: every step at which the value at a path changed.

A path (``self.items``, ``slt._index[1]``) names a value in one frame. Its history is read
at every step of that frame's thread where a frame of the same function is at the same
depth of the stack (a function called again in a loop is followed from call to call), so
a change made in a callee shows at the callee's step that recorded it. A watched object
(``pytest_scope.watch``) belongs to no frame and is read at every step. Each change names
the frame that ran between the step before it and its own step, at its line: the line
itself in code recorded line by line; in code recorded by calls only, the caller's line
that made the call (the change happened in that call or just around it).

The recording keeps values, not object identities: two frames holding the same list are
two histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from replay.cursor import ENTERING, LEAVING, Cursor, names_at
from replay.expression import ExpressionError, Path, resolve
from replay.state import State

if TYPE_CHECKING:
    from rich.console import Console

_ABSENT: Final = object()
APPEARED: Final = "appeared"
CHANGED: Final = "changed"
DISAPPEARED: Final = "disappeared"


@dataclass(frozen=True, slots=True)
class Holder:
    """The frame a path is read in: its function and depth (0 = outermost) in a thread;
    ``function`` None for a watched object."""

    function: str | None
    depth: int
    thread: int


@dataclass(frozen=True, slots=True)
class ValueChange:
    step: int
    change: str  # APPEARED, CHANGED or DISAPPEARED
    old: Any  # None when it appeared
    new: Any  # None when it disappeared
    by: dict[str, Any] | None  # what ran between the step before and this one (see _ran_between)


def holder(path: Path, state: State, frame: int) -> Holder:
    """The frame whose ``path.name`` is meant: ``frame`` if it has it, else the nearest
    frame outwards that does, else a watched object of that name."""
    stack = state.stack
    index = frame % len(stack)
    thread = int(state.event["thread"])
    for depth in range(index, -1, -1):
        if path.name in stack[depth]["locals"]:
            return Holder(stack[depth]["function"], depth, thread)
    if path.name in state.watched:
        return Holder(None, 0, thread)
    if path.name in names_at(state, index):  # __exception__, __return__
        return Holder(stack[index]["function"], index, thread)
    raise ExpressionError(f"no {path.name!r} in this frame, its callers or the watched objects")


def value_history(cursor: Cursor, path: Path, where: Holder) -> list[ValueChange]:
    """The changes of the value at ``path`` held by ``where``, in step order."""
    changes: list[ValueChange] = []
    last: Any = _ABSENT
    previous_row: dict[str, Any] | None = None
    for position, row in enumerate(cursor.rows):
        watched = where.function is None
        if not watched and row["thread"] != where.thread:
            continue
        value = _ABSENT
        present = watched or cursor.depths[position] > where.depth
        if present:
            state = cursor.state(int(row["step"]))
            if watched:
                value = _value(state.watched, path)
            elif (
                len(state.stack) > where.depth
                and state.stack[where.depth]["function"] == where.function
            ):
                value = _value(names_at(state, where.depth), path)
            else:
                present = False
        if present and not _same(value, last):
            change = APPEARED if last is _ABSENT else DISAPPEARED if value is _ABSENT else CHANGED
            changes.append(
                ValueChange(
                    int(row["step"]),
                    change,
                    None if last is _ABSENT else last,
                    None if value is _ABSENT else value,
                    None if previous_row is None else _ran_between(cursor, previous_row, row),
                )
            )
            last = value
        if watched or row["thread"] == where.thread:
            previous_row = row
    return changes


def _value(names: dict[str, Any], path: Path) -> Any:
    try:
        return resolve(names, path)
    except ExpressionError:
        return _ABSENT


def _same(value: Any, last: Any) -> bool:
    if value is _ABSENT or last is _ABSENT:
        return value is last
    return bool(value == last)


def history_document(
    cursor: Cursor, path: Path, where: Holder, changes: list[ValueChange]
) -> dict[str, Any]:
    """``--history --format json``: the path, where it is read, and its changes."""
    return {
        "test": cursor.test.nodeid,
        "run": cursor.trace.run_id_of(cursor.test),
        "path": str(path),
        "frame": None if where.function is None else where.function,
        "depth": None if where.function is None else where.depth,
        "changes": [
            {
                "step": change.step,
                "change": change.change,
                "old": change.old,
                "new": change.new,
                "by": change.by,
            }
            for change in changes
        ],
    }


def _ran_between(cursor: Cursor, before: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The frame that ran between two steps of a thread, at its line: the caller, at the
    line of its call, when a call starts or a callee has just returned (the code between
    was the caller's, not recorded line by line); else the step before's own line."""
    place: dict[str, Any] = before
    if row["kind"] in ENTERING:
        stack = cursor.state(int(row["step"])).stack
        place = stack[-2] if len(stack) > 1 else before
    elif before["kind"] in LEAVING:
        stack = cursor.state(int(before["step"])).stack
        place = stack[-2] if len(stack) > 1 else row
    return {
        "after_step": before["step"],
        "function": place["function"],
        "file": place["file"],
        "line": place["line"],
        "source": source_line(cursor, place["file"], int(place["line"])),
    }


def source_line(cursor: Cursor, filename: str, line: int) -> str | None:
    """The recorded text of one line, stripped; None when its file was not recorded."""
    source = cursor.trace.source(filename, cursor.test)
    if source is None:
        return None
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else None


def render_history(console: Console, document: dict[str, Any], rootdir: str | None) -> None:
    """The text form of ``history_document``: one block per change, oldest first."""
    from rich.text import Text

    from replay.text_view import format_value, short_path

    held = "watched" if document["frame"] is None else f"in {document['frame']}"
    count = len(document["changes"])
    console.print(Text(f"history of {document['path']} ({held}): {count} change(s)", style="bold"))
    for change in document["changes"]:
        old = "(absent)" if change["change"] == APPEARED else format_value(change["old"])
        new = "(absent)" if change["change"] == DISAPPEARED else format_value(change["new"])
        console.print(Text(f"step {change['step']}: ", style="bold") + Text(f"{old} → {new}"))
        by = change["by"]
        if by is not None:
            where = f"{short_path(by['file'], rootdir)}:{by['line']}"
            text = f"    after step {by['after_step']}, in {by['function']} at {where}"
            if by["source"]:
                text += f": {by['source']}"
            console.print(Text(text, style="dim"))
