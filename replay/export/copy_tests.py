"""Copying recordings, from one run or several, into one trimmed trace file.

The CI artifacts and ``--export-baseline`` carry recordings to other machines. Each
recording keeps its newest chunks within a byte budget (the failure is at the end), as the
ring buffer does. Recordings of several runs can share one file: each test keeps the
provenance of its run (``schema.ORIGINS_SCHEMA``: its run id, commit, branch and rootdir,
and a file's text as that run had it), and code numbers, which each run assigns from
its own start, are renumbered where two runs' would clash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from pytest_scope.errors import TraceFileError
from pytest_scope.trace.codec import pack_chunk, unpack_chunk
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.records import Chunk, CodeInfo, TestRecord
from pytest_scope.trace.writer import TraceWriter


class _Codes:
    """The code numbers of the file being written: a copied test's codes keep their numbers
    unless another run's code has it, and one code is written once."""

    def __init__(self, writer: TraceWriter) -> None:
        self._writer = writer
        self._by_number: dict[int, CodeInfo] = {}
        self._by_code: dict[CodeInfo, int] = {}

    def number(self, code_no: int, code: CodeInfo) -> int:
        if self._by_number.get(code_no) == code:
            return code_no
        known = self._by_code.get(code)
        if known is not None:
            return known
        if code_no in self._by_number:
            code_no = max(self._by_number) + 1
        self._by_number[code_no] = code
        self._by_code[code] = code_no
        self._writer.add_code(code_no, code.qualname, code.filename, code.firstlineno)
        return code_no


def copy_tests(
    selected: Iterable[tuple[TraceFile, list[RecordedTest]]],
    target: Path,
    budget: int,
    meta: dict[str, str],
) -> None:
    """Write the ``selected`` tests into a new trace file at ``target`` with the file meta
    ``meta``, each within ``budget`` bytes and with the provenance of its own run."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    writer = TraceWriter(target, meta)
    try:
        codes = _Codes(writer)
        origins: dict[str, int] = {}
        sources: dict[str, str | None] = {}  # the text in the file's sources
        other_sources: set[tuple[int, str]] = set()  # an origin's other text, written
        for trace, tests in selected:
            for test in tests:
                run_meta = trace.meta_of(test)
                key = json.dumps(run_meta, sort_keys=True)
                if key not in origins:
                    origins[key] = len(origins) + 1
                    writer.add_origin(origins[key], run_meta)
                origin = origins[key]
                chunks = _within(trace.packed_chunks(test), test, budget)
                numbers = {
                    code_no: codes.number(code_no, trace.code(code_no))
                    for code_no in sorted(_codes_of(trace, chunks))
                }
                if any(old != new for old, new in numbers.items()):
                    chunks = [_renumbered(trace, chunk, numbers) for chunk in chunks]
                for filename in sorted({trace.code(code_no).filename for code_no in numbers}):
                    text = trace.source(filename, test)
                    if filename not in sources:
                        sources[filename] = text
                        if text is not None:
                            writer.add_source(filename, text)
                    elif (
                        text is not None
                        and text != sources[filename]
                        and (origin, filename) not in other_sources
                    ):
                        other_sources.add((origin, filename))
                        writer.add_source(filename, text, origin)
                writer.write_test(_record(trace, test, chunks), chunks, origin)
    finally:
        writer.close()


def _record(trace: TraceFile, test: RecordedTest, chunks: list[Chunk]) -> TestRecord:
    """The test's row as copied: the steps before its first chunk kept are dropped."""
    first = chunks[0].first_step if chunks else test.steps + 1
    return replace(trace.record(test), first_step=first, dropped_steps=first - 1)


def _within(stored: list[Chunk], test: RecordedTest, budget: int) -> list[Chunk]:
    """The newest chunks that fit ``budget``, always including the failure's chunk."""
    start = len(stored)
    total = 0
    while start > 0 and (total + len(stored[start - 1].data) <= budget or start == len(stored)):
        start -= 1
        total += len(stored[start].data)
    failure = test.failure_step
    if failure is not None:
        for index, chunk in enumerate(stored):
            if chunk.first_step <= failure <= chunk.last_step:
                start = min(start, index)
    return stored[start:]


def _codes_of(trace: TraceFile, chunks: list[Chunk]) -> set[int]:
    code_nos: set[int] = set()
    for chunk in chunks:
        try:
            keyframe, events = unpack_chunk(chunk.data)
            for _, frames in keyframe.get("threads", ()):
                code_nos.update(frame[1] for frame in frames)
            code_nos.update(frame[1] for frame in keyframe.get("suspended", ()))
            code_nos.update(event[4] for event in events)
        except (ValueError, TypeError, IndexError) as exc:
            raise TraceFileError(trace.path, f"corrupt chunk ({exc})") from None
    return code_nos


def _renumbered(trace: TraceFile, chunk: Chunk, numbers: dict[int, int]) -> Chunk:
    """``chunk`` with its code numbers (frames' and events') replaced by ``numbers``."""
    try:
        keyframe, events = unpack_chunk(chunk.data)
        frames = [frame for _, stack in keyframe.get("threads", ()) for frame in stack]
        for frame in [*frames, *keyframe.get("suspended", ())]:
            frame[1] = numbers[frame[1]]
        for event in events:
            event[4] = numbers[event[4]]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise TraceFileError(trace.path, f"corrupt chunk ({exc})") from None
    return replace(chunk, data=pack_chunk(keyframe, events))
