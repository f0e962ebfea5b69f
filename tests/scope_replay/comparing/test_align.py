"""Step alignment and first divergence on hand-built recordings with known differences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tracebuilder import Recording, close_traces, open_trace, write_trace

from pytest_scope.trace.schema import Container, Kind
from replay.comparing.align import (
    Alignment,
    Divergence,
    Signatures,
    align,
    first_divergence,
    load_steps,
)
from replay.comparing.compare import Recorded, find_divergence, payloads_differ


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_traces()


def _loop(rounds: int, *, values: list[Any] | None = None, fail: bool = False) -> Recording:
    """test_main calls helper once per round from a loop, as ``for n in ...: helper(n)``.

    Steps: call, then per round ``line 11, line 12, call helper, return helper`` (4
    steps), then ``line 11`` (loop exit), ``line 13``, then return or exception+unwind.
    """
    rec = Recording(events_per_chunk=5)
    rec.event(Kind.CALL, line=10)
    for number in range(rounds):
        value = values[number] if values else number
        rec.event(Kind.LINE, line=11)
        rec.event(Kind.LINE, line=12, l={"n": value})
        rec.event(Kind.CALL, code_no=2, line=1, l={"n": value})
        rec.event(Kind.RETURN, code_no=2, line=2, r=value * 2)
    rec.event(Kind.LINE, line=11)
    rec.event(Kind.LINE, line=13)
    if fail:
        rec.event(Kind.EXCEPTION, line=13, x={"$type": "AssertionError", "attrs": {"args": []}})
        rec.event(Kind.UNWIND, line=13, x={"$type": "AssertionError", "attrs": {"args": []}})
    else:
        rec.event(Kind.RETURN, line=13, r=None)
    return rec


def _aligned(tmp_path: Path, this: Recording, other: Recording) -> Alignment:
    path = write_trace(tmp_path / "run.sqlite", {"t::this": this, "t::other": other})
    trace = open_trace(path)
    tests = {test.nodeid: test for test in trace.tests()}
    signatures = Signatures()
    return align(
        load_steps(trace, tests["t::this"], signatures),
        load_steps(trace, tests["t::other"], signatures),
    )


def test_identical_recordings_match_step_for_step(tmp_path: Path) -> None:
    alignment = _aligned(tmp_path, _loop(3), _loop(3))
    assert alignment.segments == [(1, 1, 16)]
    assert alignment.counterpart(9) == (9, True)
    assert first_divergence(alignment, payloads_differ) is None


def test_an_extra_loop_iteration_is_skipped_as_inserted_work(tmp_path: Path) -> None:
    alignment = _aligned(tmp_path, _loop(4, fail=True), _loop(3))
    # this: 1 call, rounds at 2-5, 6-9, 10-13, 14-17, exit 18, line 13 at 19, exception 20.
    # other: rounds at 2-5, 6-9, 10-13, exit 14, line 13 at 15, return 16.
    # Round 4 begins on the loop line, as the other's loop exit does: they part at step 15
    # (line 12 against line 13); the rest of the extra round and its exit (15-18) are skipped.
    assert alignment.segments == [(1, 1, 14), (19, 15, 1)]
    assert alignment.counterpart(19) == (15, True)  # line 13 does the same in both
    assert alignment.counterpart(16) == (14, False)  # inside the extra round
    assert alignment.counterpart(20) == (15, False)  # the exception: last alike step
    assert first_divergence(alignment, payloads_differ) == Divergence("control flow", 15, 15)


def test_removed_work_maps_the_later_steps_back(tmp_path: Path) -> None:
    alignment = _aligned(tmp_path, _loop(2), _loop(4))
    # this: rounds at 2-5, 6-9, exit 10, line 13 at 11, return 12; other: exit at 18.
    assert alignment.segments == [(1, 1, 10), (11, 19, 2)]
    assert alignment.counterpart(11) == (19, True)
    assert alignment.counterpart(12) == (20, True)
    assert first_divergence(alignment, payloads_differ) == Divergence("control flow", 11, 11)


def test_the_same_steps_with_another_value_diverge_by_value(tmp_path: Path) -> None:
    alignment = _aligned(tmp_path, _loop(3, values=[0, 1, 7]), _loop(3))
    assert alignment.segments == [(1, 1, 16)]
    # Round 3 is steps 10-13: line 11, then line 12 binds n = 7 where the other has 2.
    assert first_divergence(alignment, payloads_differ) == Divergence("value", 11, 11)


def test_float_noise_is_no_divergence_but_a_real_difference_is(tmp_path: Path) -> None:
    noisy = _aligned(tmp_path / "a", _loop(2, values=[0.1 + 0.2, 1.0]), _loop(2, values=[0.3, 1.0]))
    assert first_divergence(noisy, payloads_differ) is None
    real = _aligned(tmp_path / "b", _loop(2, values=[0.3, 1.001]), _loop(2, values=[0.3, 1.0]))
    assert first_divergence(real, payloads_differ) == Divergence("value", 7, 7)


def test_set_order_is_no_divergence(tmp_path: Path) -> None:
    def with_set(items: list[str]) -> Recording:
        rec = Recording()
        rec.event(Kind.CALL, line=10)
        entry = [1, "set", {"$type": "set", "items": items}, False, Container.SET]
        rec.event(Kind.LINE, line=11, l={"tags": {"$ref": 1}}, b=[entry])
        rec.event(Kind.RETURN, line=11, r=None)
        return rec

    same = _aligned(tmp_path / "a", with_set(["a", "b", "c"]), with_set(["c", "a", "b"]))
    assert first_divergence(same, payloads_differ) is None
    other = _aligned(tmp_path / "b", with_set(["a", "b", "d"]), with_set(["c", "a", "b"]))
    assert first_divergence(other, payloads_differ) == Divergence("value", 2, 2)


def test_a_far_insertion_is_found_beyond_the_first_windows(tmp_path: Path) -> None:
    # 3,000 extra rounds (12,000 steps) in the middle: more than the 64- and 2,048-step
    # lookahead windows; everything after them still matches exactly.
    alignment = _aligned(tmp_path, _loop(3_010), _loop(10))
    assert alignment.segments[0] == (1, 1, 42)
    assert alignment.segments[1] == (12_043, 43, 2)
    assert alignment.counterpart(12_043) == (43, True)  # line 13, after the loop
    assert alignment.counterpart(12_044) == (44, True)  # the return
    assert alignment.counterpart(12_042) == (42, False)  # the extra rounds' loop exit
    assert first_divergence(alignment, payloads_differ) == Divergence("control flow", 43, 43)


def test_a_run_that_ended_sooner_diverges_where_it_ended(tmp_path: Path) -> None:
    short = Recording()
    short.event(Kind.CALL, line=10)
    short.event(Kind.LINE, line=11)
    short.event(Kind.LINE, line=12, l={"n": 0})
    short.event(Kind.CALL, code_no=2, line=1, l={"n": 0})
    alignment = _aligned(tmp_path, _loop(3), short)
    assert alignment.segments == [(1, 1, 4)]
    assert alignment.counterpart(16) == (4, False)
    assert first_divergence(alignment, payloads_differ) == Divergence("control flow", 5, None)


def test_two_attempts_of_a_test_part_ways_where_their_alignment_says(tmp_path: Path) -> None:
    """``find_divergence``: what pytest's summary says of a flaky test's two attempts."""
    path = write_trace(
        tmp_path / "run.sqlite",
        {"t::this": _loop(3, values=[0, 1, 7]), "t::other": _loop(3), "t::same": _loop(3)},
    )
    trace = open_trace(path)
    recorded = {test.nodeid: Recorded(trace, test) for test in trace.tests()}
    found = find_divergence(recorded["t::this"], recorded["t::other"])
    assert found == Divergence("value", 11, 11)
    assert find_divergence(recorded["t::same"], recorded["t::other"]) is None


def _boxed(number: int, n: int = 1) -> Recording:
    """A test that binds an object; ``number`` is the object's number in the recording."""
    box = {"$type": "Box", "attrs": {"size": 3}}
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(
        Kind.LINE,
        line=11,
        l={"box": {"$ref": number}},
        b=[[number, "Box", box, False, Container.NONE]],
    )
    rec.event(Kind.LINE, line=12, l={"n": n})
    rec.event(Kind.RETURN, line=12, r=None)
    return rec


def test_payloads_that_differ_where_no_state_does_are_no_divergence(tmp_path: Path) -> None:
    """Object numbers are the recording's own: the same object numbered otherwise is the
    same state, and two recordings of the same steps and states never diverge."""
    path = write_trace(
        tmp_path / "run.sqlite",
        {"t::this": _boxed(1), "t::other": _boxed(2), "t::changed": _boxed(2, n=5)},
    )
    trace = open_trace(path)
    recorded = {test.nodeid: Recorded(trace, test) for test in trace.tests()}
    assert find_divergence(recorded["t::this"], recorded["t::other"]) is None
    # A real difference after a candidate that was not one is still found.
    found = find_divergence(recorded["t::this"], recorded["t::changed"])
    assert found == Divergence("value", 3, 3)
