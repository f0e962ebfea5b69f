"""Moves through a recording, checked against the recorder's own stacks (``tracebuilder``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tracebuilder import Recording, close_traces, open_trace, write_trace

from pytest_scope.trace.schema import Kind
from replay.reading.cursor import BreakpointError, Cursor
from replay.reading.state import state_at

NODEID = "test_sample.py::test_main"


_cursors: list[Cursor] = []


@pytest.fixture(autouse=True)
def _close_traces() -> Iterator[None]:
    yield
    while _cursors:
        _cursors.pop().close()
    close_traces()


def _cursor(path: Path, rec: Recording, **options: Any) -> Cursor:
    trace = open_trace(write_trace(path, {NODEID: rec}, **options))
    (test,) = trace.tests()
    _cursors.append(Cursor(trace, test))
    return _cursors[-1]


def _oracle_moves(rec: Recording, steps: list[int], step: int) -> dict[str, int | None]:
    """pdb's s and n, both ways, from the recorder's stacks."""
    thread = rec.expected[step].thread
    depth = len(rec.expected[step].stack)
    later = [s for s in steps if s > step and rec.expected[s].thread == thread]
    earlier = [s for s in reversed(steps) if s < step and rec.expected[s].thread == thread]
    shallow = [s for s in later if len(rec.expected[s].stack) <= depth]
    shallow_back = [s for s in earlier if len(rec.expected[s].stack) <= depth]
    return {
        "s": later[0] if later else None,
        "rs": earlier[0] if earlier else None,
        "n": shallow[0] if shallow else None,
        "rn": shallow_back[0] if shallow_back else None,
    }


def _cursor_moves(cursor: Cursor, step: int) -> dict[str, int | None]:
    cursor.step = step
    return {
        "s": cursor.step_into(),
        "rs": cursor.step_into(False),
        "n": cursor.step_over(),
        "rn": cursor.step_over(False),
    }


_actions = st.lists(
    st.tuples(
        st.sampled_from(["line", "call", "return", "yield", "resume", "thread"]), st.booleans()
    ),
    max_size=50,
)


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=_actions, splits=st.sets(st.integers(1, 50)), drop=st.booleans())
def test_depths_and_steps_match_the_recorded_stacks(
    tmp_path: Path, actions: list[tuple[str, bool]], splits: set[int], drop: bool
) -> None:
    rec = Recording()
    rec.event(Kind.CALL, thread=1, code_no=1, line=10)
    for action, other_thread in actions:
        thread = 2 if other_thread and rec.threads.get(2) else 1
        stack = rec.threads[thread]
        line = rec.step % 50 + 1
        if not stack:
            rec.event(Kind.CALL, thread=thread, code_no=5, line=line)
        elif action == "call":
            rec.event(Kind.CALL, thread=thread, code_no=2, line=line)
        elif action == "return" and len(stack) > 1:
            rec.event(Kind.RETURN, thread=thread, code_no=stack[-1][1], line=line)
        elif action == "yield" and len(stack) > 1:
            rec.event(Kind.YIELD, thread=thread, code_no=stack[-1][1], line=line)
        elif action == "resume" and rec.suspended:
            frame_no = next(iter(rec.suspended))
            code_no = rec.suspended[frame_no][1]
            rec.event(Kind.RESUME, thread=thread, code_no=code_no, line=line, resume_frame=frame_no)
        elif action == "thread" and 2 not in rec.threads:
            rec.event(Kind.CALL, thread=2, code_no=5, line=line)
        else:  # a local that changes: keyframes hold it, later steps change it
            rec.event(Kind.LINE, thread=thread, code_no=stack[-1][1], line=line, l={"n": line})
        if rec.step in splits:
            rec.split()
    rec.split()
    dropped = 1 if drop and len(rec.chunks) > 1 else 0
    path = tmp_path / f"run-{len(list(tmp_path.iterdir()))}.sqlite"
    cursor = _cursor(path, rec, dropped={NODEID: dropped})
    steps = [row["step"] for row in cursor.rows]
    assert steps == list(range(rec.chunks[dropped].first_step, rec.step + 1))
    # Depths relative to each thread's first kept step, as the stack there was.
    assert cursor.depths == [len(rec.expected[step].stack) for step in steps]
    for step in steps:
        assert _cursor_moves(cursor, step) == _oracle_moves(rec, steps, step), step
    # The cursor's reader keeps a chunk between steps: its states are the engine's own.
    for step in [*steps, *reversed(steps)]:
        cursor._states.clear()
        assert cursor.state(step) == state_at(cursor.trace, cursor.test, step)


def test_frames_left_without_an_event_are_dropped_by_name(tmp_path: Path) -> None:
    """A closed generator leaves no event (``u``): the next step in its caller is shallow."""
    rec = Recording()
    rec.event(Kind.CALL, code_no=1, line=10)
    rec.event(Kind.CALL, code_no=2, line=1)
    rec.event(Kind.CALL, code_no=4, line=30)
    rec.event(Kind.LINE, code_no=1, line=12, unwound=2)
    rec.event(Kind.LINE, code_no=1, line=13)
    cursor = _cursor(tmp_path / "run.sqlite", rec)
    assert cursor.depths == [1, 2, 3, 1, 1]
    cursor.step = 2
    assert cursor.step_over() == 4  # the caller's next step, not inside a frame gone
    assert cursor.step_out() == 4


def test_step_out_both_ways(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, code_no=1, line=10)  # 1
    rec.event(Kind.LINE, code_no=1, line=11)  # 2
    rec.event(Kind.CALL, code_no=2, line=1)  # 3
    rec.event(Kind.LINE, code_no=2, line=2)  # 4
    rec.event(Kind.CALL, code_no=3, line=20)  # 5
    rec.event(Kind.RETURN, code_no=3, line=21)  # 6
    rec.event(Kind.LINE, code_no=2, line=3)  # 7
    rec.event(Kind.RETURN, code_no=2, line=3)  # 8
    rec.event(Kind.LINE, code_no=1, line=12)  # 9
    cursor = _cursor(tmp_path / "run.sqlite", rec)
    # At a call, back goes to the caller's step before it (3 -> 2, 5 -> 4).
    for start, out, back in [(4, 8, 3), (7, 8, 3), (8, 9, 3), (3, 8, 2), (5, 6, 4), (6, 7, 5)]:
        cursor.step = start
        assert (cursor.step_out(), cursor.step_out(False)) == (out, back), start
    cursor.step = 9
    assert cursor.step_out() is None  # the test's frame never returns in this recording


def test_breakpoints_count_hits_in_recording_order(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, code_no=1, line=10)
    for round_number in range(4):
        rec.event(Kind.LINE, code_no=1, line=11, l={"i": round_number})
        rec.event(Kind.CALL, code_no=2, line=1, l={"n": round_number})
        rec.event(Kind.RETURN, code_no=2, line=2, r=round_number)
    cursor = _cursor(tmp_path / "run.sqlite", rec)
    calls = [row["step"] for row in cursor.rows if row["kind"] == "call" and row["line"] == 1]
    cursor.exception_stops = set()
    every_other = cursor.add_breakpoint("helper", hit_condition="% 2")
    cursor.step = 1
    stops = []
    while (found := cursor.resume()[0]) is not None:
        stops.append(found)
        cursor.step = found
    assert stops == [calls[1], calls[3]]
    cursor.remove_breakpoint(every_other.number)
    cursor.add_breakpoint("sample.py:1", condition="n >= 1", hit_condition=">= 2")
    assert cursor.resume(False) == (
        calls[2],
        "breakpoint 2 at sample.py:1 if n >= 1 (hit count >= 2)",
    )


@pytest.mark.parametrize(
    ("place", "condition", "hits", "message"),
    [
        ("nowhere.py:3", None, None, "no recorded step is in a file named like 'nowhere.py'"),
        ("missing_function", None, None, "no recorded function is named 'missing_function'"),
        ("a b", None, None, "'a b' is neither FILE:LINE nor a function name"),
        ("sample.py:x", None, None, "'sample.py:x' is neither FILE:LINE nor a function name"),
        ("helper", "n +", None, "bad condition: 'n +' is not a valid expression"),
        ("helper", None, "often", "hit count 'often' is not a number or a comparison"),
        ("helper", None, "% 0", "hit count '% 0' divides by zero"),
    ],
)
def test_a_bad_breakpoint_says_why(
    tmp_path: Path, place: str, condition: str | None, hits: str | None, message: str
) -> None:
    rec = Recording()
    rec.event(Kind.CALL, code_no=1, line=10)
    rec.event(Kind.CALL, code_no=2, line=1)
    cursor = _cursor(tmp_path / "run.sqlite", rec)
    with pytest.raises(BreakpointError) as raised:
        cursor.add_breakpoint(place, condition, hits)
    assert str(raised.value).startswith(message)


def test_states_read_through_the_kept_chunk_start_from_its_keyframe(tmp_path: Path) -> None:
    """A later step changes a local the keyframe holds; an earlier step, read after it from
    the same kept chunk, still shows the keyframe's value."""
    rec = Recording()
    rec.event(Kind.CALL, code_no=1, line=10, l={"n": 0})
    rec.split()  # the next chunk's keyframe holds n = 0
    rec.event(Kind.LINE, code_no=1, line=11)
    rec.event(Kind.LINE, code_no=1, line=12, l={"n": 1})
    cursor = _cursor(tmp_path / "run.sqlite", rec)
    assert cursor.state(3).stack[0]["locals"] == {"n": 1}
    assert cursor.state(2).stack[0]["locals"] == {"n": 0}


def _failing_early() -> Recording:
    """Raises at step 2, then goes on to step 5 (a long unwind, say)."""
    rec = Recording(events_per_chunk=2)
    rec.event(Kind.CALL, code_no=1, line=10)
    rec.event(Kind.EXCEPTION, code_no=1, line=11, x={"$type": "ValueError"})
    for line in (12, 13, 14):
        rec.event(Kind.LINE, code_no=1, line=line)
    return rec


def test_it_starts_at_the_failure_or_the_last_kept_step(tmp_path: Path) -> None:
    kept = _cursor(tmp_path / "kept.sqlite", _failing_early(), failure_steps={NODEID: 2})
    assert kept.step == 2
    dropped = _cursor(
        tmp_path / "dropped.sqlite",
        _failing_early(),
        failure_steps={NODEID: 2},
        dropped={NODEID: 1},
    )
    assert (dropped.first, dropped.step) == (3, 5)  # the ring buffer dropped steps 1-2
