"""A reader of a trace file for walking a test step after step: it keeps its last chunk."""

from __future__ import annotations

import copy
import dataclasses

from pytest_scope.trace.reader import RecordedTest, StoredChunk, TraceFile


class ChunkKeeping(TraceFile):
    """A second reader of the trace file that keeps the chunk it decoded last.

    Walking a test step by step (a value's history, breakpoint conditions, the viewer's
    diffs) asks ``state_at`` for consecutive steps; decoding and checking their chunk is
    two thirds of the cost of each, so it is done once per chunk. ``state_at`` builds its frames on
    the keyframe's, so each call gets a copy of the keyframe; it only reads the events.
    """

    def __init__(self, trace: TraceFile) -> None:
        super().__init__(trace.path)
        self._kept: tuple[int, StoredChunk] | None = None

    def chunk_at(self, test: RecordedTest, step: int) -> StoredChunk:
        kept = self._kept
        if (
            kept is None
            or kept[0] != test.id
            or not kept[1].first_step <= step <= kept[1].last_step
        ):
            kept = self._kept = (test.id, super().chunk_at(test, step))
        return dataclasses.replace(kept[1], keyframe=copy.deepcopy(kept[1].keyframe))
