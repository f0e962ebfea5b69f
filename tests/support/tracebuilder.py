"""Synthetic trace files for replay tests, built the way the recorder builds them.

``Recording`` keeps the state as the recorder does (a frame leaves the stack right after
its ``return``/``yield``/``unwind`` event), emits events in the wire format of
``pytest_scope.trace.schema``, closes chunks with keyframes taken from its own running state,
and remembers the expected state at every step: an oracle independent of ``replay``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_scope.trace.codec import Event, Keyframe, pack_chunk
from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.records import Chunk, TestRecord
from pytest_scope.trace.schema import LEAVING_KINDS, Kind
from pytest_scope.trace.writer import TraceWriter

RawFrame = list[Any]  # [frame_no, code_no, line, {name: value}]

_opened: list[TraceFile] = []


def open_trace(path: Path) -> TraceFile:
    """Open a trace file that ``close_traces`` closes (unclosed SQLite connections warn)."""
    trace = TraceFile(path)
    _opened.append(trace)
    return trace


def close_traces() -> None:
    while _opened:
        _opened.pop().close()


@dataclass
class Expected:
    """The state at one step as the recorder saw it."""

    thread: int
    stack: list[tuple[int, int, dict[str, Any]]]  # (code_no, line, locals), outermost first
    exception: Any
    return_value: Any


class Recording:
    """One test's events, chunks and expected states."""

    def __init__(self, events_per_chunk: int | None = None, snapshots: bool = True) -> None:
        self.events_per_chunk = events_per_chunk
        self.snapshots = snapshots
        self.threads: dict[int, list[RawFrame]] = {}
        self.suspended: dict[int, RawFrame] = {}
        self.step = 0
        self.next_frame_no = 0
        self.chunks: list[Chunk] = []
        self.expected: dict[int, Expected] = {}
        self._keyframe: Keyframe | None = None
        self._events: list[Event] = []

    def event(
        self,
        kind: int,
        thread: int = 1,
        code_no: int = 1,
        line: int = 1,
        *,
        resume_frame: int | None = None,
        unwound: int = 0,
        **payload: Any,
    ) -> int:
        """Record one event; ``payload`` holds the schema's keys (l, d, o, r, x)."""
        if self._keyframe is None:
            self._keyframe = self.keyframe()
        stack = self.threads.setdefault(thread, [])
        if unwound:
            del stack[-unwound:]
            payload["u"] = unwound
        if kind == Kind.CALL:
            self.next_frame_no += 1
            stack.append([self.next_frame_no, code_no, line, {}])
        elif kind == Kind.RESUME:
            assert resume_frame is not None
            stack.append(self.suspended.pop(resume_frame))
        frame = stack[-1]
        frame[2] = line
        frame[3].update(payload.get("l", {}))
        for name in payload.get("d", []):
            del frame[3][name]
        for frame_no, outer_line, changed, deleted in payload.get("o", []):
            (outer,) = [f for f in stack if f[0] == frame_no]
            outer[2] = outer_line
            outer[3].update(changed)
            for name in deleted:
                del outer[3][name]
        self.step += 1
        self._events.append([self.step, kind, thread, frame[0], frame[1], line, payload or None])
        if self.snapshots:
            self.expected[self.step] = Expected(
                thread,
                [(f[1], f[2], copy.deepcopy(f[3])) for f in stack],
                payload.get("x"),
                payload.get("r"),
            )
        if kind in LEAVING_KINDS:
            left = stack.pop()
            if kind == Kind.YIELD:
                self.suspended[left[0]] = left
        if self.events_per_chunk and len(self._events) >= self.events_per_chunk:
            self.split()
        return self.step

    def keyframe(self) -> Keyframe:
        """The full state after the current step, as the recorder takes it."""
        return copy.deepcopy(
            {
                "step": self.step,
                "threads": [[t, stack] for t, stack in self.threads.items() if stack],
                "suspended": list(self.suspended.values()),
            }
        )

    def split(self) -> None:
        """Close the open chunk: the next event starts a new one with a keyframe."""
        if self._keyframe is None or not self._events:
            return
        events = self._events
        self.chunks.append(Chunk(events[0][0], events[-1][0], pack_chunk(self._keyframe, events)))
        self._keyframe, self._events = None, []

    def top_frame(self, thread: int = 1) -> int:
        return int(self.threads[thread][-1][0])


CODES = {
    1: ("test_main", "test_sample.py", 10),
    2: ("helper", "sample.py", 1),
    3: ("Point.move", "sample.py", 20),
    4: ("numbers", "sample.py", 30),
    5: ("worker", "sample.py", 40),
}
SOURCES = {
    "test_sample.py": "".join(f"# test line {n}\n" for n in range(1, 60)),
    "sample.py": "".join(f"# sample line {n}\n" for n in range(1, 60)),
}


def write_trace(
    path: Path,
    tests: dict[str, Recording],
    *,
    run_id: str | None = None,
    outcomes: dict[str, str] | None = None,
    failure_steps: dict[str, int] | None = None,
    dropped: dict[str, int] | None = None,
) -> Path:
    """Write recordings as one run's trace file, with the sample codes and sources."""
    writer = TraceWriter(path, {"run_id": run_id or path.stem})
    for code_no, (qualname, filename, firstlineno) in CODES.items():
        writer.add_code(code_no, qualname, filename, firstlineno)
    for filename, text in SOURCES.items():
        writer.add_source(filename, text)
    for nodeid, recording in tests.items():
        recording.split()
        chunks = recording.chunks[(dropped or {}).get(nodeid, 0) :]
        first_step = chunks[0].first_step if chunks else recording.step + 1
        writer.write_test(
            TestRecord(
                nodeid=nodeid,
                attempt=1,
                outcome=(outcomes or {}).get(nodeid, "passed"),
                started=0.0,
                duration=0.01,
                steps=recording.step,
                first_step=first_step,
                dropped_steps=first_step - 1,
                failure_step=(failure_steps or {}).get(nodeid),
                incomplete=None,
            ),
            chunks,
        )
    writer.close()
    return path
