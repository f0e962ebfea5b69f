"""The work of a step follows what the step could have changed, not the state's size or
the stack's depth: counted as the objects the recorder checks per step (a count, never a
time; the benchmark measures time)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.modules import module_from_source

from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.event_path import compiled
from pytest_scope.capture.objects import ObjectTable
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.codec import unpack_chunk

SHAPES = """
PASSES = 3000


class Point:
    def __init__(self, i):
        self.x = i
        self.y = -i


def one_int_loop():
    x = 0
    for _ in range(PASSES):
        x += 1
    return x


def beside_big_state():
    items = list(range(5000))
    points = [Point(i) for i in range(300)]
    grid = [[row * column for column in range(50)] for row in range(50)]
    x = 0
    for _ in range(PASSES):
        x += 1
    return x, items, points, grid


def descend(depth, shared):
    if depth:
        return descend(depth - 1, shared)
    x = 0
    for _ in range(PASSES):
        x += 1
    return x


def deep_recursion():
    return descend(60, list(range(1000)))
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    yield module_from_source(tmp_path_factory.mktemp("shapes") / "test_shapes.py", SHAPES)


# The counts come from wrapping ``ObjectTable._check``, which the compiled build calls
# natively, past any wrapper: there they would be zero whatever a step did.
counts_checks = pytest.mark.skipif(
    compiled(), reason="counts the pure path's calls; the compiled build calls natively"
)


def _checks_per_step(
    module: ModuleType, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[float, int]:
    """Objects checked per step while ``name`` runs recorded (keyframes excluded)."""
    checked = [0]
    check = ObjectTable._check

    def counting(self: ObjectTable, *args: Any) -> int:
        checked[0] += 1
        return check(self, *args)

    monkeypatch.setattr(ObjectTable, "_check", counting)
    recorder = Recorder(
        Plan(Path(module.__file__).parent, ["test_*.py"]), ValueEncoder(), lambda *_: None
    )
    # One chunk for the whole test: no keyframe walks everything meanwhile.
    buffer = RingBuffer(2**30, recorder.take_keyframe, events_per_chunk=10**7)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        getattr(module, name)()
        steps = recorder.end_test()
    finally:
        recorder.stop()
        monkeypatch.undo()
    assert steps.incomplete is None
    return checked[0] / steps.steps, steps.steps


@counts_checks
def test_a_step_checks_what_it_could_change_not_the_state_beside_it(
    shapes: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, steps = _checks_per_step(shapes, "one_int_loop", monkeypatch)
    beside, more_steps = _checks_per_step(shapes, "beside_big_state", monkeypatch)
    assert steps > 6000 and more_steps > 6000
    assert alone < 0.01
    # Building the state costs a few hundred checks once; the loop's steps check nothing.
    assert 0 < beside < 0.2


@counts_checks
def test_a_step_deep_in_a_recursion_does_not_look_at_the_frames_above(
    shapes: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep, steps = _checks_per_step(shapes, "deep_recursion", monkeypatch)
    assert steps > 6000
    # 61 calls each check the shared list once; the 6,000 loop steps check nothing.
    assert 0 < deep < 0.05


THREADED = """
def spin(rounds):
    x = 0
    for _ in range(rounds):
        x += 1
    return x
"""


def test_threads_stepping_together_keep_every_chunk_whole(tmp_path: Path) -> None:
    """Line steps of two threads, with the interpreter switching threads as often as it
    can, and chunks of a few events: each chunk still starts with its own keyframe."""
    module = module_from_source(tmp_path / "test_threaded.py", THREADED)
    recorder = Recorder(Plan(tmp_path, ["test_*.py"]), ValueEncoder(), lambda *_: None)
    buffer = RingBuffer(2**30, recorder.take_keyframe, events_per_chunk=3)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        workers = [threading.Thread(target=module.spin, args=(3000,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        module.spin(3000)
        for worker in workers:
            worker.join()
        steps = recorder.end_test()
    finally:
        recorder.stop()
        sys.setswitchinterval(interval)
    buffer.close_chunk()
    assert steps.incomplete is None
    chunks = buffer.chunks()
    assert len(chunks) > 1000
    for chunk in chunks:
        keyframe, events = unpack_chunk(chunk.data)
        assert keyframe["step"] == chunk.first_step - 1 == events[0][0] - 1
    assert [event[0] for chunk in chunks for event in unpack_chunk(chunk.data)[1]] == list(
        range(1, steps.steps + 1)
    )
