"""The two line callbacks: which one the recorder's state registers, and the checks the fast
one still makes at each line, each shown by what would be recorded wrong without it.

A line step is recorded by ``Recorder._on_line_fast`` while the state asks nothing of it
but its own frame, and by ``Recorder._on_line_general`` otherwise; every change of that
state switches the registered callback. What is registered is read from
``sys.monitoring`` itself, from within the recorded code.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import pytest
from support.modules import module_from_source

from pytest_scope.capture import event_path
from pytest_scope.capture import recorder as recorder_module
from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import TOOL_NAME, Recorder
from pytest_scope.capture.redaction import MARKER
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.codec import unpack_chunk
from pytest_scope.trace.schema import Kind

FAST = "_on_line_fast"
GENERAL = "_on_line_general"

MODULE = """
import sys
import tracemalloc

from pytest_scope import paused, watch

STATE = {"n": 0}
PARTS = ("a-secret", "value")
SEEN = []


def pausing(probe):
    seen = [probe()]
    with paused():
        seen.append(probe())
        hidden = 1  # paused
    seen.append(probe())
    shown = 2
    return seen


def watching(probe):
    seen = [probe()]
    watch(STATE, "state")
    seen.append(probe())  # watched
    STATE.update(n=1)  # no local names it
    seen.append(probe())  # after the update
    return seen


def learning():  # no other local is encoded at the step that learns the secret
    SEEN[:] = [PROBE()]
    api_token = "-".join(PARTS)
    SEEN.append(PROBE())  # learned
    again = "-".join(PARTS) + "!"
    SEEN.append(PROBE())  # applied
    return len(api_token + again)


def example(probe, seen):
    seen.append(probe())  # in an example
    return len(seen)


def examples(probe):
    seen = [probe()]
    example(probe, seen)
    seen.append(probe())
    example(probe, seen)
    return seen


def entered_before_a_switch(fast_line):
    frame = sys._getframe()
    with paused():
        fast_line(frame.f_code, frame.f_lineno, frame)  # a fast callback, paused
    return frame.f_lineno


def after_a_fault(fast_line):
    frame = sys._getframe()
    faulting()
    fast_line(frame.f_code, frame.f_lineno, frame)  # a fast callback, after a fault
    return 1


def faulting():
    return 0


def counting(passes):
    x = 0
    for _ in range(passes):
        x += 1
    return x


def big_powers(passes):
    power = 2**64
    for _ in range(passes):
        power = power * 3
    return power


def scalars():
    value = 0
    value = -1
    value = 2**64 - 1
    value = 2**64
    value = -(2**63)
    value = 0.0
    value = -0.0
    value = True
    value = 1
    value = 1.0
    value = None
    value = "text"
    value = "x" * 1000
    api_token = "shown as redacted"
    return value, api_token


def undecodable_name():
    name = "caf\\udce9.txt"  # a lone surrogate: a file name the file system could not decode
    names = [name]
    return len(names)


def resumed_in_a_callee():
    pause = paused()
    pause.__enter__()
    return entered_while_paused(pause)


def entered_while_paused(pause):
    pause.__exit__(None, None, None)
    inside = 1  # a frame entered while paused
    return inside


def resumed_in_another_thread(run_in_a_thread):
    gen = paused_at_a_yield()
    next(gen)
    run_in_a_thread(gen)
    after = 1
    return after


def paused_at_a_yield():
    pause = paused()
    pause.__enter__()
    yield
    pause.__exit__(None, None, None)
    moved = 1  # on another thread
    yield moved


def closure():
    total = 0

    def add(n):
        nonlocal total
        total += n
        done = True  # after the rebinding
        return done

    add(5)
    return total


def starting_tracemalloc(probe):
    tracemalloc.start()
    x = 1  # traced
    y = 2
    tracemalloc.stop()
    return probe(), x + y
"""


def _line_of(marker: str) -> int:
    """The line of ``MODULE`` that holds ``marker``."""
    (line,) = [n for n, text in enumerate(MODULE.splitlines(), 1) if marker in text]
    return line


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """``MODULE`` as a test file of a project: recorded line by line."""
    yield module_from_source(tmp_path_factory.mktemp("lines") / "test_line_module.py", MODULE)


def line_callback() -> str:
    """The name of the line callback the recorder has registered now."""
    monitoring = sys.monitoring
    for tool_id in range(6):
        if monitoring.get_tool(tool_id) == TOOL_NAME:
            callback = monitoring.register_callback(tool_id, monitoring.events.LINE, None)
            monitoring.register_callback(tool_id, monitoring.events.LINE, callback)
            if type(callback).__name__ == "NativeSteps":
                return FAST  # the native line step, in front of the fast callback
            return "none" if callback is None else str(callback.__name__)
    return "none"


@dataclass
class Recording:
    result: Any
    steps: recorder_module.TestSteps
    events: list[list[Any]]  # [step, kind, thread, frame, code, line, payload]

    def lines(self, code: int | None = None) -> list[int]:
        """The lines of the line steps (of one code number)."""
        return [
            event[5]
            for event in self.events
            if event[1] == Kind.LINE and (code is None or event[4] == code)
        ]

    def at(self, line: int) -> list[list[Any]]:
        return [event for event in self.events if event[1] == Kind.LINE and event[5] == line]


def _record(
    module: ModuleType,
    run: Callable[[Recorder], Any],
    events_per_chunk: int = 10**7,
    restart: CodeType | None = None,
    on_new_code: Callable[[int, CodeType], None] = lambda *_: None,
) -> Recording:
    recorder = Recorder(
        Plan(Path(str(module.__file__)).parent, ["test_*.py"]), ValueEncoder(), on_new_code
    )
    buffer = RingBuffer(2**30, recorder.take_keyframe, events_per_chunk=events_per_chunk)
    recorder.start()
    try:
        assert line_callback() == GENERAL  # no test recording
        recorder.begin_test(buffer, restart)
        assert line_callback() == (GENERAL if restart else FAST)
        result = run(recorder)
        steps = recorder.end_test()
        assert line_callback() == GENERAL
    finally:
        recorder.stop()
    buffer.close_chunk()
    events = [event for chunk in buffer.chunks() for event in unpack_chunk(chunk.data)[1]]
    assert [event[0] for event in events] == list(range(1, steps.steps + 1))
    return Recording(result, steps, events)


def _code_numbers(recording: Recording) -> set[int]:
    return {event[4] for event in recording.events}


# -- what a line step records --------------------------------------------------------


def test_each_form_of_a_changed_local_is_recorded_at_the_line_after(module: ModuleType) -> None:
    """Scalars in msgpack's range are their own forms (the native line step records them on
    the compiled build, and makes a bigger int's form); a long str and a secret name's value
    are not (it leaves them to the recorder). 0.0 and -0.0, True and 1, 1 and 1.0 are
    different forms.
    """
    recording = _record(module, lambda _: module.scalars())
    changes = [event[6]["l"] for event in recording.events if event[6] and "l" in event[6]]
    values = [change["value"] for change in changes if "value" in change]
    assert values[:3] == [0, -1, 2**64 - 1]
    assert values[3] == {"$type": "int", "repr": str(2**64)}
    assert values[4:10] == [-(2**63), 0.0, -0.0, True, 1, 1.0]
    assert [math.copysign(1, value) for value in values[5:7]] == [1, -1]
    assert [type(value) for value in values[7:10]] == [bool, int, float]
    assert values[10:12] == [None, "text"]
    assert values[12] == {"$type": "str", "repr": "x" * 200, "$truncated": 1000}
    assert [change["api_token"] for change in changes if "api_token" in change] == [
        {"$redacted": True}
    ]


def test_the_compiled_build_steps_lines_binding_big_ints_natively(module: ModuleType) -> None:
    """A loop rebinding an int beyond msgpack's range at each pass: the native line step
    makes its form, as the value encoder does, rather than leave each line to Python."""
    if not event_path.compiled():
        pytest.skip("the native line step comes with the compiled event path")

    def run(recorder: Recorder) -> tuple[int, int]:
        before = recorder._native_steps.line_steps
        power = module.big_powers(20)
        return power, recorder._native_steps.line_steps - before

    recording = _record(module, run)
    power, native = recording.result
    changes = [
        event[6]["l"]["power"]
        for event in recording.events
        if event[6] and "power" in event[6].get("l", {})
    ]
    assert changes[-1] == {"$type": "int", "repr": str(power)}
    assert len(changes) == 21  # its first binding, then each pass's
    lines = [event for event in recording.events if event[1] == Kind.LINE]
    assert native >= len(lines) - 2  # the first two lines are Python's: the frame is new


def test_a_str_holding_a_lone_surrogate_is_recorded_as_it_is(module: ModuleType) -> None:
    """UTF-8 cannot hold a lone surrogate: the trace keeps it as UTF-8 would give its code
    point, and reads it back the same, rather than the recording stopping at a fault."""
    recording = _record(module, lambda _: module.undecodable_name())
    assert recording.steps.incomplete is None
    changes = [event[6]["l"] for event in recording.events if event[6] and "l" in event[6]]
    assert {"name": "caf\udce9.txt"} in changes
    objects = [entry for event in recording.events if event[6] for entry in event[6].get("b", [])]
    assert any(entry[2] == ["caf\udce9.txt"] for entry in objects)


# -- the switches ---------------------------------------------------------------------


def test_a_test_recording_takes_the_fast_path(module: ModuleType) -> None:
    recording = _record(module, lambda _: module.counting(100))
    assert recording.result == 100
    assert recording.steps.incomplete is None
    assert recording.lines().count(_line_of("x += 1")) == 100


def test_a_pause_takes_the_general_path_until_it_ends(module: ModuleType) -> None:
    recording = _record(module, lambda _: module.pausing(line_callback))
    assert recording.result == [FAST, GENERAL, FAST]
    lines = recording.lines()
    assert _line_of("hidden = 1") not in lines
    assert _line_of("shown = 2") in lines


def test_a_watch_made_mid_test_takes_the_general_path(module: ModuleType) -> None:
    """The steps after it look at the watched object, which no line names."""
    module.STATE["n"] = 0
    recording = _record(module, lambda _: module.watching(line_callback))
    assert recording.result == [FAST, GENERAL, GENERAL]
    (first,) = recording.at(_line_of("# watched"))
    (ref,) = first[6]["w"].values()
    (after_update,) = recording.at(_line_of("# after the update"))
    changed = after_update[6]["b"]
    assert [entry for entry in changed if entry[0] == ref["$ref"]], after_update


def test_a_secret_learned_mid_test_is_hidden_from_the_next_step(module: ModuleType) -> None:
    """Learned at one step, the value is looked for from the next one on, which switches
    back to the fast path."""
    module.PROBE = line_callback
    recording = _record(module, lambda _: module.learning())
    assert module.SEEN == [FAST, GENERAL, FAST]
    (applied,) = recording.at(_line_of("# applied"))
    assert MARKER in repr(applied[6]["l"]["again"])
    assert "a-secret-value" not in repr(recording.events[recording.events.index(applied) :])


def test_between_hypothesis_examples_lines_take_the_general_path(module: ModuleType) -> None:
    """An example's own lines are fast; between examples (and once one passed, in the next
    ones) nothing is recorded."""
    recording = _record(
        module, lambda _: module.examples(line_callback), restart=module.example.__code__
    )
    assert recording.result == [GENERAL, FAST, GENERAL, GENERAL]
    assert len(_code_numbers(recording)) == 1  # the first example's steps alone
    assert recording.lines() == [_line_of("# in an example"), _line_of("return len(seen)")]


def test_a_callback_entered_before_a_switch_records_as_the_switch_says(
    module: ModuleType,
) -> None:
    """A fast callback that another thread's pause overtook (called here while paused) takes
    the general path: nothing recorded, nothing raised into the code."""
    recording = _record(
        module, lambda recorder: module.entered_before_a_switch(recorder._on_line_fast)
    )
    assert recording.steps.incomplete is None
    assert recording.at(_line_of("# a fast callback, paused")) == []
    assert recording.at(recording.result)  # after the pause


def test_a_fault_takes_the_general_path(module: ModuleType) -> None:
    """A fault mutes the recorder; a fast callback already entered (called here after the
    fault) records nothing either."""

    def on_new_code(number: int, code: CodeType) -> None:
        if code is module.faulting.__code__:
            raise RuntimeError("injected")

    recording = _record(
        module,
        lambda recorder: module.after_a_fault(recorder._on_line_fast),
        on_new_code=on_new_code,
    )
    assert recording.result == 1
    assert recording.steps.incomplete is not None
    assert "recorder fault at step" in recording.steps.incomplete
    assert recording.at(_line_of("# a fast callback, after a fault")) == []


# -- what the fast path checks at each line -------------------------------------------


def test_a_chunk_due_mid_loop_opens_with_its_keyframe(module: ModuleType) -> None:
    recorder = Recorder(
        Plan(Path(str(module.__file__)).parent, ["test_*.py"]), ValueEncoder(), lambda *_: None
    )
    buffer = RingBuffer(2**30, recorder.take_keyframe, events_per_chunk=5)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        module.counting(200)
        steps = recorder.end_test()
    finally:
        recorder.stop()
    buffer.close_chunk()
    chunks = buffer.chunks()
    assert len(chunks) > 80
    for chunk in chunks:
        keyframe, events = unpack_chunk(chunk.data)
        assert keyframe["step"] == chunk.first_step - 1 == events[0][0] - 1
        assert len(events) <= 5
    assert chunks[-1].last_step == steps.steps


def test_lines_of_a_frame_entered_while_paused_are_not_its_callers(module: ModuleType) -> None:
    """The pause ends in a frame whose call was not recorded: its lines are no steps of the
    frame on top of the shadow stack."""
    recording = _record(module, lambda _: module.resumed_in_a_callee())
    assert recording.result == 1
    assert _line_of("# a frame entered while paused") not in recording.lines()
    assert len(_code_numbers(recording)) == 1


def test_lines_of_a_frame_resumed_on_another_thread_are_not_the_last_threads(
    module: ModuleType,
) -> None:
    """A generator left on one thread's shadow stack (it yielded while paused) resumes on
    another thread, which ends the pause: its lines there are not steps of the first
    thread, whose stack shows the same frame on top."""

    def run_in_a_thread(gen: Iterator[Any]) -> None:
        worker = threading.Thread(target=next, args=(gen,))
        worker.start()
        worker.join()

    recording = _record(module, lambda _: module.resumed_in_another_thread(run_in_a_thread))
    assert recording.result == 1
    assert _line_of("# on another thread") not in recording.lines()
    assert _line_of("after = 1") in recording.lines()


def test_a_closure_rebinding_a_cell_shows_in_its_owner_at_the_next_line(
    module: ModuleType,
) -> None:
    recording = _record(module, lambda _: module.closure())
    assert recording.result == 5
    (step,) = recording.at(_line_of("# after the rebinding"))
    (other,) = step[6]["o"]
    assert other[2] == {"total": 5}


def test_tracemalloc_started_on_a_line_stops_the_recording_at_the_next(
    module: ModuleType,
) -> None:
    recording = _record(module, lambda _: module.starting_tracemalloc(line_callback))
    assert recording.result == (GENERAL, 3)
    assert recording.steps.incomplete is not None
    assert "the test started tracemalloc" in recording.steps.incomplete
    assert _line_of("# traced") not in recording.lines()
