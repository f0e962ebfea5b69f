"""The recorder: ``sys.monitoring`` callbacks that turn a test's execution into steps.

Each planned event becomes one step: the event itself plus what it could have changed in
the state since the previous step (see ``schema``). The recorder keeps a shadow of what
it last recorded for every frame on each thread's stack, and an object table
(``objects``) of the objects those frames hold, by identity. A step looks at the locals
the event's lines name (``linenames``), at the arguments of a call, at the bindings of a
frame that has no line events, at the cells another frame may rebind (``nonlocal``) and
at the objects the test watches (``pytest_scope.watch``); never at the whole state nor
the whole stack. docs/pages/guide.md says what is exact at every step and what shows later.

Line steps, the most frequent, have two callbacks, and one place that decides what a line
step looks at (``Recorder._line_names``): the fast callback while the recorder's state
asks nothing of a line but its frame, the general one (``_record``, as for every other
event) while a test pauses, watches objects, has just learned a secret value, runs
between Hypothesis examples or records nothing. Each change of that state registers the
callback it calls for (``Recorder._switch_line_path``), so the fast one re-tests none of
it; it checks only what can change at any line unannounced.

Callbacks never raise into the code under test: a fault stops recording of the test,
and the test runs on untouched.
"""

from __future__ import annotations

import inspect
import math
import operator
import sys
import threading
import tracemalloc

# Private references: a test may replace these builtins (with a spy that counts calls).
from builtins import id, iter, len, next  # noqa: UP029
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, Final

from pytest_scope.capture import steering
from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.linenames import NO_NAMES, LineNames, line_names
from pytest_scope.capture.native import native_extension
from pytest_scope.capture.objects import OWN_REFS, ObjectTable, refcount
from pytest_scope.capture.plan import Level, Plan
from pytest_scope.capture.values import Encoded, ValueEncoder, _exception_args
from pytest_scope.errors import ScopeError
from pytest_scope.trace.codec import CHUNK_TARGET_BYTES, Keyframe
from pytest_scope.trace.schema import Kind, Payload

TOOL_NAME: Final = "pytest-scope"
# 0, 1, 2 and 5 belong to debuggers, coverage.py, profilers (cProfile) and optimizers,
# which may claim them after us. 4 has no owner. Hypothesis takes 3 to explain a failing
# example and only warns when it is taken, so 3 comes second; 2 is a last resort.
_CANDIDATE_TOOL_IDS: Final = (4, 3, 2)
# Suspended generators that are never resumed nor closed must not grow the shadow forever.
_MAX_SUSPENDED: Final = 10_000
# The forms of leaves kept for the native steps, by key, in a test (Recorder._leaf_forms).
_MAX_LEAF_FORMS: Final = 4096

_monitoring = sys.monitoring
_events = _monitoring.events
_DISABLE = _monitoring.DISABLE
# Private references: a test may monkeypatch these modules' attributes.
_getframe = sys._getframe
_Lock = threading.Lock
_get_ident = threading.get_ident
_tracing_allocations = tracemalloc.is_tracing
_MISSING: Final = object()


def _event_frame_depth() -> int:
    """How far up the stack a callback finds the frame of its event: 1 above its own where
    this module runs as Python, 0 where it is compiled (mypyc functions have no frames)."""
    return 1 if _getframe(0).f_code is getattr(_event_frame_depth, "__code__", None) else 0


_EVENT_FRAME: Final = _event_frame_depth()
_LOCALS_ARE_PROXIES: Final = sys.version_info >= (3, 13)  # PEP 667
# A local's object has a reference from the frame, and on 3.12 one from the copy of the
# locals that the recorder reads (_read_locals).
_REFS_PER_BINDING: Final = 1 if _LOCALS_ARE_PROXIES else 2
_CO_OPTIMIZED: Final = inspect.CO_OPTIMIZED
# A frame's locals: typeshed says a dict, but 3.13 gives a proxy (PEP 667), and compiled
# code (mypyc) checks the declared type of an attribute it reads.
_f_locals: Callable[[FrameType], Any] = operator.attrgetter("f_locals")

_GLOBAL_EVENTS: Final = (
    _events.PY_START
    | _events.RAISE
    | _events.RERAISE
    | _events.PY_UNWIND
    | _events.EXCEPTION_HANDLED
    | _events.PY_THROW
)
_LOCAL_EVENTS: Final = {
    Level.CALLS: _events.PY_RETURN | _events.PY_YIELD | _events.PY_RESUME,
    # JUMP: a loop that stays on one line steps that line again on each pass (see _on_jump).
    Level.LINES: _events.PY_RETURN
    | _events.PY_YIELD
    | _events.PY_RESUME
    | _events.LINE
    | _events.JUMP,
}


class NoFreeToolIdError(ScopeError):
    """Every ``sys.monitoring`` tool id we may use is held by another tool."""


class _Code:
    """What the recorder needs of a planned code object, found once when it is adopted."""

    __slots__ = (
        "cell_names", "code", "lines", "loop_lines", "number", "optimized", "params",
        "plain_names", "stepped_lines", "variables",
    )  # fmt: skip

    def __init__(self, number: int, code: CodeType, stepped_lines: bool) -> None:
        self.number = number
        self.code = code  # held: the recorder finds it by its id
        self.stepped_lines = stepped_lines  # whether its frames have line events
        self.lines: dict[int, LineNames] | None = None  # line_names, when first needed
        self.loop_lines: dict[int, int] = {}  # backward jumps within a line: their line
        flags = code.co_flags
        count = code.co_argcount + code.co_kwonlyargcount
        count += bool(flags & inspect.CO_VARARGS) + bool(flags & inspect.CO_VARKEYWORDS)
        self.params = code.co_varnames[:count]
        self.variables = code.co_varnames + code.co_cellvars + code.co_freevars
        # Locals shared with closures: another frame may rebind them (``nonlocal``).
        self.cell_names = code.co_cellvars + code.co_freevars
        # Locals that the frame holds itself (a cell's object is held by the cell).
        self.plain_names = tuple(name for name in code.co_varnames if name not in self.cell_names)
        self.optimized = bool(flags & _CO_OPTIMIZED)

    def names(self, code: CodeType, line: int) -> LineNames:
        lines = self.lines
        if lines is None:
            lines = self.lines = line_names(code)
        return lines.get(line, NO_NAMES)


class _Frame:
    """The recorder's shadow of one frame: what it last recorded of it."""

    __slots__ = (
        "calling_at", "code", "dropping", "frame", "frame_no", "frame_refs", "ids", "leaves",
        "line", "locals_dict", "stepped", "values",
    )  # fmt: skip

    def __init__(self, frame_no: int, code: _Code, frame: FrameType | None, line: int) -> None:
        self.frame_no = frame_no
        self.code = code
        self.frame = frame  # only while the frame is on a stack, never once it left
        self.line = line
        self.stepped = False  # whether its locals were read since it was entered
        self.calling_at = -1  # its instruction at its last look as a caller (see _catch_up)
        # The forms last recorded (a scalar, a leaf form or an object's ref), never the
        # objects; and the ids of the objects behind the refs, to tell a rebinding.
        self.values: dict[str, Encoded] = {}
        self.ids: dict[str, int] = {}
        # The keys of the leaves among the forms (``_rebinding.leaf_key``): the compiled
        # build tells such a local unchanged without encoding it again.
        self.leaves: dict[str, bytes] = {}
        self.locals_dict: dict[str, Any] | None = None  # 3.12: see _read_locals
        # The references to its frame object as it was entered (see _release_locals).
        self.frame_refs = -1
        # (name, id, ids of the objects below it that die with it) of the objects its
        # running line lets go of (see Recorder._drops).
        self.dropping: list[tuple[str, int, list[int]]] | None = None

    def as_keyframe(self) -> list[Any]:
        return [self.frame_no, self.code.number, self.line, dict(self.values)]


class _Thread:
    """One thread's shadow stack, and which of its frames share cells with closures (the
    only locals another frame can rebind), so that a step looks at those alone."""

    __slots__ = ("cell_frames", "ident", "number", "stack")

    def __init__(self, number: int, ident: int) -> None:
        self.number = number
        self.ident = ident  # while the thread runs; a later thread may get it again
        self.stack: list[_Frame] = []
        self.cell_frames: list[_Frame] = []

    def push(self, entry: _Frame) -> None:
        self.stack.append(entry)
        if entry.code.cell_names:
            self.cell_frames.append(entry)

    def pop(self, count: int = 1) -> _Frame:
        """Remove the top ``count`` entries; the last removed."""
        stack = self.stack
        left = stack[-1]
        for _ in range(count):
            left = stack.pop()
            if left.code.cell_names:
                self.cell_frames.remove(left)
        return left

    def clear(self) -> None:
        self.stack.clear()
        self.cell_frames.clear()


class TestSteps:
    """What the recorder knows of a test when it ends."""

    __slots__ = ("failure_step", "incomplete", "steps")

    def __init__(self, steps: int, failure_step: int | None, incomplete: str | None) -> None:
        self.steps = steps
        self.failure_step = failure_step
        self.incomplete = incomplete


class Recorder:
    """Owns a ``sys.monitoring`` tool id for the session; records one test at a time."""

    def __init__(
        self,
        plan: Plan,
        encoder: ValueEncoder,
        on_new_code: Callable[[int, CodeType], None],
        code_base: int = 0,
    ) -> None:
        """``code_base``: code numbers start after it (xdist workers share a numbering)."""
        self._plan = plan
        self._code_base = code_base
        self._encoder = encoder
        self._on_new_code = on_new_code
        self._tool_id: int | None = None
        # Keyed by id(code): hashing a code object hashes its every instruction (about
        # 1 us for a function of a few hundred bytes of bytecode), at every event. The
        # values hold the code objects, so that an id stays theirs.
        self._levels: dict[int, tuple[CodeType, Level]] = {}
        self._codes: dict[int, _Code] = {}
        self._objects = ObjectTable(encoder)
        self._lock = _Lock()
        self._muted = False
        self._local = threading.local()
        self._last_thread: _Thread | None = None  # of the last step; see _on_line_fast
        self._redaction = encoder.redaction
        self._threads: list[_Thread] = []
        self._level_override: Level | None = None
        self._paused = 0
        # Guards the pause count and the line path's switch (``_switch_line_path``); not
        # self._lock: a plugin's encoder runs under that, and may pause or watch.
        self._switch_lock = _Lock()
        # The test's buffer while line steps take the fast path, else None: which line
        # callback is registered (see _switch_line_path). A fast callback reads it under
        # self._lock: the switch it was entered by may be gone.
        self._line_buffer: RingBuffer | None = None
        # Watches made before a test begins (in its fixtures' setup) apply to it.
        self._pending_watches: dict[str, object] = {}
        self._watched: dict[str, object] = {}
        self._setup_watches: dict[str, object] = {}
        self._restart_code: CodeType | None = None
        self._between_examples = False
        self._example_passed = False  # the kept example passed: record no other
        self._examples_failed = False  # an example failed: record every one from then on
        self.restarted_steps = 0  # recorded, then discarded by a restart; for the summary
        # The form of each leaf keyed this test, by its key (``_check_names``): a native step
        # gives it to another value of that key (a class, a function) without encoding it.
        self._leaf_forms: dict[bytes, Encoded] = {}
        # The native line and generator steps (``_steps.c``), where they were built.
        self._native_steps: Any = None
        self._reset_test(None)
        self._redaction.on_pending_change = self._switch_line_path
        self._native_steps = _native_steps(self)
        # The fast line callback: the native line step in front of ours, where there is one.
        self._fast_line: Callable[..., object] = self._native_steps or self._on_line_fast

    # -- session ------------------------------------------------------------------

    def start(self) -> None:
        """Take a free tool id and switch the global events on."""
        for tool_id in _CANDIDATE_TOOL_IDS:
            if _monitoring.get_tool(tool_id) is None:
                _monitoring.use_tool_id(tool_id, TOOL_NAME)
                break
        else:
            holders = ", ".join(f"{i}: {_monitoring.get_tool(i)}" for i in _CANDIDATE_TOOL_IDS)
            raise NoFreeToolIdError(f"no free sys.monitoring tool id ({holders})")
        self._tool_id = tool_id
        native = self._native_steps
        callbacks: dict[int, Callable[..., Any]] = {
            _events.PY_START: native.start if native else self._on_start,
            _events.PY_RESUME: native.resume if native else self._on_resume,
            _events.PY_THROW: self._on_throw,
            _events.PY_RETURN: native.return_ if native else self._on_return,
            _events.PY_YIELD: native.yield_ if native else self._on_yield,
            _events.LINE: self._on_line_general if self._line_buffer is None else self._fast_line,
            _events.JUMP: self._on_jump,
            _events.RAISE: self._on_raise,
            _events.RERAISE: self._on_raise,
            _events.EXCEPTION_HANDLED: native.handled if native else self._on_handled,
            _events.PY_UNWIND: self._on_unwind,
        }
        for event, callback in callbacks.items():
            _monitoring.register_callback(tool_id, event, callback)
        _monitoring.set_events(tool_id, _GLOBAL_EVENTS)
        # Locations disabled by an earlier user of this id stay disabled otherwise.
        _monitoring.restart_events()
        steering.attach(self)

    def stop(self) -> None:
        """Release everything: on 3.12/3.13 freeing the id alone leaves events behind."""
        tool_id, self._tool_id = self._tool_id, None
        if tool_id is None:
            return
        steering.detach(self)
        _monitoring.set_events(tool_id, 0)
        for known in self._codes.values():
            _monitoring.set_local_events(tool_id, known.code, 0)
        for event in (
            _events.PY_START, _events.PY_RESUME, _events.PY_THROW, _events.PY_RETURN,
            _events.PY_YIELD, _events.LINE, _events.JUMP, _events.RAISE, _events.RERAISE,
            _events.EXCEPTION_HANDLED, _events.PY_UNWIND,
        ):  # fmt: skip
            _monitoring.register_callback(tool_id, event, None)
        _monitoring.free_tool_id(tool_id)

    # -- tests --------------------------------------------------------------------

    def begin_test(self, buffer: RingBuffer, restart_code: CodeType | None = None) -> None:
        """Record into ``buffer``; each top-level call of ``restart_code`` starts it over.

        ``restart_code`` is a Hypothesis test's own function, called once per example: the
        recording keeps the first example while examples pass (the ones after it run
        unrecorded, at the cost of the callbacks alone), and once one fails, the last: the
        failing one that Hypothesis replays after shrinking.
        """
        with self._lock:
            self._reset_test(buffer)
            self._watched, self._pending_watches = self._pending_watches, {}
            self._setup_watches = self._watched  # made in the fixtures' setup
            if restart_code is not None and self._plan.level_for(restart_code) is Level.SKIP:
                restart_code = None  # unrecorded (excluded): no call would start an example
            self._restart_code = restart_code
            # Hypothesis draws an example's data before calling the test: unrecorded.
            self._between_examples = restart_code is not None
            self._example_passed = self._examples_failed = False
            self._encoder.take_fault()  # one from between tests is no test's
            if self._muted:
                self._unmute()
            self._switch_line_path()

    @property
    def step(self) -> int:
        """The last step recorded so far; read without the lock (live progress's thread)."""
        return self._step

    def end_test(self) -> TestSteps:
        with self._lock:
            incomplete = self._incomplete
            unencodable = self._encoder.take_fault()
            if unencodable is not None:
                shown = f"recorder fault: {unencodable}; it shows as <unencodable>"
                incomplete = f"{incomplete}; {shown}" if incomplete else shown
            result = TestSteps(self._step, self._failure_step, incomplete)
            self._reset_test(None)
            self._restart_code = None
            self._between_examples = False
            self._switch_line_path()
        return result

    def _reset_test(self, buffer: RingBuffer | None) -> None:
        self._buffer = buffer
        self._recording = buffer is not None
        self._traced_from_start = _tracing_allocations()
        self._step = 0
        self._next_frame_no = 0
        self._incomplete: str | None = None
        self._failure_step: int | None = None
        self._raise_steps: dict[int, tuple[tuple[int, int], int]] = {}
        self._suspended: dict[int, _Frame] = {}
        self._watched = {}
        self._watched_forms: dict[str, Encoded] = {}
        self._keyframe_frame: FrameType | None = None
        self._objects.reset()
        self._leaf_forms.clear()
        for thread in self._threads:
            thread.clear()
        if self._native_steps is not None:
            self._native_steps.forget()  # it holds what it read of the last test

    def _restart_test(self, buffer: RingBuffer) -> None:
        self.restarted_steps += self._step
        buffer.clear()
        self._reset_test(buffer)
        self._watched = self._setup_watches  # those of the discarded example go with it
        self._encoder.redaction.forget_learned()

    # -- the API of pytest_scope.capture.steering ---------------------------------------

    def watch(self, name: str, value: object) -> None:
        """Follow ``value`` at every step of the test. Takes no lock: a plugin's encoder,
        run under the lock, may call it. The dict is replaced, never changed in place,
        so a step walking the old one is not disturbed."""
        if self._buffer is not None:
            self._watched = {**self._watched, name: value}
            self._switch_line_path()
        else:
            self._pending_watches = {**self._pending_watches, name: value}

    def pause(self) -> None:
        with self._switch_lock:
            self._paused += 1
        self._switch_line_path()

    def resume(self) -> None:
        with self._switch_lock:
            self._paused = max(self._paused - 1, 0)
        self._switch_line_path()

    def override_level(self, level: Level | None) -> None:
        """Record every planned code object at ``level`` from now on (None: at its plan's).

        Local events are set per code object, so those adopted so far are switched now
        (and back when the override ends), and code adopted meanwhile starts at
        ``level``; the plan's decision per file, and what it leaves out, stay as they are.
        """
        with self._lock:
            previous, self._level_override = self._level_override, level
            tool_id = self._tool_id
            if tool_id is None or previous == level or self._muted:  # _unmute applies it
                return
            for known in self._codes.values():
                planned = self._levels[id(known.code)][1]
                known.stepped_lines = (level or planned) is Level.LINES
                if planned is not Level.SKIP and (previous or planned) != (level or planned):
                    events = _LOCAL_EVENTS[level or planned]
                    _monitoring.set_local_events(tool_id, known.code, events)

    def forget_pending_watches(self) -> None:
        """Drop watches made outside a test (in a teardown): they are not the next test's."""
        self._pending_watches = {}

    # -- callbacks ------------------------------------------------------------------

    def _on_start(self, code: CodeType, offset: int) -> Any:
        adopted = self._levels.get(id(code))
        level = self._adopt(code) if adopted is None else adopted[1]
        if level is Level.SKIP:
            return _DISABLE
        if self._recording:
            self._record(Kind.CALL, code, _getframe(_EVENT_FRAME), _MISSING)
        return None

    def _on_resume(self, code: CodeType, offset: int) -> None:
        if self._recording:
            self._record(Kind.RESUME, code, _getframe(_EVENT_FRAME), _MISSING)

    def _on_throw(self, code: CodeType, offset: int, exception: BaseException) -> None:
        if self._recording and id(code) in self._codes:
            self._record(Kind.RESUME, code, _getframe(_EVENT_FRAME), exception)

    def _on_return(self, code: CodeType, offset: int, value: object) -> None:
        if self._recording:
            self._record(Kind.RETURN, code, _getframe(_EVENT_FRAME), value)

    def _on_yield(self, code: CodeType, offset: int, value: object) -> None:
        if self._recording:
            self._record(Kind.YIELD, code, _getframe(_EVENT_FRAME), value)

    def _on_line_fast(self, code: CodeType, line: int, frame: FrameType | None = None) -> None:
        """A line step, the most frequent event, while the recorder's state asks nothing of
        it but its own frame: registered by ``_switch_line_path``, which registers
        ``_on_line_general`` instead while a test pauses, watches, has just learned a secret
        value, runs between Hypothesis examples or records nothing.

        Done here with no call that the common case can spare (each Python call in a
        callback costs, and near the end of the interpreter's frame stack chunk, costs a
        chunk allocation) but ``_line_names``, which decides what a line step looks at on
        both paths. It checks, under the lock, only what no switch can announce; any of
        them takes the general path, which records the same line step with what else the
        step needs. Each has a test of the line path named after it:

        - the switch itself: this callback may have been entered in another thread just
          before the state changed (``test_a_callback_entered_before_a_switch_...``);
        - a new chunk, which opens with a keyframe (``test_a_chunk_due_mid_loop_...``);
        - another thread than the last step's: a generator left on top of one thread's
          shadow stack may run on another (``test_lines_of_a_frame_resumed_on_another_...``);
        - another frame than the top of the shadow stack: one whose call was not recorded
          (entered while paused, or before the test), or a top left without an event
          (``test_lines_of_a_frame_entered_while_paused_...``);
        - other frames' cells that the line may rebind (``test_a_closure_rebinding_...``);
        - tracemalloc, which a test may start on any line (``test_tracemalloc_started_...``).
        """
        if frame is None:
            frame = _getframe(_EVENT_FRAME)
        general = False
        with self._lock:  # another thread may close the chunk or switch between checks
            buffer = self._line_buffer
            thread = self._last_thread
            if (
                buffer is None
                or buffer.keyframe_due
                or thread is None
                or thread.ident != _get_ident()
                or not thread.stack
                or thread.stack[-1].frame is not frame
                or (thread.stack[-1].code.cell_names and len(thread.cell_frames) > 1)
                or (_tracing_allocations() and not self._traced_from_start)
            ):
                general = True
            else:
                try:
                    entry = thread.stack[-1]
                    looked_at = self._line_names(entry, code, line, frame)
                    step = self._step + 1
                    payload: dict[str, Any] | None = None
                    if looked_at is not None:
                        local_values, walked, compared = looked_at
                        changed: dict[str, Encoded] = {}
                        deleted: list[str] = []
                        if walked:
                            self._check_names(entry, walked, local_values, changed, deleted)
                        if compared:
                            self._check_names(
                                entry, compared, local_values, changed, deleted, deep=False
                            )
                        objects = self._objects.take_changes()
                        self._objects.end_step()
                        if changed or deleted or objects:
                            payload = {Payload.LOCALS: changed} if changed else {}
                            if deleted:
                                payload[Payload.DELETED] = deleted
                            if objects:
                                payload[Payload.OBJECTS] = objects
                    self._step = step
                    buffer.append([step, Kind.LINE, thread.number, entry.frame_no,
                                   entry.code.number, line, payload])  # fmt: skip
                except Exception as exc:  # never into the code under test
                    self._objects.end_step()
                    self._fault(exc)
        if general:
            self._on_line_general(code, line, frame)

    def _on_line_general(self, code: CodeType, line: int, frame: FrameType | None = None) -> None:
        """A line step in any state of the recorder: see ``_on_line_fast``."""
        if self._recording:
            self._record(Kind.LINE, code, _getframe(_EVENT_FRAME) if frame is None else frame,
                         _MISSING)  # fmt: skip

    def _switch_line_path(self) -> None:
        """Register the line callback that the recorder's state calls for: the fast one
        while a line step needs nothing but its own frame (a test recording, not paused,
        watching nothing, no secret value learned and not yet looked for, not between
        Hypothesis examples), the general one otherwise.

        Every change of that state calls this after the change: each call reads the whole
        state afresh under ``_switch_lock``, so that the last switch, whichever thread makes
        it, follows the last change. ``sys.monitoring`` lets a callback be registered at any
        time, from within a callback too.
        """
        with self._switch_lock:
            buffer = self._buffer
            fast = (
                buffer is not None
                and self._recording
                and not self._paused
                and not self._watched
                and not self._between_examples
                and not self._redaction.pending
            )
            was_fast = self._line_buffer is not None
            self._line_buffer = buffer if fast else None
            if fast == was_fast:
                return
            tool_id = self._tool_id
            if tool_id is not None:
                callback = self._fast_line if fast else self._on_line_general
                _monitoring.register_callback(tool_id, _events.LINE, callback)

    def _on_jump(self, code: CodeType, offset: int, destination: int) -> Any:
        """A backward jump within one line is a new line step, as a debugger shows it.

        ``LINE`` fires only when the line changes, so a loop on one line (a comprehension,
        ``while n: n -= 1``) would make one step for all its passes; ``sys.settrace`` and
        so pdb stop on it at every pass. Every other jump is followed by a ``LINE`` event
        if it lands on another line, and never needs a step of its own: whether a jump is
        one or the other is fixed by the code, so its location is disabled for good.
        """
        known = self._codes.get(id(code))
        line = known.loop_lines.get(offset) if known is not None else None
        if line is None:
            if destination > offset or known is None:
                return _DISABLE
            line = _line_at(code, destination)
            if line is None or line != _line_at(code, offset):
                return _DISABLE
            known.loop_lines[offset] = line
        if self._line_buffer is not None:
            self._fast_line(code, line, _getframe(_EVENT_FRAME))
        elif self._recording:
            self._on_line_general(code, line, _getframe(_EVENT_FRAME))
        return None

    def _on_raise(self, code: CodeType, offset: int, exception: BaseException) -> None:
        if self._recording and id(code) in self._codes:
            self._record(Kind.EXCEPTION, code, _getframe(_EVENT_FRAME), exception)

    def _on_handled(self, code: CodeType, offset: int, exception: BaseException) -> None:
        if self._recording and id(code) in self._codes:
            self._record(Kind.HANDLED, code, _getframe(_EVENT_FRAME), exception)

    def _on_unwind(self, code: CodeType, offset: int, exception: BaseException) -> None:
        if self._recording and id(code) in self._codes:
            self._record(Kind.UNWIND, code, _getframe(_EVENT_FRAME), exception)

    # -- recording ------------------------------------------------------------------

    def _adopt(self, code: CodeType) -> Level:
        """Classify a code object on its first start, and switch on its local events."""
        try:
            level = self._plan.level_for(code)
            if level is not Level.SKIP and self._tool_id is not None:
                code_no = self._code_base + len(self._codes) + 1
                effective = self._level_override or level
                self._codes[id(code)] = _Code(code_no, code, effective is Level.LINES)
                self._on_new_code(code_no, code)
                events = _LOCAL_EVENTS[self._level_override or level]
                _monitoring.set_local_events(self._tool_id, code, events)
        except Exception as exc:  # a fault here must not reach the code under test
            self._fault(exc)
            level = Level.SKIP
        self._levels[id(code)] = (code, level)
        return level

    def _record(self, kind: int, code: CodeType, frame: FrameType, value: object) -> None:
        with self._lock:
            if not self._recording or self._paused:
                return
            if _tracing_allocations() and not self._traced_from_start:
                self._stop_for_tracemalloc()
                return
            try:
                self._record_step(kind, code, frame, value)
            except Exception as exc:  # never into the code under test
                self._fault(exc)
            finally:
                self._objects.end_step()

    def _stop_for_tracemalloc(self) -> None:
        """A test that starts tracemalloc measures its own memory: what the recorder keeps
        from then on would count as the test's, and could fail it."""
        self._recording = False
        self._incomplete = (
            f"recording stopped at step {self._step + 1}: the test started tracemalloc,"
            " whose figures the recording would change"
        )
        self._mute()
        self._switch_line_path()

    def _fault(self, exc: Exception) -> None:
        self._recording = False
        self._incomplete = f"recorder fault at step {self._step + 1}: {type(exc).__name__}: {exc}"
        self._mute()
        self._switch_line_path()

    def _mute(self) -> None:
        """Switch our events off until the next test. A callback that records nothing
        still runs, in a frame of its own: a test that recurses until RecursionError
        would stop one frame short of where it stops unrecorded."""
        tool_id = self._tool_id
        if tool_id is None or self._muted:
            return
        self._muted = True
        _monitoring.set_events(tool_id, 0)
        for known in self._codes.values():
            _monitoring.set_local_events(tool_id, known.code, 0)

    def _unmute(self) -> None:
        tool_id = self._tool_id
        self._muted = False
        if tool_id is None:
            return
        _monitoring.set_events(tool_id, _GLOBAL_EVENTS)
        override = self._level_override
        for known in self._codes.values():
            level = self._levels[id(known.code)][1]
            if level is not Level.SKIP:
                _monitoring.set_local_events(tool_id, known.code, _LOCAL_EVENTS[override or level])

    def _thread(self) -> _Thread:
        # threading.get_ident() values are reused by later threads; a thread-local is not.
        try:
            thread: _Thread = self._local.thread
        except AttributeError:
            thread = self._local.thread = _Thread(len(self._threads) + 1, _get_ident())
            self._threads.append(thread)
        self._last_thread = thread
        return thread

    def _record_step(self, kind: int, code: CodeType, frame: FrameType, value: object) -> None:
        buffer = self._buffer
        assert buffer is not None
        # Values held by secret names at the last steps are hidden from this one on.
        if self._redaction.pending:
            self._redaction.apply_learned()
        thread = self._thread()
        stack = thread.stack
        payload: dict[str, Any] = {}
        entered = kind == Kind.CALL or kind == Kind.RESUME
        if entered:
            stale = _stale_frames(stack, frame)
            if code is self._restart_code and kind == Kind.CALL and _first_call(stack, code):
                if self._example_passed:
                    return  # a passing example is kept: the next ones run unrecorded
                self._restart_test(buffer)
                self._between_examples = False
                self._switch_line_path()
                stale = 0
            elif self._between_examples:
                return
        else:
            if self._between_examples:
                if kind == Kind.UNWIND and code is self._restart_code:
                    # An example failed unrecorded: record each one from the next on (the
                    # shrinking, then the minimal example replayed last).
                    self._examples_failed = True
                    self._example_passed = False
                return
            stale = _frames_above(stack, frame)
            if stale < 0:
                return  # a frame that started before the test: not part of its steps
        step = self._step + 1
        self._keyframe_frame = frame  # for take_keyframe, which begin_step may call
        try:
            buffer.begin_step(step)
        finally:
            self._keyframe_frame = None  # a frame object holds its locals after it returns
        if stale:
            payload[Payload.UNWOUND] = stale
            thread.pop(stale)
        others: dict[int, list[Any]] = {}
        caller = None
        if entered:
            if stack:
                caller = stack[-1]
                self._catch_up(caller, others, resuming=kind == Kind.RESUME)
            current = self._entered_frame(kind, code, frame)
            thread.push(current)
            current.frame_refs = refcount(frame)
        else:
            current = stack[-1]
        changed: dict[str, Encoded] = {}
        deleted: list[str] = []
        self._check_frame(current, kind, frame, changed, deleted)
        if changed:
            payload[Payload.LOCALS] = changed
        if deleted:
            payload[Payload.DELETED] = deleted
        # Only a cell can be rebound from another frame (``nonlocal``), by a frame that has
        # cells itself; what other frames' objects hold shows through their refs.
        if current.code.cell_names and len(thread.cell_frames) > 1:
            for outer in thread.cell_frames:
                if outer is not current and outer is not caller:
                    self._check_cells(outer, others)
        if others:
            payload[Payload.OTHER_FRAMES] = list(others.values())
        if self._watched:
            watched = self._check_watched()
            if watched:
                payload[Payload.WATCHED] = watched
        if value is not _MISSING:
            self._add_value(kind, step, value, payload)
        objects = self._objects.take_changes()
        if objects:
            payload[Payload.OBJECTS] = objects
        self._step = step
        buffer.append([step, kind, thread.number, current.frame_no, current.code.number,
                       current.line, payload or None])  # fmt: skip
        if kind == Kind.RETURN or kind == Kind.UNWIND:
            # A frame object held beyond the recorder (a traceback, an unwinding exception's
            # at least) keeps the locals alive: only a frame that is cleared lets them go.
            if kind == Kind.RETURN and current.ids and refcount(frame) == current.frame_refs:
                self._objects.end_step()  # it holds the objects of this step
                self._release_locals(current, frame)
            left = thread.pop()
            left.frame = left.locals_dict = None
            if code is self._restart_code and _first_call(stack, code):
                self._between_examples = True
                if kind == Kind.UNWIND:
                    self._examples_failed = True
                self._example_passed = not self._examples_failed
                self._switch_line_path()
        elif kind == Kind.YIELD:
            thread.pop().frame = None
            self._suspend(frame, current)

    def _entered_frame(self, kind: int, code: CodeType, frame: FrameType) -> _Frame:
        known = self._codes[id(code)]
        if kind == Kind.RESUME:
            entry = self._suspended.pop(id(frame), None)
            if entry is not None and entry.code is known:
                entry.frame = frame
                return entry
        self._next_frame_no += 1
        return _Frame(self._next_frame_no, known, frame, frame.f_lineno)

    def _suspend(self, frame: FrameType, entry: _Frame) -> None:
        suspended = self._suspended
        suspended[id(frame)] = entry
        if len(suspended) > _MAX_SUSPENDED:
            del suspended[next(iter(suspended))]

    def _check_frame(
        self,
        entry: _Frame,
        kind: int,
        frame: FrameType,
        changed: dict[str, Encoded],
        deleted: list[str],
    ) -> None:
        """Record what the event's frame could have changed since its last step.

        A frame seen for the first time (a call): its arguments, all it has. A frame
        stepped line by line: the locals its last line and its current line name, and the
        objects they reach (at a line step, ``_line_names``). A frame without line events
        (the calls level) ran lines that are not recorded: its bindings are compared (a
        rebinding is cheap to see, and a new object is walked) and its arguments walked
        again, at each of its own steps; what those lines changed in other objects it holds
        shows where a recorded line names them, or at the next keyframe (docs/pages/design.md).
        """
        code = entry.code
        if kind == Kind.LINE and entry.stepped and code.stepped_lines:
            looked_at = self._line_names(entry, frame.f_code, frame.f_lineno, frame)
            if looked_at is not None:
                local_values, walked, compared = looked_at
                self._check_names(entry, walked, local_values, changed, deleted)
                self._check_names(entry, compared, local_values, changed, deleted, deep=False)
            return
        line = frame.f_lineno
        previous, entry.line = entry.line, line
        entry.calling_at = -1
        local_values = _read_locals(entry, frame)
        if not entry.stepped:
            entry.stepped = True
            if kind == Kind.CALL and code.optimized:
                names = code.params
            else:
                names = self._variables(entry, local_values)
            self._check_names(entry, names, local_values, changed, deleted)
            return
        if not code.stepped_lines:
            self._check_rebound(entry, frame, local_values, changed, deleted)
            self._check_names(entry, code.params, local_values, changed, deleted)
            return
        if entry.dropping is not None:  # what its last line let go of; this event notes none
            self._drops(entry, (), local_values)
        f_code = frame.f_code
        ran = code.names(f_code, previous)
        self._check_names(entry, ran.deep, local_values, changed, deleted)
        self._check_names(entry, ran.shallow, local_values, changed, deleted, deep=False)
        if line != previous:
            now = code.names(f_code, line)
            self._check_names(entry, now.deep, local_values, changed, deleted, deep=False)
            self._check_names(entry, now.shallow, local_values, changed, deleted, deep=False)

    def _line_names(
        self, entry: _Frame, code: CodeType, line: int, frame: FrameType
    ) -> tuple[Any, tuple[str, ...], tuple[str, ...]] | None:
        """What a line step looks at in its frame, the one place that decides it for both
        line paths: the locals that the line that ran (``entry.line``) names, to walk (its
        deep ones, see ``linenames``) or compare, and those the new line names, to compare;
        a local still bound to the very object last recorded as its form (a scalar) is left
        out. On the way, what the new line lets go of is noted (``_drops``).

        The frame's locals and the names to walk and to compare, which the caller checks
        with ``_check_names``, in that order; None if there is none (the step then has no
        object changes to take either). They are returned rather than checked here so that
        checking them adds no frame to the callback's chain (see ``_on_line_fast``).
        """
        known = entry.code
        lines = known.lines
        if lines is None:
            lines = known.lines = line_names(code)
        previous, entry.line = entry.line, line
        entry.calling_at = -1
        ran = lines.get(previous, NO_NAMES)
        deep = ran.deep
        shallow = ran.shallow
        now = ran
        if line != previous:
            now = lines.get(line, NO_NAMES)
            shallow = shallow + now.deep + now.shallow
        if not deep and not shallow:
            return None  # nor any drop: a line drops only locals it names
        local_values = _read_locals(entry, frame)
        if entry.dropping is not None or now.drops:
            self._drops(entry, now.drops, local_values)
        values = entry.values
        walked = [
            name
            for name in deep
            if local_values.get(name, _MISSING) is not values.get(name, _MISSING)
        ]
        compared = [
            name
            for name in shallow
            if local_values.get(name, _MISSING) is not values.get(name, _MISSING)
        ]
        if not walked and not compared:
            return None
        return local_values, tuple(walked), tuple(compared)

    def _drops(self, entry: _Frame, upcoming: tuple[str, ...], local_values: Any) -> None:
        """At a frame's own step: forget the objects its last line let go of, and note the
        ones its next line lets go of (``upcoming``, ``LineNames.drops``).

        An object that a local alone holds (the frame's one reference, and on 3.12 that of
        the recorder's copy of the locals) dies when a line rebinds or deletes that local
        without reading it, and a new object may take its id on the next line. Noted before
        the line runs, it is forgotten at the frame's next step if the local then holds
        another object (a line that raised before its store kept it)."""
        dropping = entry.dropping
        if dropping is not None:
            objects = self._objects
            for name, key, below in dropping:
                if id(local_values.get(name, _MISSING)) != key:
                    objects.forget_id(key)
                    for each in below:
                        objects.forget_id(each)
        noted: list[tuple[str, int, list[int]]] | None = None
        for name in upcoming:
            value = local_values.get(name, _MISSING)
            if self._objects.knows(value) and refcount(value) == OWN_REFS + _REFS_PER_BINDING:
                if noted is None:
                    noted = []
                noted.append((name, id(value), self._objects.dying_with([value], {})))
        entry.dropping = noted

    def _release_locals(self, entry: _Frame, frame: FrameType) -> None:
        """Forget the objects that only a returning frame's own locals hold: they die as the
        frame is cleared, and a new object may take their ids at once.

        Its frame object has the references it had when the frame was entered (ours), so
        nothing else keeps it, and with it the locals, alive. An object held by as many
        references as plain locals are bound to it has no other holder."""
        local_values = _read_locals(entry, frame)
        bindings = _bindings(entry.code.plain_names, local_values)
        dying = _held_by_bindings_alone(entry, local_values, bindings)
        # Let go of the copy of the locals (3.12) before counting what dies with them: the
        # compiled build drops it after its last use, the pure one only when told.
        local_values = None
        if dying:
            objects = self._objects
            # The frame's own references go with it too.
            for key in objects.dying_with(dying, bindings):
                objects.forget_id(key)
            for value in dying:
                objects.forget(value)

    def _check_names(
        self,
        entry: _Frame,
        names: tuple[str, ...],
        local_values: Any,
        changed: dict[str, Encoded],
        deleted: list[str],
        deep: bool = True,
    ) -> None:
        """Check the values of ``names``: their forms, and (``deep``) what their objects
        reach, or (not deep) the objects themselves (``ObjectTable.form``)."""
        values = entry.values
        ids = entry.ids
        leaves = entry.leaves
        objects = self._objects
        for name in names:
            value = local_values.get(name, _MISSING)
            old = values.get(name, _MISSING)
            if value is _MISSING:
                if old is not _MISSING:
                    del values[name]
                    ids.pop(name, None)
                    leaves.pop(name, None)
                    deleted.append(name)
                continue
            if leaves and _is_leaf is not None:
                leaf = leaves.get(name)
                if leaf is not None and _is_leaf(value, leaf):
                    continue
            form = objects.local_form(name, value, deep)
            if form is old or (old is not _MISSING and _same_form(form, old)):
                continue
            values[name] = changed[name] = form
            if type(form) is dict:
                if "$ref" in form:
                    ids[name] = id(value)
                    leaves.pop(name, None)
                    continue
                # A form of its type alone is keyed unless a plugin may summarize the type.
                leaf = (
                    _leaf_key(value, form, not self._encoder.may_summarize(type(value)))
                    if _leaf_key is not None
                    else None
                )
                if leaf is not None:
                    leaves[name] = leaf
                    if len(self._leaf_forms) < _MAX_LEAF_FORMS:
                        self._leaf_forms[leaf] = form
                else:
                    leaves.pop(name, None)
            elif leaves:
                leaves.pop(name, None)
            ids.pop(name, None)

    def _check_bindings(
        self,
        entry: _Frame,
        names: tuple[str, ...],
        local_values: Any,
        changed: dict[str, Encoded],
        deleted: list[str],
    ) -> None:
        """``names``, for a rebinding only: an object still bound to the same name is
        checked where a step names it, not here."""
        ids = entry.ids
        values = entry.values
        rebound = []
        for name in names:
            value = local_values.get(name, _MISSING)
            key = ids.get(name)
            if key is None:
                if value is not values.get(name, _MISSING):  # not the same scalar
                    rebound.append(name)
            elif key != id(value):
                rebound.append(name)
        if rebound:
            self._check_names(entry, tuple(rebound), local_values, changed, deleted)

    def _check_rebound(
        self,
        entry: _Frame,
        frame: FrameType,
        local_values: Any,
        changed: dict[str, Encoded],
        deleted: list[str],
    ) -> None:
        """Every binding of a frame, for a rebinding: in one pass over the frame's locals
        where the native check is built (``_rebinding.c``), else name by name."""
        if _rebound_names is not None and entry.code.optimized:
            rebound = _rebound_names(frame, entry.ids, entry.values, entry.leaves)
            if rebound:
                self._check_names(entry, rebound, local_values, changed, deleted)
            return
        variables = self._variables(entry, local_values)
        self._check_bindings(entry, variables, local_values, changed, deleted)

    def _variables(self, entry: _Frame, local_values: Any) -> tuple[str, ...]:
        return entry.code.variables if entry.code.optimized else tuple(local_values)

    def _check_cells(self, entry: _Frame, others: dict[int, list[Any]]) -> None:
        frame = entry.frame
        if frame is None or not entry.stepped:
            return
        changed: dict[str, Encoded] = {}
        deleted: list[str] = []
        local_values = _read_locals(entry, frame)
        self._check_bindings(entry, entry.code.cell_names, local_values, changed, deleted)
        if changed or deleted:
            change = self._other_change(entry, others)
            change[2].update(changed)
            change[3].extend(deleted)

    def _check_watched(self) -> dict[str, Encoded]:
        """The watched objects whose form changed since the last step (or that are new)."""
        forms = self._watched_forms
        changes: dict[str, Encoded] = {}
        for name, value in self._watched.items():
            form = self._objects.local_form(name, value)
            old = forms.get(name, _MISSING)
            if form is not old and (old is _MISSING or not _same_form(form, old)):
                changes[name] = forms[name] = form
        return changes

    def _catch_up(self, caller: _Frame, others: dict[int, list[Any]], resuming: bool) -> None:
        """Bring a caller's line and locals up to date as it calls or resumes a frame.

        A caller stepped line by line: the objects its calling line names (the receiver and
        arguments of the call). A caller without line events (project code at the calls
        level) moves on and binds new locals between its recorded steps: the step that
        enters a callee records them, and walks its arguments again, as at each of its
        own steps.
        """
        frame = caller.frame
        assert frame is not None
        # At the same instruction as at its last look, and with no step of its own since,
        # a caller stepped line by line has not run (a loop would have stepped it): the
        # same call resuming a generator again (``tuple(x for x in ...)``, ``list(gen)``).
        at = frame.f_lasti
        again = resuming and at == caller.calling_at
        caller.calling_at = at
        if again and caller.code.stepped_lines:
            return
        changed: dict[str, Encoded] = {}
        deleted: list[str] = []
        line = frame.f_lineno
        moved = line != caller.line
        caller.line = line
        local_values = _read_locals(caller, frame)
        if caller.code.stepped_lines:
            names = caller.code.names(frame.f_code, line)
            self._check_names(caller, names.deep, local_values, changed, deleted)
            self._check_names(caller, names.shallow, local_values, changed, deleted, deep=False)
        else:
            self._check_rebound(caller, frame, local_values, changed, deleted)
            if not again:  # resuming again: a loop may have run (bindings), not a walk
                self._check_names(caller, caller.code.params, local_values, changed, deleted)
        if moved or changed or deleted:
            change = self._other_change(caller, others)
            change[1] = line
            change[2].update(changed)
            change[3].extend(deleted)

    @staticmethod
    def _other_change(entry: _Frame, changes: dict[int, list[Any]]) -> list[Any]:
        change = changes.get(entry.frame_no)
        if change is None:
            change = changes[entry.frame_no] = [entry.frame_no, entry.line, {}, []]
        return change

    def _add_value(self, kind: int, step: int, value: object, payload: dict[str, Any]) -> None:
        if kind == Kind.RETURN or kind == Kind.YIELD:
            payload[Payload.RETURNED] = self._objects.form(value)
            return
        payload[Payload.EXCEPTION] = self._objects.form(value)
        # The step where an exception was first raised stays its step through handlers
        # that re-raise it (``except: ...; raise``): the failure is there, not at the
        # ``raise``. Exceptions take no weak reference, and holding one would keep its
        # frames alive: its type and its args tuple tell it from a later exception that
        # took its id.
        mark = (id(type(value)), id(_exception_args(value)))
        raised = self._raise_steps.get(id(value))
        first = raised[1] if raised is not None and raised[0] == mark else None
        if kind == Kind.EXCEPTION and first is None:
            self._raise_steps[id(value)] = (mark, step)
        elif kind == Kind.UNWIND:
            self._failure_step = first if first is not None else step

    # -- keyframes ------------------------------------------------------------------

    def take_keyframe(self, step: int) -> Keyframe:
        """The full state after ``step``: every thread's stack, the suspended frames, the
        watched objects and every object they refer to.

        The current thread's live frames are read whole first, and every object walked:
        a change that no step named (unrecorded code reaching an object another way) is
        caught here at the latest.
        """
        frame = self._keyframe_frame
        live = set()
        while frame is not None:
            live.add(id(frame))
            frame = frame.f_back
        thread = self._thread()
        for entry in thread.stack:
            if entry.frame is not None and id(entry.frame) in live and entry.stepped:
                local_values = _read_locals(entry, entry.frame)
                # Every binding walked again; an object still bound keeps its id in the
                # shadow (the frame's return forgets the objects that die with it).
                names = self._variables(entry, local_values)
                self._check_names(entry, names, local_values, {}, [])
        if self._watched:
            self._check_watched()
        self._objects.take_changes()  # the keyframe holds them
        roots: list[Encoded] = []
        for each in self._threads:
            roots.extend(entry.values for entry in each.stack)
        roots.extend(entry.values for entry in self._suspended.values())
        roots.append(self._watched_forms)
        return {
            "step": step,
            "threads": [
                [each.number, [entry.as_keyframe() for entry in each.stack]]
                for each in self._threads
                if each.stack
            ],
            "suspended": [entry.as_keyframe() for entry in self._suspended.values()],
            **({"watched": dict(self._watched_forms)} if self._watched_forms else {}),
            "objects": self._objects.closure(roots),
        }


# The native rebinding check and leaf keys (``_rebinding.c``), with the compiled recorder only.
_rebinding = native_extension("_rebinding", __file__)
_rebound_names: Final[
    Callable[[FrameType, dict[str, int], dict[str, Encoded], dict[str, bytes]], tuple[str, ...]]
    | None
] = _rebinding.rebound_names if _rebinding is not None else None
_leaf_key: Final[Callable[[object, Encoded, bool], bytes | None] | None] = (
    _rebinding.leaf_key if _rebinding is not None else None
)
_is_leaf: Final[Callable[[object, bytes], bool] | None] = (
    _rebinding.is_leaf if _rebinding is not None else None
)


def _native_steps(recorder: Recorder) -> Any:
    """The native line, call, generator, return and handled steps (``_steps.c``), which read
    the recorder's objects by their compiled attributes: only with the compiled recorder,
    and only where it was built."""
    extension = native_extension("_steps", __file__)
    if extension is None:
        return None
    return extension.NativeSteps(
        recorder=recorder,
        fallback=recorder._on_line_fast,
        locked=recorder._lock.locked,
        is_tracing=_tracing_allocations,
        line_names=line_names,
        names_secret=recorder._redaction.names_secret,
        redaction=recorder._redaction,
        max_str=recorder._encoder.limits.max_str,
        chunk_target_bytes=CHUNK_TARGET_BYTES,
        line_kind=Kind.LINE,
        locals_key=Payload.LOCALS,
        returned_key=Payload.RETURNED,
        exception_key=Payload.EXCEPTION,
        other_frames_key=Payload.OTHER_FRAMES,
        call_kind=Kind.CALL,
        resume_kind=Kind.RESUME,
        yield_kind=Kind.YIELD,
        return_kind=Kind.RETURN,
        handled_kind=Kind.HANDLED,
        own_refs=OWN_REFS,
        max_suspended=_MAX_SUSPENDED,
        frame_class=_Frame,
        on_start=recorder._on_start,
        on_resume=recorder._on_resume,
        on_yield=recorder._on_yield,
        on_return=recorder._on_return,
        on_handled=recorder._on_handled,
        leaf_forms=recorder._leaf_forms,
    )


def _same_form(form: Encoded, old: Encoded) -> bool:
    """Whether two forms record the same value: 1, 1.0 and True, or 0.0 and -0.0, differ."""
    kind = type(form)
    if kind is not type(old) or form != old:
        return False
    return kind is not float or math.copysign(1.0, form) == math.copysign(1.0, old)


def _bindings(names: tuple[str, ...], local_values: Any) -> dict[int, int]:
    """How many of ``names`` are bound to each object, by id."""
    counts: dict[int, int] = {}
    for name in names:
        value = local_values.get(name, _MISSING)
        if value is not _MISSING:
            key = id(value)
            counts[key] = counts.get(key, 0) + 1
    return counts


def _held_by_bindings_alone(
    entry: _Frame, local_values: Any, bindings: dict[int, int]
) -> list[object]:
    """The objects of a frame's recorded locals that only its own bindings reference."""
    cells = entry.code.cell_names
    dying: list[object] = []
    dying_ids: set[int] = set()
    for name, key in entry.ids.items():
        if name in cells or key in dying_ids:
            continue
        value = local_values.get(name, _MISSING)
        if id(value) == key and refcount(value) == (
            OWN_REFS + _REFS_PER_BINDING * bindings.get(key, 0)
        ):
            dying.append(value)
            dying_ids.add(key)
    return dying


def _line_at(code: CodeType, offset: int) -> int | None:
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def _first_call(stack: list[_Frame], code: CodeType) -> bool:
    """No frame of ``code`` is on the stack: a new top-level call, not a recursive one."""
    return all(entry.frame is None or entry.frame.f_code is not code for entry in stack)


def _read_locals(entry: _Frame, frame: FrameType) -> Any:
    """A frame's locals (a mapping), read without changing what its own code sees.

    On 3.13 a proxy (PEP 667), from which a step reads only the names it needs. On 3.12
    ``f_locals`` of a function's frame refreshes the one dict that ``locals()`` returns in
    that frame, which the code may hold as a snapshot (and which would keep the objects it
    deletes alive): the dict gets back what it held before the read.
    """
    if _LOCALS_ARE_PROXIES or not frame.f_code.co_flags & _CO_OPTIMIZED:
        return _f_locals(frame)
    held = entry.locals_dict
    before = dict(held) if held is not None else {}
    shared = _f_locals(frame)
    current = dict(shared)
    shared.clear()
    shared.update(before)
    entry.locals_dict = shared
    return current


def _frames_above(stack: list[_Frame], frame: FrameType) -> int:
    """How many entries sit above ``frame``'s on the stack (-1: it is not there).

    Entries above a frame that has an event have left without one (a generator closed
    without PY_UNWIND, gh-140373); they are popped, and the step says so (``"u"``).
    """
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth].frame is frame:
            return len(stack) - 1 - depth
    return -1


def _stale_frames(stack: list[_Frame], frame: FrameType) -> int:
    """How many top entries are not callers of a frame being entered."""
    if not stack or stack[-1].frame is frame.f_back:
        return 0
    callers = set()
    caller = frame.f_back
    while caller is not None:
        callers.add(id(caller))
        caller = caller.f_back
    stale = 0
    for entry in reversed(stack):
        if id(entry.frame) in callers:
            break
        stale += 1
    return stale
