"""A failed test's record and chunks of a counting loop, written by hand: small enough
to check by eye, for the tests of the trace writer and of combining trace files (and for
the writer that a test kills in a process of its own)."""

from __future__ import annotations

from pytest_scope.trace.codec import pack_chunk
from pytest_scope.trace.records import Chunk, TestRecord
from pytest_scope.trace.schema import Kind


def failed_record(nodeid: str = "t.py::test_a", steps: int = 2) -> TestRecord:
    """The record of a failed test ``nodeid`` of ``steps`` steps."""
    return TestRecord(nodeid, 1, "failed", 1.5, 0.25, steps, 1, 0, steps, None)


def counter_chunk(first: int, last: int) -> Chunk:
    """Steps ``first`` to ``last`` of a function whose local ``i`` is the step number."""
    events = [[step, Kind.LINE if step > 1 else Kind.CALL, 1, 1, 1, step, {"l": {"i": step}}]
              for step in range(first, last + 1)]  # fmt: skip
    keyframe = {"step": first - 1, "threads": [[1, [[1, 1, first - 1, {"i": first - 1}]]]]
                if first > 1 else [], "suspended": []}  # fmt: skip
    return Chunk(first, last, pack_chunk(keyframe, events))
