"""The state at any step: the chunk holding it, its keyframe, then its events up to the step.

The rules of applying an event are ``pytest_scope.trace.schema``'s; this is their only reader.
Only one chunk is decoded per state, so step N of a million-step test costs what step 1
does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_scope.errors import NotFoundError, TraceFileError
from pytest_scope.trace.codec import Event, Keyframe
from pytest_scope.trace.reader import RecordedTest, StoredChunk, TraceFile
from pytest_scope.trace.schema import CONTAINER_NAMES, KIND_NAMES, LEAVING_KINDS, Kind, Payload
from replay.reading.references import Entry, References


@dataclass(slots=True)
class State:
    """What a debugger would show at one step, for the thread of that step's event.

    ``stack`` is outermost first and ends with the event's frame; each frame is
    ``{"function", "file", "line", "locals"}`` with locals in their encoded (JSON) forms.
    ``watched`` holds the objects the test watches (``pytest_scope.watch``), by name.
    """

    test: str
    run: str
    step: int
    steps: int
    event: dict[str, Any]
    stack: list[dict[str, Any]]
    exception: Any
    return_value: Any
    watched: dict[str, Any] = dataclasses.field(default_factory=dict)


class RecordedFrame:
    """A frame as recorded: its locals in their stored forms, references unresolved."""

    __slots__ = ("code_no", "frame_no", "line", "locals")

    def __init__(self, frame_no: int, code_no: int, line: int, values: dict[str, Any]) -> None:
        self.frame_no = frame_no
        self.code_no = code_no
        self.line = line
        self.locals = values


class _Corrupt(Exception):
    """A chunk that the recorder could not have written; reported against the file."""


class Replay:
    """The running state of every thread while a chunk's events are applied, with values
    as recorded: ``{"$ref": N}`` where an object is held, its entry in ``objects``."""

    def __init__(self, keyframe: Keyframe) -> None:
        self.threads: dict[int, list[RecordedFrame]] = {}
        self.suspended: dict[int, RecordedFrame] = {}
        self.leaving: dict[int, int] = {}  # thread -> kind of its last event, if leaving
        watched = keyframe.get("watched", {})
        if not isinstance(watched, dict):
            raise _Corrupt("a keyframe whose watched objects are not a map")
        self.watched: dict[str, Any] = dict(watched)
        self.objects: dict[int, Entry] = {}
        self._add_objects(keyframe.get("objects", []))
        for thread, frames in keyframe["threads"]:
            self.threads[_int(thread)] = [_frame(raw) for raw in frames]
        for raw in keyframe["suspended"]:
            frame = _frame(raw)
            self.suspended[frame.frame_no] = frame

    def apply(self, event: Event) -> list[RecordedFrame]:
        """Apply one event; the stack of its thread, ending with its frame."""
        _, kind, thread, frame_no, code_no, line, payload = event
        stack = self.threads.setdefault(thread, [])
        left_kind = self.leaving.pop(thread, None)
        if left_kind is not None:
            if not stack:
                raise _Corrupt("a frame leaves an empty stack")
            left = stack.pop()
            if left_kind == Kind.YIELD:
                self.suspended[left.frame_no] = left
        payload = payload or {}
        unwound = payload.get(Payload.UNWOUND, 0)
        if unwound:
            if not 0 < _int(unwound) <= len(stack):
                raise _Corrupt(f"pops {unwound} frames of {len(stack)}")
            del stack[-unwound:]
        if kind == Kind.CALL:
            stack.append(RecordedFrame(frame_no, code_no, line, {}))
        elif kind == Kind.RESUME:
            frame = self.suspended.pop(frame_no, None) or self._yielded_elsewhere(frame_no)
            stack.append(frame or RecordedFrame(frame_no, code_no, line, {}))
        if not stack or stack[-1].frame_no != frame_no:
            raise _Corrupt(f"frame {frame_no} is not on top of thread {thread}'s stack")
        frame = stack[-1]
        frame.line = line
        frame.locals.update(payload.get(Payload.LOCALS, {}))
        for name in payload.get(Payload.DELETED, ()):
            frame.locals.pop(name, None)
        for outer_no, outer_line, changed, deleted in payload.get(Payload.OTHER_FRAMES, ()):
            outer = next((f for f in stack if f.frame_no == outer_no), None)
            if outer is None:
                raise _Corrupt(f"changes frame {outer_no}, which is not on the stack")
            outer.line = _int(outer_line)
            outer.locals.update(changed)
            for name in deleted:
                outer.locals.pop(name, None)
        self.watched.update(payload.get(Payload.WATCHED, {}))
        self._add_objects(payload.get(Payload.OBJECTS, []))
        if kind in LEAVING_KINDS:
            self.leaving[thread] = kind
        return stack

    def _add_objects(self, entries: Any) -> None:
        if not isinstance(entries, list):
            raise _Corrupt("objects that are not an array")
        objects = self.objects
        for entry in entries:
            if not isinstance(entry, list) or len(entry) != 5:
                raise _Corrupt(
                    "an object entry that is not [number, type, form, foreign, container]"
                )
            number, name, _, _, container = entry
            if type(number) is not int or type(name) is not str:
                raise _Corrupt("an object entry without its number and type")
            if type(container) is not int or not 0 <= container < len(CONTAINER_NAMES):
                raise _Corrupt("an object entry of an unknown container kind")
            objects[number] = entry

    def _yielded_elsewhere(self, frame_no: int) -> RecordedFrame | None:
        """A generator that yielded in another thread, which has made no step since."""
        for thread, kind in self.leaving.items():
            stack = self.threads[thread]
            if kind == Kind.YIELD and stack and stack[-1].frame_no == frame_no:
                del self.leaving[thread]
                return stack.pop()
        return None


def state_at(trace: TraceFile, test: RecordedTest, step: int) -> State:
    """Reconstruct the state at ``step`` from the one chunk that holds it."""
    chunk = _chunk_of(trace, test, step)
    with _reporting(trace, test, f"chunk {chunk.seq}"):
        event, replay = _replay_to(chunk, step)
        return _state(trace, test, event, replay.threads[event[2]], replay)


def state_of(trace: TraceFile, test: RecordedTest, event: Event, replay: Replay) -> State:
    """The state just after ``event`` was applied to ``replay`` (a reader walking the steps,
    ``walk``). The walk reports what is malformed in the events it applies; what is read
    only here (a reference to an object the chunk lacks) is reported here."""
    with _reporting(trace, test, f"step {event[0]}"):
        return _state(trace, test, event, replay.threads[event[2]], replay)


def replayed_at(trace: TraceFile, test: RecordedTest, step: int) -> tuple[Event, Replay]:
    """The event of ``step`` and the chunk's replay stopped there: the values as recorded,
    for a reader that follows an object by its number."""
    chunk = _chunk_of(trace, test, step)
    with _reporting(trace, test, f"chunk {chunk.seq}"):
        return _replay_to(chunk, step)


def _chunk_of(trace: TraceFile, test: RecordedTest, step: int) -> StoredChunk:
    _check_step(trace, test, step)
    return trace.chunk_at(test, step)


def _replay_to(chunk: StoredChunk, step: int) -> tuple[Event, Replay]:
    replay = Replay(chunk.keyframe)
    for event in chunk.events:
        replay.apply(event)
        if event[0] == step:
            return event, replay
    raise _Corrupt(f"ends before step {step}")


def walk(
    trace: TraceFile, test: RecordedTest, from_step: int | None = None
) -> Iterator[tuple[Event, Replay]]:
    """Every retained step with the replay just after it, each chunk decoded once: what
    reads all the steps (a value's history) costs one pass. A new ``Replay`` starts each
    chunk; its frames change as the walk goes on, so a reader keeps none of them.
    ``from_step``: from the start of the chunk holding that step on."""
    chunks = trace.chunks(test) if from_step is None else _chunks_from(trace, test, from_step)
    for chunk in chunks:
        with _reporting(trace, test, f"chunk {chunk.seq}"):
            replay = Replay(chunk.keyframe)
            for event in chunk.events:
                replay.apply(event)
                yield event, replay


def _chunks_from(trace: TraceFile, test: RecordedTest, step: int) -> Iterator[StoredChunk]:
    _check_step(trace, test, step)
    while step <= test.steps:
        chunk = trace.chunk_at(test, step)
        yield chunk
        step = chunk.last_step + 1


def timeline(trace: TraceFile, test: RecordedTest) -> list[dict[str, Any]]:
    """Every retained step as ``{"step","kind","function","file","line","thread"}``."""
    rows: list[dict[str, Any]] = []
    for chunk in trace.chunks(test):
        with _reporting(trace, test, f"chunk {chunk.seq}"):
            for event in chunk.events:
                rows.append(_event_row(trace, event))
    return rows


def failure_step(trace: TraceFile, test: RecordedTest) -> int:
    """Where to look first: the failure, or the last step of a test that did not fail."""
    _check_recorded(trace, test)
    return test.failure_step or test.steps


def _check_recorded(trace: TraceFile, test: RecordedTest) -> None:
    if test.steps < 1 or test.first_step > test.steps:
        raise NotFoundError(f"no steps of {test.nodeid} were recorded in run {trace.run_id}")


def _check_step(trace: TraceFile, test: RecordedTest, step: int) -> None:
    """Refuse a step that was never made, or was dropped by the ring buffer, with the range."""
    _check_recorded(trace, test)
    if not test.first_step <= step <= test.steps:
        dropped = (
            f" (steps 1-{test.first_step - 1} were dropped by the ring buffer)"
            if test.first_step > 1
            else ""
        )
        raise NotFoundError(
            f"step {step} is out of range for {test.nodeid}: give a step from"
            f" {test.first_step} to {test.steps}{dropped}"
        )


def _state(
    trace: TraceFile,
    test: RecordedTest,
    event: Event,
    stack: list[RecordedFrame],
    replay: Replay,
) -> State:
    step, _, _, _, _, _, payload = event
    payload = payload or {}
    resolve = References(replay.objects).resolve
    frames = []
    for frame in stack:
        code = trace.code(frame.code_no)
        frames.append(
            {
                "function": code.qualname,
                "file": code.filename,
                "line": frame.line,
                "locals": {name: resolve(value) for name, value in frame.locals.items()},
            }
        )
    return State(
        test=test.nodeid,
        run=trace.run_id_of(test),
        step=step,
        steps=test.steps,
        event=_event_row(trace, event, with_step=False),
        stack=frames,
        exception=resolve(payload.get(Payload.EXCEPTION)),
        return_value=resolve(payload.get(Payload.RETURNED)),
        watched={name: resolve(value) for name, value in replay.watched.items()},
    )


def _event_row(trace: TraceFile, event: Event, *, with_step: bool = True) -> dict[str, Any]:
    step, kind, thread, _, code_no, line, _ = event
    code = trace.code(code_no)
    row = {"step": step} if with_step else {}
    row.update(
        kind=KIND_NAMES[kind], function=code.qualname, file=code.filename, line=line, thread=thread
    )
    return row


def _frame(raw: Any) -> RecordedFrame:
    frame_no, code_no, line, values = raw
    if not isinstance(values, dict):
        raise _Corrupt("a keyframe frame without locals")
    return RecordedFrame(_int(frame_no), _int(code_no), _int(line), values)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise _Corrupt(f"{value!r} where a number belongs")
    return value


@contextmanager
def _reporting(trace: TraceFile, test: RecordedTest, where: str) -> Iterator[None]:
    """Report a malformed chunk as a corrupt trace file, naming the file, the test and
    ``where`` in it (a chunk, or a step)."""
    try:
        yield
    except (_Corrupt, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise TraceFileError(trace.path, f"corrupt {where} of {test.nodeid} ({exc})") from None
