"""Ctrl-C while a test records: the interrupt is the test's, not the recorder's.

A recorded test spends most of its time in the recorder's ``sys.monitoring`` callbacks, so
that is where SIGINT's ``KeyboardInterrupt`` is usually raised. pytest reports the place
it was raised (``pytest_scope/capture/values.py:305: KeyboardInterrupt``); the user wants to know
where their test was. The traceback pytest shows is cut at the recorder's first frame,
which leaves the test's own code as the innermost frame.

An interrupt raised inside a callback can also land between the recorder counting a step
and storing its event, and the recorder goes on to record the test's frame unwinding: the
interrupted test's steps are cut at the first one that is missing or out of place, so
that what is written is a recording every reader accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from _pytest._code.code import TracebackEntry

from pytest_scope.capture.event_path import in_event_path
from pytest_scope.trace.codec import pack_chunk, unpack_chunk
from pytest_scope.trace.records import Chunk


@dataclass(frozen=True, slots=True)
class Interruption:
    """The test that was recording when Ctrl-C came, and the last step it recorded."""

    nodeid: str
    step: int


def hide_own_frames(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Cut ``excinfo``'s traceback at the recorder's first frame: from there inwards it is
    the callbacks' doing (and what they called, a dataclass ``__init__`` say), not the
    test's (unless nothing would be left)."""
    traceback = excinfo.traceback
    first = next((index for index, entry in enumerate(traceback) if _recorders(entry)), None)
    if first:
        excinfo.traceback = traceback[:first]


def _recorders(entry: TracebackEntry) -> bool:
    return in_event_path(entry.frame.code.raw.co_filename)


def summary_line(interruption: Interruption, command: str) -> str:
    return (
        f"interrupted in {interruption.nodeid} at step {interruption.step:,};"
        f" its recording up to there is kept: {command}"
    )


def intact_steps(chunks: list[Chunk]) -> list[Chunk]:
    """``chunks`` up to the first step that is missing or out of place (see above)."""
    kept: list[Chunk] = []
    for chunk in chunks:
        try:
            keyframe, events = unpack_chunk(chunk.data)
        except ValueError:
            break
        first = keyframe.get("step", -1) + 1
        if kept and first != kept[-1].last_step + 1:
            break
        count = next(
            (
                index
                for index, event in enumerate(events)
                if not (isinstance(event, list) and event and event[0] == first + index)
            ),
            len(events),
        )
        if count == len(events) and (chunk.first_step, chunk.last_step) == (
            first,
            first + count - 1,
        ):
            kept.append(chunk)
            continue
        if count:
            kept.append(Chunk(first, first + count - 1, pack_chunk(keyframe, events[:count])))
        break
    return kept
