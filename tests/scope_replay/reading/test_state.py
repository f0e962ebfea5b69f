"""State reconstruction from keyframes and events, against hand-built and generated traces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tracebuilder import CODES, Recording, close_traces, open_trace, write_trace

from pytest_scope.errors import NotFoundError, TraceFileError
from pytest_scope.trace.codec import pack_chunk
from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.records import Chunk, TestRecord
from pytest_scope.trace.schema import Kind
from pytest_scope.trace.writer import TraceWriter
from replay.reading.state import State, failure_step, state_at, timeline

NODEID = "test_sample.py::test_main"


@pytest.fixture(autouse=True)
def _close_traces() -> Iterator[None]:
    yield
    close_traces()


def _open(tmp_path: Path, recording: Recording, **options: Any) -> TraceFile:
    return open_trace(write_trace(tmp_path / "run.sqlite", {NODEID: recording}, **options))


def _stack(state: State) -> list[tuple[str, int, dict[str, Any]]]:
    return [(frame["function"], frame["line"], frame["locals"]) for frame in state.stack]


def _at(trace: TraceFile, step: int) -> State:
    (test,) = trace.tests()
    return state_at(trace, test, step)


def test_hand_built_chunks_replay_exactly(tmp_path: Path) -> None:
    """The wire format written out by hand, independent of the test builder."""
    first = pack_chunk(
        {"step": 0, "threads": [], "suspended": []},
        [
            [1, Kind.CALL, 1, 1, 1, 10, {"l": {"items": []}}],
            [2, Kind.LINE, 1, 1, 1, 11, None],
            [3, Kind.CALL, 1, 2, 2, 1, {"l": {"items": [], "n": 3}}],
            [4, Kind.LINE, 1, 2, 2, 2, {"l": {"items": [3]}, "o": [[1, 12, {"items": [3]}, []]]}],
        ],
    )
    second = pack_chunk(
        {
            "step": 4,
            "threads": [[1, [[1, 1, 12, {"items": [3]}], [2, 2, 2, {"items": [3], "n": 3}]]]],
            "suspended": [],
        },
        [
            [5, Kind.RETURN, 1, 2, 2, 3, {"r": 3}],
            [6, Kind.LINE, 1, 1, 1, 13, {"l": {"total": 3}}],
            [7, Kind.EXCEPTION, 1, 1, 1, 13, {"x": {"$type": "AssertionError", "attrs": {}}}],
        ],
    )
    path = tmp_path / "run.sqlite"
    writer = TraceWriter(path, {"run_id": "hand"})
    for code_no, (qualname, filename, firstlineno) in CODES.items():
        writer.add_code(code_no, qualname, filename, firstlineno)
    record = TestRecord(NODEID, 1, "failed", 0.0, 0.1, 7, 1, 0, 7, None)
    writer.write_test(record, [Chunk(1, 4, first), Chunk(5, 7, second)])
    writer.close()
    trace = open_trace(path)

    assert _stack(_at(trace, 2)) == [("test_main", 11, {"items": []})]
    assert _stack(_at(trace, 4)) == [
        ("test_main", 12, {"items": [3]}),
        ("helper", 2, {"items": [3], "n": 3}),
    ]
    returned = _at(trace, 5)
    assert returned.return_value == 3
    assert returned.event == {
        "kind": "return", "function": "helper", "file": "sample.py", "line": 3, "thread": 1,
    }  # fmt: skip
    assert [frame["function"] for frame in returned.stack] == ["test_main", "helper"]
    assert _stack(_at(trace, 6)) == [("test_main", 13, {"items": [3], "total": 3})]
    failed = _at(trace, 7)
    assert failed.exception == {"$type": "AssertionError", "attrs": {}}
    assert (failed.test, failed.run, failed.step, failed.steps) == (NODEID, "hand", 7, 7)
    (test,) = trace.tests()
    assert failure_step(trace, test) == 7


def _nested(events_per_chunk: int | None = None) -> Recording:
    rec = Recording(events_per_chunk)
    rec.event(Kind.CALL, code_no=1, line=10, l={"p": {"$type": "Point", "attrs": {"x": 1}}})
    outer = rec.top_frame()
    rec.event(Kind.LINE, line=11, l={"log": []})
    rec.event(Kind.CALL, code_no=3, line=20, l={"self": {"$type": "Point", "attrs": {"x": 1}}})
    rec.event(Kind.LINE, code_no=3, line=21)
    rec.event(
        Kind.LINE, code_no=3, line=22,
        l={"self": {"$type": "Point", "attrs": {"x": 2}}},
        o=[[outer, 11, {"p": {"$type": "Point", "attrs": {"x": 2}}, "log": ["moved"]}, []]],
    )  # fmt: skip
    rec.event(Kind.RETURN, code_no=3, line=22, r=None)
    rec.event(Kind.LINE, line=12, l={"tmp": 1})
    rec.event(Kind.LINE, line=13, d=["tmp"])
    return rec


def test_nested_calls_and_a_callee_mutating_the_caller(tmp_path: Path) -> None:
    trace = _open(tmp_path, _nested())
    assert _stack(_at(trace, 4)) == [
        ("test_main", 11, {"p": {"$type": "Point", "attrs": {"x": 1}}, "log": []}),
        ("Point.move", 21, {"self": {"$type": "Point", "attrs": {"x": 1}}}),
    ]
    caller, callee = _at(trace, 5).stack
    assert caller["locals"] == {"p": {"$type": "Point", "attrs": {"x": 2}}, "log": ["moved"]}
    assert callee["locals"]["self"]["attrs"] == {"x": 2}
    at_return = _at(trace, 6)
    assert len(at_return.stack) == 2, "a returning frame is shown at its own step"
    assert _stack(_at(trace, 7)) == [
        ("test_main", 12, {"p": {"$type": "Point", "attrs": {"x": 2}}, "log": ["moved"], "tmp": 1}),
    ]
    assert "tmp" not in _at(trace, 8).stack[0]["locals"], "deleted locals disappear"


def test_generators_keep_their_locals_while_suspended(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, line=10, l={"seen": []})
    rec.event(Kind.CALL, code_no=4, line=30, l={"limit": 3})
    gen = rec.top_frame()
    rec.event(Kind.LINE, code_no=4, line=31, l={"n": 0})
    rec.event(Kind.YIELD, code_no=4, line=31, r=0)
    rec.event(Kind.LINE, line=11, l={"seen": [0]})
    rec.event(Kind.RESUME, code_no=4, line=31, resume_frame=gen)
    rec.event(Kind.LINE, code_no=4, line=32, l={"n": 1})
    rec.event(Kind.YIELD, code_no=4, line=31, r=1)
    rec.event(Kind.LINE, line=12, l={"seen": [0, 1]})
    trace = _open(tmp_path, rec)
    yielded = _at(trace, 4)
    assert yielded.return_value == 0
    assert yielded.stack[-1]["function"] == "numbers"
    assert _stack(_at(trace, 5)) == [("test_main", 11, {"seen": [0]})]
    assert _stack(_at(trace, 6)) == [
        ("test_main", 11, {"seen": [0]}),
        ("numbers", 31, {"limit": 3, "n": 0}),
    ]
    assert _at(trace, 8).return_value == 1
    assert _stack(_at(trace, 9)) == [("test_main", 12, {"seen": [0, 1]})]


def test_an_exception_unwinding_frames(tmp_path: Path) -> None:
    error = {"$type": "KeyError", "attrs": {"args": ["missing"]}}
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(Kind.CALL, code_no=2, line=1, l={"key": "missing"})
    rec.event(Kind.EXCEPTION, code_no=2, line=2, x=error)
    rec.event(Kind.UNWIND, code_no=2, line=2, x=error)
    rec.event(Kind.EXCEPTION, line=11, x=error)
    rec.event(Kind.HANDLED, line=11, x=error)
    trace = _open(tmp_path, rec)
    unwinding = _at(trace, 4)
    assert [f["function"] for f in unwinding.stack] == ["test_main", "helper"]
    assert unwinding.exception == error
    raised = _at(trace, 5)
    assert [f["function"] for f in raised.stack] == ["test_main"]
    assert (raised.event["kind"], raised.exception) == ("exception", error)
    assert _at(trace, 6).event["kind"] == "handled"


def test_frames_that_left_without_an_event_are_popped(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(Kind.CALL, code_no=4, line=30, l={"limit": 3})
    rec.event(Kind.LINE, line=11, unwound=1)  # a generator closed without PY_UNWIND
    trace = _open(tmp_path, rec)
    assert _stack(_at(trace, 3)) == [("test_main", 11, {})]


def test_two_threads_interleaved(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, thread=1, line=10, l={"threads": 1})
    rec.event(Kind.CALL, thread=2, code_no=5, line=40, l={"job": "a"})
    rec.event(Kind.LINE, thread=1, line=11)
    rec.event(Kind.RETURN, thread=2, code_no=5, line=41, r="done")
    rec.event(Kind.LINE, thread=1, line=12, l={"threads": 0})
    rec.event(Kind.CALL, thread=2, code_no=5, line=40, l={"job": "b"})
    trace = _open(tmp_path, rec)
    assert _stack(_at(trace, 3)) == [("test_main", 11, {"threads": 1})]
    returned = _at(trace, 4)
    assert returned.event["thread"] == 2
    assert _stack(returned) == [("worker", 41, {"job": "a"})]
    assert _stack(_at(trace, 5)) == [("test_main", 12, {"threads": 0})]
    assert _stack(_at(trace, 6)) == [("worker", 40, {"job": "b"})], "the finished frame is gone"


def test_a_generator_yielded_in_one_thread_resumes_in_another(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, thread=1, line=10)
    rec.event(Kind.CALL, thread=2, code_no=5, line=40)
    rec.event(Kind.CALL, thread=2, code_no=4, line=30, l={"n": 1})
    gen = rec.top_frame(thread=2)
    rec.event(Kind.YIELD, thread=2, code_no=4, line=31, r=1)
    rec.event(Kind.RESUME, thread=1, code_no=4, line=31, resume_frame=gen)
    trace = _open(tmp_path, rec)
    assert _stack(_at(trace, 5)) == [("test_main", 10, {}), ("numbers", 31, {"n": 1})]


def test_a_step_in_a_later_chunk_starts_from_its_keyframe(tmp_path: Path) -> None:
    whole = _open(tmp_path, _nested())
    chunked = open_trace(write_trace(tmp_path / "chunked.sqlite", {NODEID: _nested(3)}))
    (test,) = chunked.tests()
    chunk = chunked.chunk_at(test, 7)
    assert (chunk.seq, chunk.first_step, chunk.keyframe["step"]) == (2, 7, 6)
    for step in range(1, 9):
        assert _stack(_at(chunked, step)) == _stack(_at(whole, step)), f"step {step}"
    assert _stack(_at(chunked, 7))[0][2]["log"] == ["moved"], "the outer change is in the keyframe"


def test_steps_out_of_range_name_the_valid_range(tmp_path: Path) -> None:
    trace = _open(tmp_path, _nested())
    for step in (0, -1, 9):
        with pytest.raises(NotFoundError, match=r"out of range .* from 1 to 8"):
            _at(trace, step)


def test_steps_dropped_by_the_ring_buffer_are_out_of_range(tmp_path: Path) -> None:
    rec = Recording(events_per_chunk=3)
    for line in range(1, 11):
        rec.event(Kind.CALL if line == 1 else Kind.LINE, line=line, l={"i": line})
    trace = _open(tmp_path, rec, dropped={NODEID: 2})
    (test,) = trace.tests()
    assert (test.first_step, test.dropped_steps) == (7, 6)
    with pytest.raises(NotFoundError, match=r"from 7 to 10 \(steps 1-6 were dropped"):
        _at(trace, 6)
    assert _stack(_at(trace, 7)) == [("test_main", 7, {"i": 7})]
    assert [row["step"] for row in timeline(trace, test)] == [7, 8, 9, 10]


def test_timeline_rows(tmp_path: Path) -> None:
    trace = _open(tmp_path, _nested())
    (test,) = trace.tests()
    rows = timeline(trace, test)
    assert [row["step"] for row in rows] == list(range(1, 9))
    assert rows[2] == {
        "step": 3, "kind": "call", "function": "Point.move", "file": "sample.py", "line": 20,
        "thread": 1,
    }  # fmt: skip


def test_failure_step_is_the_recorded_one_or_the_last_step(tmp_path: Path) -> None:
    trace = open_trace(
        write_trace(
            tmp_path / "run.sqlite",
            {NODEID: _nested(), "test_sample.py::test_other": _nested()},
            failure_steps={"test_sample.py::test_other": 5},
        )
    )
    passing, failing = trace.tests()
    assert (failure_step(trace, passing), failure_step(trace, failing)) == (8, 5)


def test_a_malformed_chunk_is_a_corrupt_trace_file(tmp_path: Path) -> None:
    bad = pack_chunk(
        {"step": 0, "threads": [], "suspended": []}, [[1, Kind.LINE, 1, 1, 1, 1, None]]
    )
    path = tmp_path / "run.sqlite"
    writer = TraceWriter(path, {})
    writer.add_code(1, "f", "f.py", 1)
    writer.write_test(
        TestRecord(NODEID, 1, "passed", 0, 0, 1, 1, 0, None, None), [Chunk(1, 1, bad)]
    )
    writer.close()
    with pytest.raises(TraceFileError, match=r"run\.sqlite: corrupt chunk 0 of .*not on top"):
        _at(open_trace(path), 1)


# -- property: replay equals the recorder's own state at every step ---------------------

_names = st.sampled_from(["a", "b", "c", "items"])
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=6,
)
_actions = st.lists(
    st.tuples(
        st.sampled_from(["set", "del", "call", "return", "outer", "yield", "resume", "thread"]),
        _names,
        _values,
        st.booleans(),
    ),
    max_size=60,
)


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=_actions, splits=st.sets(st.integers(1, 60)))
def test_state_at_every_step_equals_the_recorded_state(
    tmp_path: Path, actions: list[tuple[str, str, Any, bool]], splits: set[int]
) -> None:
    rec = Recording()
    rec.event(Kind.CALL, thread=1, code_no=1, line=10)
    for action, name, value, flag in actions:
        thread = 2 if flag and 2 in rec.threads and rec.threads[2] else 1
        stack = rec.threads[thread]
        top = stack[-1] if stack else None
        line = rec.step % 50 + 1
        if top is None:
            rec.event(Kind.CALL, thread=thread, code_no=5, line=line)
        elif action == "set":
            rec.event(Kind.LINE, thread=thread, code_no=top[1], line=line, l={name: value})
        elif action == "del" and name in top[3]:
            rec.event(Kind.LINE, thread=thread, code_no=top[1], line=line, d=[name])
        elif action == "call":
            rec.event(Kind.CALL, thread=thread, code_no=2, line=line, l={name: value})
        elif action == "return" and len(stack) > 1:
            rec.event(Kind.RETURN, thread=thread, code_no=top[1], line=line, r=value)
        elif action == "outer" and len(stack) > 1:
            outer = stack[0]
            change = [outer[0], line, {name: value}, [n for n in outer[3] if n != name][:1]]
            rec.event(Kind.LINE, thread=thread, code_no=top[1], line=line, o=[change])
        elif action == "yield" and len(stack) > 1:
            rec.event(Kind.YIELD, thread=thread, code_no=top[1], line=line, r=value)
        elif action == "resume" and rec.suspended:
            frame_no = next(iter(rec.suspended))
            code_no = rec.suspended[frame_no][1]
            rec.event(Kind.RESUME, thread=thread, code_no=code_no, line=line, resume_frame=frame_no)
        elif action == "thread" and 2 not in rec.threads:
            rec.event(Kind.CALL, thread=2, code_no=5, line=line, l={name: value})
        else:
            rec.event(Kind.LINE, thread=thread, code_no=top[1], line=line, x=value)
        if rec.step in splits:
            rec.split()
    path = tmp_path / f"run-{len(list(tmp_path.iterdir()))}.sqlite"
    trace = open_trace(write_trace(path, {NODEID: rec}))
    (test,) = trace.tests()
    for step, expected in rec.expected.items():
        state = state_at(trace, test, step)
        assert state.event["thread"] == expected.thread
        assert [(f["function"], f["line"], f["locals"]) for f in state.stack] == [
            (CODES[code_no][0], line, values) for code_no, line, values in expected.stack
        ], f"step {step}"
        assert (state.exception, state.return_value) == (expected.exception, expected.return_value)
