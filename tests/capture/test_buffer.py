"""The ring buffer keeps the newest chunks within its cap, each replayable from its keyframe."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_scope.capture.buffer import MAX_EVENTS_PER_CHUNK, RingBuffer
from pytest_scope.trace.codec import MAX_ARRAY_LENGTH, unpack_chunk


def _fill(buffer: RingBuffer, steps: int) -> None:
    for step in range(1, steps + 1):
        buffer.begin_step(step)
        buffer.append([step, 1, 1, 1, 1, step, {"l": {"i": step, "pad": "x" * 50}}])
    buffer.close_chunk()


def _keyframe(step: int) -> dict[str, object]:
    return {"step": step, "threads": [], "suspended": []}


@given(
    steps=st.integers(1, 3000),
    per_chunk=st.integers(1, 300),
    cap=st.integers(1, 20_000),
)
def test_keeps_the_newest_steps_within_the_cap(steps: int, per_chunk: int, cap: int) -> None:
    buffer = RingBuffer(cap, _keyframe, events_per_chunk=per_chunk)
    _fill(buffer, steps)
    chunks = buffer.chunks()
    assert chunks, "the newest chunk is always kept"
    assert chunks[-1].last_step == steps
    assert chunks[0].first_step == buffer.dropped_steps + 1
    assert sum(len(chunk.data) for chunk in chunks) <= cap or len(chunks) == 1
    expected_step = chunks[0].first_step
    for chunk in chunks:
        keyframe, events = unpack_chunk(chunk.data)
        assert keyframe["step"] == chunk.first_step - 1
        assert [event[0] for event in events] == list(range(expected_step, chunk.last_step + 1))
        expected_step = chunk.last_step + 1


def test_a_keyframe_is_taken_before_the_first_event_of_each_chunk() -> None:
    taken: list[int] = []

    def keyframe(step: int) -> dict[str, object]:
        taken.append(step)
        return _keyframe(step)

    buffer = RingBuffer(10**9, keyframe, events_per_chunk=10)
    _fill(buffer, 25)
    assert taken == [0, 10, 20]
    assert buffer.dropped_steps == 0


def test_a_chunk_closes_at_its_target_size_whatever_its_event_count() -> None:
    buffer = RingBuffer(10**9, _keyframe)
    big = "y" * 200
    for step in range(1, 1001):  # 1000 events of ~32 KiB: 31 MiB, under the 1024-event bound
        buffer.begin_step(step)
        buffer.append([step, 1, 1, 1, 1, step, {"l": {f"v{i}": big for i in range(150)}}])
    buffer.close_chunk()
    chunks = buffer.chunks()
    assert len(chunks) > 1
    for chunk in chunks:
        _, events = unpack_chunk(chunk.data)  # every one readable
        assert len(events) < 1024
    assert [chunk.first_step for chunk in chunks[1:]] == [c.last_step + 1 for c in chunks[:-1]]


def test_a_step_too_large_for_any_reader_is_refused_when_written() -> None:
    huge = {"l": {f"v{i}": "z" * 200 for i in range(50_000)}}  # one step of ~10 MiB
    buffer = RingBuffer(10**9, _keyframe)
    buffer.begin_step(1)
    with pytest.raises(ValueError, match="MiB a reader accepts"):
        buffer.append([1, 1, 1, 1, 1, 1, huge])
    assert buffer.chunks() == []
    buffer.begin_step(2)
    buffer.append([2, 1, 1, 1, 1, 2, None])
    buffer.close_chunk()
    assert [chunk.first_step for chunk in buffer.chunks()] == [2]


def _keyframe_of(objects: int, frames: int) -> Callable[[int], dict[str, object]]:
    def keyframe(step: int) -> dict[str, object]:
        stack = [[number, 1, 1, {"a": 1, "b": 2}] for number in range(frames)]
        return {
            "step": step,
            "threads": [[1, stack]],
            "suspended": [],
            "objects": [[number, "list", [], False, True] for number in range(objects)],
        }

    return keyframe


@pytest.mark.parametrize(
    ("objects", "frames", "events"),
    [
        (0, 1, 10),  # a light keyframe: the base chunk
        (31, 0, 10),
        (32, 0, 20),  # each 32 items of the keyframe: one more base chunk's worth
        (0, 11, 20),  # a frame and its two locals: 3 items
        (100, 0, 40),
        (10**5, 0, MAX_EVENTS_PER_CHUNK),
    ],
)
def test_a_heavy_keyframe_opens_a_longer_chunk(objects: int, frames: int, events: int) -> None:
    buffer = RingBuffer(10**9, _keyframe_of(objects, frames), events_per_chunk=10)
    _fill(buffer, 2 * MAX_EVENTS_PER_CHUNK + 1)
    lengths = [chunk.last_step - chunk.first_step + 1 for chunk in buffer.chunks()]
    assert lengths == [events] * (len(lengths) - 1) + [lengths[-1]]
    assert lengths[-1] <= events


def test_a_keyframe_of_more_objects_than_a_reader_takes_in_one_array_is_read_whole() -> None:
    count = 2 * MAX_ARRAY_LENGTH + 5
    buffer = RingBuffer(10**9, _keyframe_of(count, 1))
    _fill(buffer, 3)
    (chunk,) = buffer.chunks()
    keyframe, events = unpack_chunk(chunk.data)
    assert [entry[0] for entry in keyframe["objects"]] == list(range(count))
    assert [event[0] for event in events] == [1, 2, 3]
