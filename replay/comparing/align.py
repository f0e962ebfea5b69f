"""Step alignment of two recordings of one test, and their first divergence.

The method. Each step is reduced to a *signature*: its kind, function (qualified name
and file, its path relative to the project, since code numbers differ between runs),
line, thread and *call path*: the chain of its callers' functions, each with the line it
was at when it made the call. Steps pair only where they run the same code reached by the
same path of calls: a function that raises in the test's first call of it is not paired
with its raise in a later call from another line. The two signature sequences are walked
in lockstep while they agree; lockstep runs are compared a block at a time (list slices
compare in C), so long identical stretches cost little. Where they disagree, the walk
*resynchronizes* at the nearest point (smallest number of steps skipped on both sides
together) where the next ``GRAMS[0]`` signatures agree again: an extra loop iteration or
call in one run is skipped as inserted work, and a branch taken differently is skipped
on both sides. The search looks ahead in growing windows, through the whole remainder at
worst, and indexes the other side's window by its runs of signatures, so it costs time
linear in the window. Shorter agreements are accepted only when no longer one exists
anywhere ahead: near the end of a run that failed, the steps after the extra work agree
only until the failure. Where nothing agrees again, the remaining steps stay unmatched;
so do they once the searches have looked at ``_SEARCH_BUDGET`` times as many steps as
the two recordings hold: recordings that keep disagreeing have no useful alignment, and
this bounds the time spent finding that out.

A step that was matched maps to its counterpart exactly; an unmatched step maps to the
counterpart of the last matched step before it: the last point where both runs did the
same thing.

The first divergence only needs the leading lockstep run: up to its end both runs did the
same things, so their states can only come to differ at a step whose recorded changes
differ (the events carry deltas and both start from an empty state). Such a step is a
candidate, confirmed by comparing the two states there (``states_differ``): recorded
changes also differ where no shown value does (object numbers, an object's form recorded
at another step, addresses). If no candidate is confirmed, they part ways by control flow
where the lockstep run ends.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from pytest_scope.trace.paths import project_path
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.schema import Kind, Payload
from replay.reading.state import RecordedFrame, walk

GRAMS: Final = (8, 4, 2, 1)  # agreeing signatures needed to resynchronize, best first
_WINDOWS: Final = (64, 2048, 65536)  # lookahead tried before the whole remainder
_BLOCK: Final = 1024  # lockstep comparison granularity
_SEARCH_BUDGET: Final = 10
_END: Final = -1  # pads the sequences so that runs near their ends can still agree


class Signatures:
    """Interns step signatures and call paths as small ints, shared by the two recordings
    compared."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[Any, ...], int] = {}
        self.paths: dict[tuple[int, Any, int], int] = {(0, None, 0): 0}  # 0: no caller


@dataclass(frozen=True, slots=True)
class Steps:
    """One recording as alignment sees it: per step read, its signature and payload."""

    first: int  # the step number of index 0
    signatures: list[int]
    payloads: list[Any]
    numbers: list[int] | None = None  # each index's step, where steps were left out

    @property
    def last(self) -> int:
        return self.step(len(self.signatures) - 1)

    def step(self, index: int) -> int:
        return self.first + index if self.numbers is None else self.numbers[index]


def load_steps(
    trace: TraceFile, test: RecordedTest, signatures: Signatures, lines: bool = True
) -> Steps:
    """Read every retained step of a test (one pass over its chunks, replaying its stacks:
    a step's signature holds the path of calls that reached it). ``lines=False`` leaves
    out line steps and the callers' lines from the paths (``replay.comparing.plans.Common``)."""
    root = trace.meta_of(test).get("rootdir")
    codes = {
        number: (code.qualname, project_path(code.filename, root))
        for number, code in trace.codes().items()
    }
    numbers = signatures.numbers  # the loop below runs once per step: no method calls
    paths = _CallPaths(signatures.paths, codes, lines)
    keys: list[int] = []
    payloads: list[Any] = []
    kept: list[int] = []
    for event, replay in walk(trace, test):
        step, kind, thread, _, code_no, line, payload = event
        path = paths.of(replay.threads[thread], thread, payload)
        if not lines and kind == Kind.LINE:
            continue
        kept.append(step)
        keys.append(
            numbers.setdefault((kind, codes.get(code_no), line, thread, path), len(numbers))
        )
        payloads.append(payload)
    first = kept[0] if kept else 0
    return Steps(first, keys, payloads, None if lines else kept)


class _CallPaths:
    """The path of calls that reached a step: the chain of its callers' code and the line
    each was at (where it made the call), as one int (``Signatures.paths``).

    The chain of each thread's stack is kept and extended as the stack grows; a step
    checks its callers from the innermost down and stops at the first one unchanged, so
    a step costs one check while its callers stay the same. A frame's line changes only
    while it is the innermost (it makes the steps), or through an event's changes to
    outer frames (``Payload.OTHER_FRAMES``), which start its thread's chain again."""

    def __init__(
        self, paths: dict[tuple[int, Any, int], int], codes: dict[int, Any], lines: bool
    ) -> None:
        self._paths = paths
        self._codes = codes
        self._lines = lines
        self._chains: dict[int, list[tuple[tuple[int, int, int], int]]] = {}

    def of(self, stack: list[RecordedFrame], thread: int, payload: Any) -> int:
        chain = self._chains.setdefault(thread, [])
        callers = len(stack) - 1
        if payload and Payload.OTHER_FRAMES in payload:
            chain.clear()
        del chain[callers:]
        valid = len(chain)
        while valid and chain[valid - 1][0] != _frame_key(stack[valid - 1]):
            valid -= 1
        del chain[valid:]
        paths = self._paths
        for frame in stack[valid:callers]:
            line = frame.line if self._lines else 0
            link = (chain[-1][1] if chain else 0, self._codes.get(frame.code_no), line)
            chain.append((_frame_key(frame), paths.setdefault(link, len(paths))))
        return chain[-1][1] if chain else 0


def _frame_key(frame: RecordedFrame) -> tuple[int, int, int]:
    return frame.frame_no, frame.code_no, frame.line


@dataclass(frozen=True, slots=True)
class Alignment:
    """Matched stretches ``(this_step, other_step, length)`` in step order (``segments``:
    each a run of consecutive steps on both sides), and the same as indexes of the steps
    read (``runs``: they differ where steps were left out)."""

    this: Steps
    other: Steps
    segments: list[tuple[int, int, int]]
    runs: list[tuple[int, int, int]]

    def counterpart(self, step: int) -> tuple[int, bool]:
        """The other run's step for ``step`` of this one, and whether it is an exact match."""
        starts = [segment[0] for segment in self.segments]
        index = bisect.bisect_right(starts, step) - 1
        if index < 0:
            return self.other.first, False
        this_start, other_start, length = self.segments[index]
        if step < this_start + length:
            return other_start + step - this_start, True
        return other_start + length - 1, False

    def parted(self, step: int) -> tuple[int | None, int | None]:
        """Where each run went after the last step both did alike at or before ``step``
        (a step without counterpart): the next step of each, None where that run had
        ended."""
        starts = [segment[0] for segment in self.segments]
        index = bisect.bisect_right(starts, step) - 1
        if index < 0:
            this_next, other_next = self.this.first, self.other.first
        else:
            this_start, other_start, length = self.segments[index]
            this_next, other_next = this_start + length, other_start + length
        return (
            this_next if this_next <= self.this.last else None,
            other_next if other_next <= self.other.last else None,
        )


def align(this: Steps, other: Steps) -> Alignment:
    """Match the steps of two recordings (see the module docstring)."""
    a = this.signatures + [_END] * GRAMS[0]
    b = other.signatures + [_END] * GRAMS[0]
    n, m = len(this.signatures), len(other.signatures)
    runs: list[tuple[int, int, int]] = []
    budget = [_SEARCH_BUDGET * (n + m)]
    i = j = 0
    while i < n and j < m:
        length = _common_run(a, b, i, j, min(n - i, m - j))
        if length:
            runs.append((i, j, length))
            i, j = i + length, j + length
        if i >= n or j >= m:
            break
        resumed = _resynchronize(a, b, i, j, n, m, budget)
        if resumed is None:
            break
        i, j = resumed
    return Alignment(this, other, _in_steps(this, other, runs), runs)


def _in_steps(
    this: Steps, other: Steps, runs: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """Matched runs of indexes as stretches of consecutive steps on both sides."""
    if this.numbers is None and other.numbers is None:
        return [(this.first + i, other.first + j, length) for i, j, length in runs]
    segments = []
    for i, j, length in runs:
        start = 0
        for offset in range(1, length + 1):
            if offset == length or (
                this.step(i + offset) != this.step(i + offset - 1) + 1
                or other.step(j + offset) != other.step(j + offset - 1) + 1
            ):
                segments.append((this.step(i + start), other.step(j + start), offset - start))
                start = offset
    return segments


def _common_run(a: list[int], b: list[int], i: int, j: int, limit: int) -> int:
    """How many signatures agree from ``a[i]`` and ``b[j]`` on, a block at a time."""
    length = 0
    while (
        length + _BLOCK <= limit
        and a[i + length : i + length + _BLOCK] == b[j + length : j + length + _BLOCK]
    ):
        length += _BLOCK
    while length < limit and a[i + length] == b[j + length]:
        length += 1
    return length


def _resynchronize(
    a: list[int], b: list[int], i: int, j: int, n: int, m: int, budget: list[int]
) -> tuple[int, int] | None:
    """The nearest ``(i', j')`` from which signatures agree again, or None.

    ``budget`` holds the steps the searches may still look at; each search spends its
    window's size."""
    remainder = max(n - i, m - j)
    for gram in GRAMS:
        for window in (*(w for w in _WINDOWS if w < remainder), remainder):
            a_end, b_end = min(i + window, n), min(j + window, m)
            budget[0] -= (a_end - i) + (b_end - j)
            if budget[0] < 0:
                return None
            found = _nearest_agreement(a, b, i, j, a_end, b_end, gram)
            if found is not None:
                return found
    return None


def _nearest_agreement(
    a: list[int], b: list[int], i: int, j: int, a_end: int, b_end: int, gram: int
) -> tuple[int, int] | None:
    """The ``(p, q)`` with the least ``(p - i) + (q - j)`` where ``gram`` signatures agree."""
    first_at: dict[tuple[int, ...], int] = {}
    for q in range(j, b_end):
        first_at.setdefault(tuple(b[q : q + gram]), q)
    best: tuple[int, int] | None = None
    best_cost = (a_end - i) + (b_end - j) + 1
    for p in range(i, a_end):
        if p - i >= best_cost:
            break
        q = first_at.get(tuple(a[p : p + gram]), -1)
        if q >= 0 and (p - i) + (q - j) < best_cost:
            best, best_cost = (p, q), (p - i) + (q - j)
    return best


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two recordings part ways; a step is None where that run had already ended."""

    by: str  # "value" or "control flow"
    this_step: int | None
    other_step: int | None


def first_divergence(
    alignment: Alignment,
    values_differ: Callable[[Any, Any], bool],
    states_differ: Callable[[int, int], bool] | None = None,
) -> Divergence | None:
    """The first step where the runs part ways (module docstring), or None if they never do.

    ``values_differ`` judges two recorded payloads that are not identical (float noise,
    set order); it is called only for those. ``states_differ`` confirms a pair of steps
    whose payloads differ by comparing the states there (``this_step, other_step``),
    called in step order: payloads hold object numbers and the forms of objects recorded
    at that step, which can differ where nothing a view shows does.
    """
    this, other = alignment.this, alignment.other
    leading = alignment.runs[0] if alignment.runs else None
    if leading is None or leading[:2] != (0, 0):
        return Divergence("control flow", this.first, other.first)
    length = leading[2]
    for index in _differing(this.payloads, other.payloads, length):
        if values_differ(this.payloads[index], other.payloads[index]) and (
            states_differ is None or states_differ(this.step(index), other.step(index))
        ):
            return Divergence("value", this.step(index), other.step(index))
    this_next = this.step(length) if length < len(this.signatures) else None
    other_next = other.step(length) if length < len(other.signatures) else None
    if this_next is None and other_next is None:
        return None
    return Divergence("control flow", this_next, other_next)


def _differing(a: list[Any], b: list[Any], length: int) -> Iterable[int]:
    """Indexes below ``length`` whose payloads are not identical, skipping equal blocks."""
    for start in range(0, length, _BLOCK):
        end = min(start + _BLOCK, length)
        if a[start:end] != b[start:end]:
            yield from (index for index in range(start, end) if a[index] != b[index])
