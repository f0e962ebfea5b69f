"""A test's events in memory: chunks that each start with a keyframe, under a byte cap.

Each chunk opens with a keyframe (the full state before its first step), so dropping
whole chunks from the front keeps every retained step replayable. When the packed
chunks exceed the cap, the oldest are dropped: the failure is at the end of a test and
the end must survive. The open chunk is bounded by its event count and by the size of its
packed events (``codec.CHUNK_TARGET_BYTES``), not by the cap.

A keyframe costs what the state holds, the steps between two of them what they do: a
chunk whose keyframe is heavy (a big state, a deep stack) takes more events, one more
base chunk's worth for each ``KEYFRAME_ITEMS_PER_BASE_CHUNK`` items of its keyframe, up
to ``MAX_EVENTS_PER_CHUNK``. Taking a keyframe and replaying from one then cost a bounded
share of the chunk's steps, whatever the state's size.
"""

from __future__ import annotations

# A private reference: a test may replace this builtin (with a spy that counts calls).
from builtins import len
from collections import deque
from collections.abc import Callable
from typing import Final

from pytest_scope.trace.codec import (
    CHUNK_TARGET_BYTES,
    MAX_ARRAY_LENGTH,
    Event,
    EventPacker,
    Keyframe,
    seal_chunk,
)
from pytest_scope.trace.records import Chunk

# A keyframe item (an object, a frame, a frame's local) costs a few times a step to walk
# and pack: a base chunk's steps outweigh up to this many of them.
KEYFRAME_ITEMS_PER_BASE_CHUNK: Final = 32
# Half what a reader accepts in one array, so an events list never nears its bound.
MAX_EVENTS_PER_CHUNK: Final = MAX_ARRAY_LENGTH // 2


class RingBuffer:
    """Collects one test's events into packed chunks, keeping the newest within a cap."""

    def __init__(
        self,
        cap_bytes: int,
        take_keyframe: Callable[[int], Keyframe],
        events_per_chunk: int = 1024,
    ) -> None:
        self.cap_bytes = cap_bytes
        self._base_events = events_per_chunk
        # The open chunk's bound, set from its keyframe (see the module's docstring).
        self.events_per_chunk = events_per_chunk
        self._take_keyframe = take_keyframe
        self._events = EventPacker()
        self._closed: deque[Chunk] = deque()
        self._closed_bytes = 0
        self._keyframe: Keyframe | None = None
        # Whether the next step opens a chunk, so ``begin_step`` takes a keyframe: a step
        # that would not otherwise need the recorder's whole state checks this first.
        self.keyframe_due = True
        self._first_step = 0  # of the open chunk; its steps follow one another
        self.dropped_steps = 0

    def begin_step(self, step: int) -> None:
        """Call before changing any state for ``step``: a new chunk needs the state before it."""
        if self._keyframe is None:
            self._keyframe = keyframe = self._take_keyframe(step - 1)
            self.keyframe_due = False
            base = self._base_events
            chunks = 1 + _keyframe_items(keyframe) // KEYFRAME_ITEMS_PER_BASE_CHUNK
            self.events_per_chunk = max(base, min(MAX_EVENTS_PER_CHUNK, base * chunks))

    def append(self, event: Event) -> None:
        """Add the event of the step announced by ``begin_step``."""
        events = self._events
        events.pack(event)
        if events.count == 1:
            self._first_step = event[0]
        # Only an event with a payload can be large: the size is looked at then, and
        # every 64 events (a payload-less event packs to a few bytes).
        if events.count >= self.events_per_chunk or (
            (event[6] is not None or not events.count & 63) and events.size() >= CHUNK_TARGET_BYTES
        ):
            self.close_chunk()

    def close_chunk(self) -> None:
        """Pack the open chunk (if any) and drop the oldest chunks beyond the cap."""
        if self._keyframe is None or not self._events.count:
            return
        keyframe = self._keyframe
        self._keyframe = None
        self.keyframe_due = True
        count, events = self._events.take()
        data = seal_chunk(keyframe, count, events)
        chunk = Chunk(self._first_step, self._first_step + count - 1, data)
        self._closed.append(chunk)
        self._closed_bytes += len(chunk.data)
        while self._closed_bytes > self.cap_bytes and len(self._closed) > 1:
            oldest = self._closed.popleft()
            self._closed_bytes -= len(oldest.data)
            self.dropped_steps += oldest.last_step - oldest.first_step + 1

    def clear(self) -> None:
        """Forget every event: the recording starts over (a new Hypothesis example)."""
        self._closed.clear()
        self._closed_bytes = 0
        self._keyframe = None
        self._events.take()
        self.keyframe_due = True
        self.dropped_steps = 0

    def chunks(self) -> list[Chunk]:
        """The retained chunks, oldest first; call after ``close_chunk``."""
        return list(self._closed)


def _keyframe_items(keyframe: Keyframe) -> int:
    """The objects, frames and frames' locals a keyframe holds."""
    frames = [frame for _, stack in keyframe["threads"] for frame in stack]
    frames.extend(keyframe["suspended"])
    return len(keyframe.get("objects", ())) + sum(1 + len(frame[3]) for frame in frames)
