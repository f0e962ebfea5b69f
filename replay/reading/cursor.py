"""Moving through a recording as a debugger moves through a run, forwards and backwards.

Moves are computed on the timeline (``replay.reading.state.timeline``), with each step's stack
depth in its thread worked out from the kinds of events: a ``call`` or ``resume`` goes one
deeper, the step after a ``return``, ``yield`` or ``unwind`` of that thread one shallower.
Each thread's depth is anchored by the state at its first step (the ring buffer may have
dropped the steps that built its stack). A step in a function that is not on top of the
counted stack pops to it: frames that left without an event of their own (a closed
generator) are dropped there. Only breakpoint conditions need states, and only at the
steps where a breakpoint's place matches.

Stepping stays in the thread of the current step, as pdb's does. The prompt
(``replay.interactive.prompt``) and the DAP server (``replay.interactive.dap``) both move
with a ``Cursor``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from pytest_scope.errors import ScopeError, TraceFileError
from pytest_scope.trace.codec import Event
from pytest_scope.trace.reader import RecordedTest, TraceFile
from replay.reading.kept_chunks import ChunkKeeping
from replay.reading.query import Condition, ExpressionError
from replay.reading.state import Replay, State, failure_step, replayed_at, state_at, timeline

ENTERING: Final = frozenset({"call", "resume"})
LEAVING: Final = frozenset({"return", "yield", "unwind"})
RAISED: Final = "raised"  # stop at every exception raised
FAILURE: Final = "failure"  # stop where the exception that failed the test was raised
_STATE_CACHE: Final = 64
_HIT_CONDITION = re.compile(r"^\s*(==|>=|<=|>|<|%)?\s*(\d+)\s*$")


class BreakpointError(ScopeError):
    """A breakpoint that cannot be set: a malformed place, condition or hit count."""


@dataclass(slots=True)
class Breakpoint:
    """A place (``file:line`` or a function) with an optional condition and hit count.

    Hits are counted in recording order from the first step, so the third hit is the same
    step whichever way the user got there.
    """

    number: int
    file: str | None = None
    line: int | None = None
    function: str | None = None
    condition: Condition | None = None
    hit_condition: str | None = None
    _hits: list[int] | None = field(default=None, repr=False)

    def describe(self) -> str:
        place = self.function if self.function else f"{self.file}:{self.line}"
        extra = f" if {self.condition.text}" if self.condition else ""
        hits = f" (hit count {self.hit_condition})" if self.hit_condition else ""
        return f"breakpoint {self.number} at {place}{extra}{hits}"


def _hit_test(text: str) -> tuple[str, int]:
    found = _HIT_CONDITION.match(text)
    if found is None:
        raise BreakpointError(
            f"hit count {text!r} is not a number or a comparison like '>= 3' or '% 2'"
        )
    operator, number = found.group(1) or "==", int(found.group(2))
    if operator == "%" and number == 0:
        raise BreakpointError("hit count '% 0' divides by zero")
    return operator, number


def _hit_matches(text: str, ordinal: int) -> bool:
    operator, number = _hit_test(text)
    if operator == "%":
        return ordinal % number == 0
    return {
        "==": ordinal == number,
        ">=": ordinal >= number,
        "<=": ordinal <= number,
        ">": ordinal > number,
        "<": ordinal < number,
    }[operator]


def names_at(state: State, frame: int = -1) -> dict[str, Any]:
    """What a path can start from in a frame: its locals, the watched objects, and pdb's
    ``__exception__`` and ``__return__`` for the step's exception and value."""
    names: dict[str, Any] = dict(state.watched)
    names.update(state.stack[frame]["locals"])
    if state.exception is not None:
        names["__exception__"] = state.exception
    if state.return_value is not None or state.event["kind"] in ("return", "yield"):
        names["__return__"] = state.return_value
    return names


class Cursor:
    """A position in one recorded test, the moves from it, and the breakpoints."""

    def __init__(self, trace: TraceFile, test: RecordedTest) -> None:
        self.trace = trace
        self.test = test
        self.failure = failure_step(trace, test)  # refuses a test that recorded no step
        self.rows = timeline(trace, test)
        if not self.rows:
            raise TraceFileError(trace.path, f"corrupt trace file (no chunk of {test.nodeid})")
        self._index = {row["step"]: position for position, row in enumerate(self.rows)}
        self.depths = self._depths()
        # Where to start: the failure, unless the ring buffer dropped it (a long unwind).
        self.step = self.failure if self.failure in self._index else self.last
        self.breakpoints: list[Breakpoint] = []
        # As pdb's ``c``: breakpoints and the failure; every raised exception on request.
        self.exception_stops: set[str] = {FAILURE}
        self._states: dict[int, State] = {}
        self._reader = ChunkKeeping(trace)
        self._next_number = 1

    def close(self) -> None:
        """Close the cursor's own reader of the trace file (the caller closes ``trace``)."""
        self._reader.close()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def first(self) -> int:
        return int(self.rows[0]["step"])

    @property
    def last(self) -> int:
        return int(self.rows[-1]["step"])

    def position(self, step: int | None = None) -> int:
        """Where ``step`` (default: the current one) is in ``rows``."""
        return self._index[self.step if step is None else step]

    def row(self, step: int | None = None) -> dict[str, Any]:
        return self.rows[self.position(step)]

    def depth(self, step: int | None = None) -> int:
        return self.depths[self._index[self.step if step is None else step]]

    def state(self, step: int | None = None) -> State:
        """The state at ``step`` (default: the current one), kept for the latest few steps."""
        step = self.step if step is None else step
        found = self._states.get(step)
        if found is None:
            if len(self._states) >= _STATE_CACHE:
                del self._states[next(iter(self._states))]
            found = self._states[step] = state_at(self._reader, self.test, step)
        return found

    def replayed(self, step: int | None = None) -> tuple[Event, Replay]:
        """The event of ``step`` (default: the current one) and the values as recorded there,
        references unresolved (``state.replayed_at``)."""
        return replayed_at(self._reader, self.test, self.step if step is None else step)

    def _depths(self) -> list[int]:
        stacks: dict[int, list[str]] = {}
        leaving: dict[int, bool] = {}
        depths = []
        for row in self.rows:
            thread, kind, function = row["thread"], row["kind"], row["function"]
            stack = stacks.get(thread)
            if stack is None:
                anchor = state_at(self.trace, self.test, row["step"])
                stack = stacks[thread] = [frame["function"] for frame in anchor.stack]
            else:
                if leaving.get(thread) and stack:
                    stack.pop()
                if kind in ENTERING:
                    stack.append(function)
                elif stack and stack[-1] != function and function in stack:
                    while stack[-1] != function:
                        stack.pop()
            leaving[thread] = kind in LEAVING
            depths.append(len(stack))
        return depths

    # Moves: each returns the step to go to, or None when there is none that way.

    def _scan(self, forward: bool) -> Iterator[int]:
        """Positions after (or before) the current one, in the current step's thread."""
        here = self._index[self.step]
        thread = self.rows[here]["thread"]
        positions = range(here + 1, len(self.rows)) if forward else range(here - 1, -1, -1)
        for position in positions:
            if self.rows[position]["thread"] == thread:
                yield position

    def step_into(self, forward: bool = True) -> int | None:
        """pdb's ``s`` (and back): the next step of this thread, into calls."""
        return next((self.rows[p]["step"] for p in self._scan(forward)), None)

    def step_over(self, forward: bool = True) -> int | None:
        """pdb's ``n`` (and back): the next step of this thread not inside a call from here."""
        depth = self.depth()
        for position in self._scan(forward):
            if self.depths[position] <= depth:
                return int(self.rows[position]["step"])
        return None

    def step_out(self, forward: bool = True) -> int | None:
        """pdb's ``r``: where this frame returns (from there, the caller's next step).
        Backwards: where this frame was called (from there, the caller's step before)."""
        depth, kind = self.depth(), self.row()["kind"]
        ends = LEAVING if forward else ENTERING
        at_end = kind in ends
        earliest = None
        for position in self._scan(forward):
            found = self.depths[position]
            if found < depth:
                return int(self.rows[position]["step"]) if at_end or earliest is None else earliest
            if found == depth and not at_end:
                if self.rows[position]["kind"] in ends:
                    return int(self.rows[position]["step"])
                earliest = int(self.rows[position]["step"])
        return earliest

    def resume(self, forward: bool = True) -> tuple[int | None, str]:
        """pdb's ``c`` (and back): the next breakpoint hit or exception stop, and why.

        Which exceptions stop is ``exception_stops``: the failure (the default), every
        raised exception (``RAISED``), both, or none."""
        here = self._index[self.step]
        positions = range(here + 1, len(self.rows)) if forward else range(here - 1, -1, -1)
        for position in positions:
            reason = self.stop_reason(int(self.rows[position]["step"]))
            if reason is not None:
                return int(self.rows[position]["step"]), reason
        return None, ""

    # Stops.

    def stop_reason(self, step: int) -> str | None:
        """Why a continue stops at ``step``: a breakpoint hit or an exception, else None."""
        for breakpoint in self.breakpoints:
            if self.hits(breakpoint, step):
                return breakpoint.describe()
        kind = self.row(step)["kind"]
        if FAILURE in self.exception_stops and step == self.test.failure_step:
            return "the exception that failed the test"
        if RAISED in self.exception_stops and kind == "exception":
            return "exception raised"
        return None

    def add_breakpoint(
        self,
        place: str,
        condition: str | None = None,
        hit_condition: str | None = None,
    ) -> Breakpoint:
        """``FILE:LINE`` or a function's (qualified) name; the condition is checked now."""
        try:
            checked = Condition(condition) if condition else None
        except ExpressionError as exc:
            raise BreakpointError(f"bad condition: {exc}") from None
        if hit_condition:
            _hit_test(hit_condition)
        file, _, line = place.rpartition(":")
        breakpoint = Breakpoint(self._next_number, condition=checked, hit_condition=hit_condition)
        if file and line.isdigit():
            breakpoint.file, breakpoint.line = file, int(line)
            if not any(self.file_matches(file, row["file"]) for row in self.rows):
                raise BreakpointError(f"no recorded step is in a file named like {file!r}")
        elif place and ":" not in place and not any(c.isspace() for c in place):
            breakpoint.function = place
            if not any(self._function_matches(place, row["function"]) for row in self.rows):
                raise BreakpointError(f"no recorded function is named {place!r}")
        else:
            raise BreakpointError(f"{place!r} is neither FILE:LINE nor a function name")
        self._next_number += 1
        self.breakpoints.append(breakpoint)
        return breakpoint

    def remove_breakpoint(self, number: int) -> None:
        kept = [bp for bp in self.breakpoints if bp.number != number]
        if len(kept) == len(self.breakpoints):
            raise BreakpointError(f"there is no breakpoint {number}")
        self.breakpoints = kept

    @staticmethod
    def file_matches(wanted: str, recorded: str) -> bool:
        wanted = wanted.replace("\\", "/")
        recorded = recorded.replace("\\", "/")
        return recorded == wanted or recorded.endswith("/" + wanted.removeprefix("./"))

    @staticmethod
    def _function_matches(wanted: str, recorded: str) -> bool:
        return recorded == wanted or recorded.endswith("." + wanted)

    def _place_matches(self, breakpoint: Breakpoint, position: int) -> bool:
        row = self.rows[position]
        if breakpoint.function is not None:
            return row["kind"] == "call" and self._function_matches(
                breakpoint.function, row["function"]
            )
        if row["line"] != breakpoint.line or not self.file_matches(
            str(breakpoint.file), row["file"]
        ):
            return False
        # The line's first step, not the return or exception at the same line after it.
        for earlier in range(position - 1, -1, -1):
            other = self.rows[earlier]
            if other["thread"] == row["thread"]:
                return not (
                    other["file"] == row["file"]
                    and other["line"] == row["line"]
                    and self.depths[earlier] == self.depths[position]
                    and other["kind"] not in ENTERING | LEAVING
                )
        return True

    def _condition_holds(self, breakpoint: Breakpoint, step: int) -> bool:
        if breakpoint.condition is None:
            return True
        return breakpoint.condition.holds(names_at(self.state(step)))

    def hits(self, breakpoint: Breakpoint, step: int) -> bool:
        """Whether ``breakpoint`` stops at ``step``: place, condition, then hit count."""
        position = self._index[step]
        if not self._place_matches(breakpoint, position):
            return False
        if breakpoint.hit_condition is None:
            return self._condition_holds(breakpoint, step)
        if breakpoint._hits is None:
            breakpoint._hits = [
                int(row["step"])
                for place, row in enumerate(self.rows)
                if self._place_matches(breakpoint, place)
                and self._condition_holds(breakpoint, int(row["step"]))
            ]
        if step not in breakpoint._hits:
            return False
        return _hit_matches(breakpoint.hit_condition, breakpoint._hits.index(step) + 1)
