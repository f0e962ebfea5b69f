"""Property: for random mutation sequences, the real recorder's deltas and keyframes replay
to the state that ``sys.settrace`` snapshots at the same line step.

Recorder and settrace run together in this process on a generated module; chunks are
made small so that most steps are replayed from a keyframe in a later chunk, and the
ring buffer is sometimes capped so that the oldest chunks are dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.modules import module_from_source
from support.tracebuilder import close_traces, open_trace

from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.records import TestRecord
from pytest_scope.trace.writer import TraceWriter
from replay.reading.state import state_at, timeline

DRIVEN = """
class Box:
    pass


def mutate(target, op, key, value):
    if op == "append":
        target.append(value)
    elif op == "sort":
        target.sort()
    elif op == "pop":
        if target:
            target.pop()
    elif op == "set":
        target[key] = value
    elif op == "update":
        target.update({key: value})
    elif op == "remove":
        target.pop(key, None)
    elif op == "attr":
        setattr(target, key, value)
    else:
        target.__dict__.clear()
    return op  # a line step after the change: the caller must already show it


def steps(ops):
    for op in ops:
        yield op


def drive(ops):
    items = []
    table = {}
    box = Box()
    for op, key, value in steps(ops):
        if op in ("append", "sort", "pop"):
            mutate(items, op, key, value)
        elif op in ("set", "update", "remove"):
            mutate(table, op, key, value)
        elif op == "local":
            table = {key: value}
        else:
            mutate(box, op, key, value)
    return len(items)
"""

_ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["append", "sort", "pop", "set", "update", "remove", "attr", "clear", "local"]
        ),
        st.sampled_from(["a", "b", "c"]),
        st.integers(-5, 5),
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    root = tmp_path_factory.mktemp("driven")
    source = root / "test_driven.py"
    yield source, module_from_source(source, DRIVEN)
    close_traces()


def _plain(value: Any) -> Any:
    """The form replay resolves the few kinds of values the module makes to: a tuple is a
    tuple (`replay.reading.references`), else the JSON forms of `pytest_scope.trace.schema`."""
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if type(value).__name__ == "Box":
        return {"$type": "test_driven.Box", "attrs": _plain(vars(value))}
    if type(value).__name__ == "generator":
        return {"$type": "generator", "repr": value.__qualname__}
    return value


def _record_with_truth(
    source: Path, module: ModuleType, ops: list[Any], per_chunk: int, cap: int
) -> tuple[RingBuffer, int, list[list[tuple[str, int, dict[str, Any]]]], dict[int, Any]]:
    """Run ``drive(ops)`` recorded, with settrace snapshotting every line step."""
    codes: dict[int, Any] = {}
    recorder = Recorder(
        Plan(source.parent, ["test_*.py"]),
        ValueEncoder(),
        lambda no, code: codes.update({no: code}),
    )
    truth: list[list[tuple[str, int, dict[str, Any]]]] = []

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != str(source):
            return None
        if event == "line":
            stack = []
            walker: FrameType | None = frame
            while walker is not None and walker.f_code.co_filename == str(source):
                stack.append(
                    (walker.f_code.co_qualname, walker.f_lineno, _plain(dict(walker.f_locals)))
                )
                walker = walker.f_back
            truth.append(stack[::-1])
        return trace

    buffer = RingBuffer(cap, recorder.take_keyframe, events_per_chunk=per_chunk)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        sys.settrace(trace)
        try:
            module.drive(ops)
        finally:
            sys.settrace(None)
            steps = recorder.end_test()
    finally:
        recorder.stop()
    buffer.close_chunk()
    assert steps.incomplete is None
    return buffer, steps.steps, truth, codes


@settings(
    deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops, per_chunk=st.integers(2, 16), capped=st.booleans())
def test_every_line_step_replays_to_the_settrace_snapshot(
    driven: tuple[Path, ModuleType],
    tmp_path: Path,
    ops: list[Any],
    per_chunk: int,
    capped: bool,
) -> None:
    source, module = driven
    cap = 1500 if capped else 2**30
    buffer, steps, truth, codes = _record_with_truth(source, module, ops, per_chunk, cap)
    chunks = buffer.chunks()
    path = tmp_path / f"run-{len(list(tmp_path.iterdir()))}.sqlite"
    writer = TraceWriter(path, {"format": "pytest-scope-trace", "schema_version": "1"})
    for code_no, code in codes.items():
        writer.add_code(code_no, code.co_qualname, code.co_filename, code.co_firstlineno)
    writer.write_test(
        TestRecord("test_driven.py::drive", 1, "passed", 0, 0, steps, chunks[0].first_step,
                   buffer.dropped_steps, None, None),
        chunks,
    )  # fmt: skip
    writer.close()
    trace = open_trace(path)
    (test,) = trace.tests()
    if capped:
        assert test.first_step > 1 or buffer.dropped_steps == 0
    line_steps = [row for row in timeline(trace, test) if row["kind"] == "line"]
    expected = truth[len(truth) - len(line_steps) :]
    assert line_steps and len(line_steps) <= len(truth)
    for row, true_stack in zip(line_steps, expected, strict=True):
        state = state_at(trace, test, row["step"])
        replayed = [(frame["function"], frame["line"], frame["locals"]) for frame in state.stack]
        assert replayed == true_stack, f"step {row['step']} of {steps}"
