"""The rebinding check of a frame without line events: at each of its steps, every local
that holds another object than its shadow recorded is checked again, and one that was
deleted is recorded as deleted; on the compiled build in one pass over the frame's locals
(``_rebinding.c``), on the pure one name by name. Both must record the same changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.modules import module_from_source

from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.codec import unpack_chunk
from pytest_scope.trace.schema import Kind, Payload

PROJECT_MODULE = """
def rebinding(items, step):
    total = 0
    box = [0]
    kept = box
    for item in items:
        total = total + item
        box = [total]
        yield total
    del box

    def closure():
        return total

    yield closure
"""


def _changes(tmp_path: Path) -> list[tuple[int, list[str], list[str]]]:
    """(kind, the locals recorded as changed, those deleted) of each step of the generator,
    a frame of project code: recorded without line events."""
    module = module_from_source(tmp_path / "stepping.py", PROJECT_MODULE)
    recorder = Recorder(Plan(tmp_path, ["test_*.py"]), ValueEncoder(), lambda *_: None)
    buffer = RingBuffer(2**30, recorder.take_keyframe)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        produced = list(module.rebinding([1, 2], 1))
        recorder.end_test()
    finally:
        recorder.stop()
    assert produced[:2] == [1, 3]
    assert produced[2]() == 3
    buffer.close_chunk()
    events: list[list[Any]] = [
        event for chunk in buffer.chunks() for event in unpack_chunk(chunk.data)[1]
    ]
    return [
        (
            event[1],
            sorted((event[6] or {}).get(Payload.LOCALS, {})),
            sorted((event[6] or {}).get(Payload.DELETED, [])),
        )
        for event in events
    ]


def test_each_step_records_the_locals_rebound_since_the_last(tmp_path: Path) -> None:
    assert _changes(tmp_path) == [
        (Kind.CALL, ["items", "step"], []),
        # Its lines ran unseen: what they bound shows at its next step.
        (Kind.YIELD, ["box", "item", "kept", "total"], []),
        (Kind.RESUME, [], []),
        # ``kept`` still holds the first list, which ``box`` let go of.
        (Kind.YIELD, ["box", "item", "total"], []),
        (Kind.RESUME, [], []),
        # A cell (``total``, read by the closure) is compared like any other local.
        (Kind.YIELD, ["closure"], ["box"]),
        (Kind.RESUME, [], []),
        (Kind.RETURN, [], []),
    ]
