"""Where did this value come from: every step at which the value at a path changed.

A path (``self.items``, ``slt._index[1]``) is read where the user stands: its first name in
a frame at a step. When that name holds an object (a list, dict, set, instance: anything
recorded by number, see ``replay.reading.references``), the history follows the object, not the
name: the rest of the path is read in it at every step that recorded a change of some
object, whichever frame or thread held it then, so a list the test made and a helper
appends to as ``acc`` shows the helper's steps. Each change says where the object was
seen: the innermost frame of the changing step's thread that reaches it, and by which path.

A name bound to a scalar (or a string) is followed as a name: at every step of its thread
where a frame of the same function is at the same depth of the stack (a function called
again in a loop is followed from call to call). A watched scalar (``pytest_scope.watch``)
belongs to no frame and is read at every step.

Each change names the frame that ran between the step before it in its thread and its own
step, at its line: the line itself in code recorded line by line; in code recorded by
calls only, the caller's line that made the call (the change happened in that call or just
around it). The whole recording is read in one pass (``state.walk``), and a followed
object is read again only at the steps that recorded some object's change. The viewer's
``valueHistory`` (``replay/views/viewer/viewer.js``) applies the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pytest_scope.trace.codec import Event
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.schema import KIND_NAMES, Payload
from replay.reading.cursor import ENTERING, LEAVING, Cursor, names_at
from replay.reading.query import ExpressionError, Path, resolve
from replay.reading.references import References, path_to, reference
from replay.reading.state import RecordedFrame, Replay, walk

_ABSENT: Final = object()
APPEARED: Final = "appeared"
CHANGED: Final = "changed"
DISAPPEARED: Final = "disappeared"
FOLLOWS_OBJECT: Final = "object"
FOLLOWS_NAME: Final = "name"


@dataclass(frozen=True, slots=True)
class Holder:
    """Where a path's first name is read: the frame's function and depth (0 = outermost) in
    a thread (``function`` None for a watched object), and the number of the object the name
    holds there, if it holds one: then the history follows that object."""

    function: str | None
    depth: int
    thread: int
    number: int | None = None


@dataclass(frozen=True, slots=True)
class ValueChange:
    step: int
    change: str  # APPEARED, CHANGED or DISAPPEARED
    old: Any  # None when it appeared
    new: Any  # None when it disappeared
    by: dict[str, Any] | None  # what ran between the step before and this one (see _ran_between)
    seen: dict[str, Any] | None  # the frame and path it was read through (see _seen_object)


@dataclass(frozen=True, slots=True)
class _Place:
    """A step as what ran: its frame's function, file and line, and its caller's."""

    step: int
    kind: str
    here: tuple[str, str, int]
    caller: tuple[str, str, int] | None


def history(cursor: Cursor, path: Path, frame: int, step: int | None = None) -> dict[str, Any]:
    """The history of ``path`` read in ``frame`` (an index into the stack) at ``step``
    (default: the cursor's), as ``--history --format json`` prints it: what every front
    end (the prompt, the CLI, the debug adapter) shows."""
    where = holder(cursor, path, frame, step)
    return history_document(cursor, path, where, value_history(cursor, path, where))


def holder(cursor: Cursor, path: Path, frame: int, step: int | None = None) -> Holder:
    """The frame whose ``path.name`` is meant: ``frame`` if it has it, else the nearest
    frame outwards that does, else a watched object of that name; and the object it holds."""
    state = cursor.state(step)
    stack = state.stack
    index = frame % len(stack)
    thread = int(state.event["thread"])
    event, replay = cursor.replayed(state.step)
    for depth in range(index, -1, -1):
        if path.name in stack[depth]["locals"]:
            raw = replay.threads[thread][depth].locals[path.name]
            return Holder(stack[depth]["function"], depth, thread, reference(raw))
    if path.name in state.watched:
        return Holder(None, 0, thread, reference(replay.watched[path.name]))
    if path.name in names_at(state, index):  # __exception__, __return__
        raw = _raw_names(event, replay, replay.threads[thread][index])[path.name]
        return Holder(stack[index]["function"], index, thread, reference(raw))
    raise ExpressionError(f"no {path.name!r} in this frame, its callers or the watched objects")


def value_history(cursor: Cursor, path: Path, where: Holder) -> list[ValueChange]:
    """The changes of the value at ``path`` held by ``where``, in step order."""
    trace = cursor.trace
    changes: list[ValueChange] = []
    last: Any = _ABSENT
    before: dict[int, _Place] = {}  # each thread's step before
    chunk: Replay | None = None
    for event, replay in walk(trace, cursor.test):
        thread = event[2]
        stack = replay.threads[thread]
        if where.number is not None:
            present, value = _in_object(replay, event, path, where.number, replay is not chunk)
        else:
            present, value = _by_name(trace, replay, event, path, where)
        chunk = replay
        place = _place(trace, event, stack)
        if present and not _same(value, last):
            change = APPEARED if last is _ABSENT else DISAPPEARED if value is _ABSENT else CHANGED
            earlier = before.get(thread)
            changes.append(
                ValueChange(
                    place.step,
                    change,
                    None if last is _ABSENT else last,
                    None if value is _ABSENT else value,
                    None if earlier is None else _ran_between(trace, cursor.test, earlier, place),
                    _seen(trace, replay, thread, path, where),
                )
            )
            last = value
        before[thread] = place
    return changes


def _in_object(
    replay: Replay, event: Event, path: Path, number: int, fresh: bool
) -> tuple[bool, Any]:
    """The value at ``path`` in object ``number``, read where it may have changed: at a
    chunk's first step (its keyframe) and at steps that recorded objects. Not present
    elsewhere, nor where the chunk does not hold the object or only its type."""
    if not (fresh or (event[6] or {}).get(Payload.OBJECTS)):
        return False, _ABSENT
    entry = replay.objects.get(number)
    if entry is None or entry[2] is None:
        return False, _ABSENT
    whole = References(replay.objects).resolve({"$ref": number})
    return True, _value({path.name: whole}, path)


def _by_name(
    trace: TraceFile, replay: Replay, event: Event, path: Path, where: Holder
) -> tuple[bool, Any]:
    """The value at ``path`` in its frame (a frame of the same function at the same depth
    of its thread), or among the watched objects; not present where the frame is not."""
    if where.function is None:
        names = replay.watched
    else:
        stack = replay.threads[event[2]]
        if event[2] != where.thread or len(stack) <= where.depth:
            return False, _ABSENT
        frame = stack[where.depth]
        if trace.code(frame.code_no).qualname != where.function:
            return False, _ABSENT
        names = _raw_names(event, replay, frame)
    if path.name not in names:
        return True, _ABSENT
    whole = References(replay.objects).resolve(names[path.name])
    return True, _value({path.name: whole}, path)


def _raw_names(event: Event, replay: Replay, frame: RecordedFrame) -> dict[str, Any]:
    """``cursor.names_at`` with the values as recorded: the watched objects, the frame's
    locals, and the step's ``__exception__`` and ``__return__``."""
    payload = event[6] or {}
    names: dict[str, Any] = dict(replay.watched)
    names.update(frame.locals)
    if payload.get(Payload.EXCEPTION) is not None:
        names["__exception__"] = payload[Payload.EXCEPTION]
    if payload.get(Payload.RETURNED) is not None or KIND_NAMES[event[1]] in ("return", "yield"):
        names["__return__"] = payload.get(Payload.RETURNED)
    return names


def _value(names: dict[str, Any], path: Path) -> Any:
    try:
        return resolve(names, path)
    except ExpressionError:
        return _ABSENT


def _same(value: Any, last: Any) -> bool:
    if value is _ABSENT or last is _ABSENT:
        return value is last
    return _equal(value, last)


def _equal(one: Any, other: Any) -> bool:
    """Equal as their JSON texts are, which the viewer compares: keys in order, ``true``
    unlike ``1``, an int like the float of the same value, a tuple like the list of the
    same items (both are arrays)."""
    numbers = (int, float)
    if type(one) in numbers and type(other) in numbers:
        return bool(one == other)
    arrays = (list, tuple)
    if type(one) in arrays and type(other) in arrays:
        return len(one) == len(other) and all(map(_equal, one, other))
    if type(one) is not type(other):
        return False
    if type(one) is dict:
        return list(one) == list(other) and all(_equal(one[key], other[key]) for key in one)
    return bool(one == other)


def _seen(
    trace: TraceFile, replay: Replay, thread: int, path: Path, where: Holder
) -> dict[str, Any] | None:
    """Where the value was read at a change: for a followed object, the innermost frame of
    the step's thread that reaches it (else a watched object), by the path that does;
    for a name, its own frame. None when neither reaches the object."""
    if where.number is None:
        function = where.function
        depth = None if function is None else where.depth
        return {"function": function, "depth": depth, "thread": where.thread, "path": str(path)}
    rest = str(Path("", path.keys))
    stack = replay.threads[thread]
    for depth in range(len(stack) - 1, -1, -1):
        found = path_to(replay.objects, stack[depth].locals.items(), where.number)
        if found is not None:
            function = trace.code(stack[depth].code_no).qualname
            return {"function": function, "depth": depth, "thread": thread, "path": found + rest}
    found = path_to(replay.objects, replay.watched.items(), where.number)
    if found is not None:
        return {"function": None, "depth": None, "thread": thread, "path": found + rest}
    return None


def _place(trace: TraceFile, event: Event, stack: list[RecordedFrame]) -> _Place:
    step, kind, _, _, code_no, line, _ = event
    code = trace.code(code_no)
    caller = None
    if len(stack) > 1:
        outer = trace.code(stack[-2].code_no)
        caller = (outer.qualname, outer.filename, stack[-2].line)
    return _Place(step, KIND_NAMES[kind], (code.qualname, code.filename, line), caller)


def _ran_between(
    trace: TraceFile, test: RecordedTest, before: _Place, place: _Place
) -> dict[str, Any]:
    """The frame that ran between two steps of a thread, at its line: the caller, at the
    line of its call, when a call starts or a callee has just returned (the code between
    was the caller's, not recorded line by line); else the step before's own line."""
    ran = before.here
    if place.kind in ENTERING:
        ran = place.caller or before.here
    elif before.kind in LEAVING:
        ran = before.caller or place.here
    function, file, line = ran
    return {
        "after_step": before.step,
        "function": function,
        "file": file,
        "line": line,
        "source": source_line(trace, test, file, line),
    }


def source_line(trace: TraceFile, test: RecordedTest, filename: str, line: int) -> str | None:
    """The recorded text of one line, stripped; None when its file was not recorded."""
    source = trace.source(filename, test)
    if source is None:
        return None
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else None


def history_document(
    cursor: Cursor, path: Path, where: Holder, changes: list[ValueChange]
) -> dict[str, Any]:
    """``--history --format json``: the path, where it is read, what is followed, and its
    changes."""
    return {
        "test": cursor.test.nodeid,
        "run": cursor.trace.run_id_of(cursor.test),
        "path": str(path),
        "frame": where.function,
        "depth": None if where.function is None else where.depth,
        "follows": FOLLOWS_NAME if where.number is None else FOLLOWS_OBJECT,
        "changes": [
            {
                "step": change.step,
                "change": change.change,
                "old": change.old,
                "new": change.new,
                "by": change.by,
                "seen": change.seen,
            }
            for change in changes
        ],
    }


def seen_text(seen: dict[str, Any] | None) -> str:
    """``as acc in add_twice``: where a followed object was read at a change."""
    if seen is None:
        return "held by no frame of its thread"
    if seen["function"] is None:
        return f"as the watched {seen['path']}"
    return f"as {seen['path']} in {seen['function']}"
