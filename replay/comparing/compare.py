"""State comparison with deepdiff, turned into the project's own change records.

A change record is plain JSON::

    {"frame": FUNCTION | None, "depth": N | None, "path": PATH,
     "change": "changed" | "added" | "removed", "this": VALUE, "against": VALUE}

``depth`` counts frames from the outermost (0); ``path`` is where a user would look:
``total``, ``self.levels['plum']``, ``items[2]``, or one of ``(line)`` and ``(function)``
for a frame, ``(exception)`` and ``(return value)`` for the step. An object the test
watches (``pytest_scope.watch``) belongs to no frame: ``frame`` and ``depth`` are
``None`` and its path starts with ``WATCHED``: ``(watched) cache['a']``. ``this`` is the value
in the recording shown, ``against`` the one in the recording compared with; ``null`` on
the side where the place does not exist (``added``: only this run has it).

deepdiff is configured for recorded values: per-key changes rather than a whole changed
dict (``threshold_to_diff_deeper=0``); floats equal within ``math.isclose`` noise; order
ignored only in sets, whose recorded order follows string hashing and so differs between
runs (a list in another order is a real change); its cache and pass limits bound that
order-free matching. Named values (locals, watched objects) are compared one at a time:
deepdiff counts every node it visits against ``max_diffs``, and a frame compared whole
stopped short inside one big value. Where it still stops short, the findings say so
(``cut``), in the tool's own words; deepdiff's warning is kept from the user. Differences
that say nothing about the code (addresses, hashes, values redacted in one run only,
``replay.comparing.noise``) are set aside, and listed as such (``set_aside``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from deepdiff import DeepDiff

from pytest_scope.errors import NotFoundError
from pytest_scope.trace.codec import Event
from pytest_scope.trace.paths import project_path
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.schema import RESOLVE_NODES, Container, Payload
from replay.comparing.align import (
    Alignment,
    Divergence,
    Signatures,
    align,
    first_divergence,
    load_steps,
)
from replay.comparing.noise import why_not_a_difference
from replay.comparing.plans import Common, common, plan_of
from replay.reading.format_facts import names_without_assertion_temporaries
from replay.reading.state import Replay, State, state_at, state_of, walk

MAX_CHANGES: Final = 100
_WALK_AHEAD: Final = 4096  # steps a confirmation walks on rather than starting again
WATCHED: Final = "(watched) "
_ADDED: Final = frozenset({"dictionary_item_added", "iterable_item_added", "set_item_added"})
_REMOVED: Final = frozenset(
    {"dictionary_item_removed", "iterable_item_removed", "set_item_removed"}
)
_MISSING: Final = object()


def _unordered(level: Any) -> bool:
    """deepdiff's ``ignore_order_func``: only the items of a recorded set (or subclass),
    which a resolved form says by its ``$kind``."""
    parent = level.up
    return (
        parent is not None
        and level.path(output_format="list")[-1:] == ["items"]
        and isinstance(parent.t1, dict)
        and parent.t1.get("$kind") == "set"
    )


# Each value is compared on its own, and a recorded value holds at most RESOLVE_NODES
# values, each a few deepdiff nodes: this bound stops only a pathological comparison.
MAX_DEEPDIFF_NODES: Final = 40 * RESOLVE_NODES
DEEPDIFF_OPTIONS: Final[dict[str, Any]] = {
    "threshold_to_diff_deeper": 0,
    "math_epsilon": 1e-9,
    "ignore_order_func": _unordered,
    "cache_size": 2000,
    "max_passes": 50,
    "max_diffs": MAX_DEEPDIFF_NODES,
    "view": "tree",
}
_STOPPED: Final = ("MAX DIFF LIMIT REACHED", "MAX PASS LIMIT REACHED")


class _DeepDiffLimits(logging.Filter):
    """deepdiff logs a warning when it stops at a limit; the comparison says so in its own
    words (``Findings.cut``), so the warning never reaches the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("DeepDiff has reached the max number of")


logging.getLogger("deepdiff.diff").addFilter(_DeepDiffLimits())


@dataclass(slots=True)
class ValueFindings:
    """What comparing two recorded values found: ``(path as keys, change)`` pairs, the
    differences set aside as ``(path as keys, reason)`` (``replay.comparing.noise``), and the paths
    where deepdiff stopped at a limit before it was done (more may differ)."""

    changes: list[tuple[list[Any], str]]
    set_aside: list[tuple[list[Any], str]] = field(default_factory=list)
    cut: list[list[Any]] = field(default_factory=list)


def value_findings(against: Any, this: Any) -> ValueFindings:
    """deepdiff's findings, path cut where the user sees a value. Two maps of named values
    (locals, watched objects) are compared name by name: deepdiff's limits then bound one
    value, not a whole frame."""
    if _named_values(against) and _named_values(this):
        findings = ValueFindings([])
        for name in [*this, *(name for name in against if name not in this)]:
            mine, theirs = this.get(name, _MISSING), against.get(name, _MISSING)
            if mine is _MISSING or theirs is _MISSING:
                findings.changes.append(([name], "added" if theirs is _MISSING else "removed"))
            elif mine != theirs:
                inner = _deepdiff(theirs, mine, [name], this, against)
                findings.changes.extend(inner.changes)
                findings.set_aside.extend(inner.set_aside)
                findings.cut.extend(inner.cut)
        return findings
    return _deepdiff(against, this, [], this, against)


def _named_values(value: Any) -> bool:
    return type(value) is dict and "$type" not in value


def _deepdiff(
    against: Any, this: Any, prefix: list[Any], this_root: Any, against_root: Any
) -> ValueFindings:
    diff = DeepDiff(against, this, **DEEPDIFF_OPTIONS)
    found: dict[tuple[Any, ...], str] = {}
    set_aside: dict[tuple[Any, ...], str] = {}
    for report, levels in diff.items():
        change = "added" if report in _ADDED else "removed" if report in _REMOVED else "changed"
        for level in levels:
            full = prefix + level.path(output_format="list")
            keys = tuple(_shown_prefix(full, this_root, against_root))
            reason = _not_a_difference(level)
            if reason is not None:
                set_aside.setdefault(keys, reason)
            else:
                found.setdefault(keys, change if list(keys) == full else "changed")
    stats: dict[str, Any] = diff.get_stats()  # type: ignore[no-untyped-call]
    return ValueFindings(
        [(list(keys), change) for keys, change in found.items()],
        [(list(keys), reason) for keys, reason in set_aside.items() if keys not in found],
        [prefix] if any(stats.get(limit) for limit in _STOPPED) else [],
    )


def _not_a_difference(level: Any) -> str | None:
    """Why a deepdiff finding is no difference (``replay.comparing.noise``): its own values,
    or those of a value holding it, are the same as far as a recording can tell."""
    while level is not None:
        reason = why_not_a_difference(level.t2, level.t1)
        if reason is not None:
            return reason
        level = level.up
    return None


def payloads_differ(this: Any, against: Any) -> bool:
    """Whether two recorded events may change the state differently: not equal up to float
    noise and set order. A cheap filter (no deepdiff): where it says they may, the states
    decide (``find_divergence``)."""
    objects = Payload.OBJECTS
    if type(this) is dict and type(against) is dict and objects in this and objects in against:
        rest = {key: value for key, value in this.items() if key != objects}
        other_rest = {key: value for key, value in against.items() if key != objects}
        return not (_alike(rest, other_rest) and _entries_alike(this[objects], against[objects]))
    return not _alike(this, against)


def _entries_alike(these: Any, those: Any) -> bool:
    """Object entries alike; a set's (its entry's kind says so) with its items in any order."""
    if type(these) is not list or type(those) is not list or len(these) != len(those):
        return _alike(these, those)
    for this, against in zip(these, those, strict=True):
        if _set_entry(this) and _set_entry(against):
            if not _alike(this[:2] + this[3:], against[:2] + against[3:]):
                return False
            if not _set_forms_alike(this[2], against[2]):
                return False
        elif not _alike(this, against):
            return False
    return True


def _set_entry(entry: Any) -> bool:
    return (
        type(entry) is list
        and len(entry) == 5
        and entry[4] == Container.SET
        and type(entry[2]) is dict
        and type(entry[2].get("items")) is list
    )


def _set_forms_alike(this: dict[str, Any], against: dict[str, Any]) -> bool:
    if this.keys() != against.keys():
        return False
    rest = {key: value for key, value in this.items() if key != "items"}
    other_rest = {key: value for key, value in against.items() if key != "items"}
    return _alike(rest, other_rest) and _same_items(this["items"], against["items"])


def _alike(this: Any, against: Any) -> bool:
    if this == against:
        return True
    kind = type(this)
    if kind is not type(against):
        return False
    if kind is float:
        return math.isclose(this, against, rel_tol=0, abs_tol=DEEPDIFF_OPTIONS["math_epsilon"])
    if kind is list:
        return len(this) == len(against) and all(map(_alike, this, against))
    if kind is not dict or this.keys() != against.keys():
        return False
    if this.get("$kind") == "set" and type(this.get("items")) is list:
        return _set_forms_alike(this, against)
    return all(_alike(value, against[key]) for key, value in this.items())


def _same_items(these: list[Any], those: list[Any]) -> bool:
    """The items of two recorded sets are the same, in any order."""
    if len(these) != len(those):
        return False
    return sorted(map(repr, these)) == sorted(map(repr, those))


@dataclass(slots=True)
class Findings:
    """What differs between two states: every change record, the differences set aside
    (change records with a ``reason``), and the places whose comparison deepdiff stopped
    short (more may differ there)."""

    changes: list[dict[str, Any]]
    set_aside: list[dict[str, Any]]
    cut: list[str]


def state_changes(
    this: State, against: State, roots: tuple[str | None, str | None] = (None, None)
) -> tuple[list[dict[str, Any]], int]:
    """The change records between two states, at most ``MAX_CHANGES``, and how many more."""
    return _capped(state_findings(this, against, roots).changes)


def _capped(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """At most ``MAX_CHANGES`` records, and how many more there are."""
    return records[:MAX_CHANGES], max(0, len(records) - MAX_CHANGES)


def state_findings(
    this: State,
    against: State,
    roots: tuple[str | None, str | None] = (None, None),
    lines: bool = True,
) -> Findings:
    """The change records between two states, and where the comparison was cut.

    ``roots`` are the two recordings' rootdirs: a file of the project is one file in two
    checkouts (``replay.comparing.align`` matches steps the same way). ``lines=False``: one of the
    recordings has no line steps (``replay.comparing.plans``), so its frames' lines are not
    compared."""
    findings = Findings([], [], [])
    paired = 0
    for depth, (mine, theirs) in enumerate(zip(this.stack, against.stack, strict=False)):
        if mine["function"] != theirs["function"] or project_path(
            mine["file"], roots[0]
        ) != project_path(theirs["file"], roots[1]):
            break
        paired = depth + 1
        function = mine["function"]
        if lines and mine["line"] != theirs["line"]:
            findings.changes.append(
                _record(function, depth, "(line)", "changed", mine["line"], theirs["line"])
            )
        _add_value_records(
            findings,
            function,
            depth,
            names_without_assertion_temporaries(mine["locals"]),
            names_without_assertion_temporaries(theirs["locals"]),
        )
    for depth in range(paired, max(len(this.stack), len(against.stack))):
        here = _function(this.stack, depth)
        there = _function(against.stack, depth)
        if here is not None and here == there:  # same name, another file: show the files
            here = f"{here} ({this.stack[depth]['file']})"
            there = f"{there} ({against.stack[depth]['file']})"
        change = "changed" if here and there else "added" if here else "removed"
        function = this.stack[depth]["function"] if here else against.stack[depth]["function"]
        findings.changes.append(_record(function, depth, "(function)", change, here, there))
    _add_value_records(findings, None, None, this.watched, against.watched, WATCHED)
    for path, mine_value, theirs_value in (
        ("(exception)", this.exception, against.exception),
        ("(return value)", this.return_value, against.return_value),
    ):
        if mine_value == theirs_value:
            continue
        if theirs_value is None or mine_value is None:
            change = "added" if theirs_value is None else "removed"
            findings.changes.append(_record(None, None, path, change, mine_value, theirs_value))
            continue
        found = value_findings(theirs_value, mine_value)
        if found.cut:
            findings.cut.append(path)
        if found.changes:
            findings.changes.append(_record(None, None, path, "changed", mine_value, theirs_value))
        elif found.set_aside:
            record = _record(None, None, path, "changed", mine_value, theirs_value)
            findings.set_aside.append(record | {"reason": found.set_aside[0][1]})
    return findings


def _function(stack: list[dict[str, Any]], depth: int) -> str | None:
    return stack[depth]["function"] if depth < len(stack) else None


def _add_value_records(
    findings: Findings,
    function: str | None,
    depth: int | None,
    mine: dict[str, Any],
    theirs: dict[str, Any],
    prefix: str = "",
) -> None:
    """The records of named values (a frame's locals, the watched objects), by path
    (deepdiff's order is its own)."""
    if mine == theirs:
        return
    found = value_findings(theirs, mine)
    records = []
    for keys, change in found.changes:
        records.append(
            _record(
                function,
                depth,
                prefix + _display(keys, mine if change != "removed" else theirs),
                change,
                _value_at(mine, keys),
                _value_at(theirs, keys),
            )
        )
    findings.changes.extend(sorted(records, key=lambda record: str(record["path"])))
    for keys, reason in found.set_aside:
        record = _record(
            function,
            depth,
            prefix + _display(keys, mine),
            "changed",
            _value_at(mine, keys),
            _value_at(theirs, keys),
        )
        findings.set_aside.append(record | {"reason": reason})
    for keys in found.cut:
        where = prefix + _display(keys, mine if _value_at(mine, keys) is not _MISSING else theirs)
        findings.cut.append(where if function is None else f"{function}: {where}")


def _record(
    function: str | None, depth: int | None, path: str, change: str, this: Any, against: Any
) -> dict[str, Any]:
    return {
        "frame": function,
        "depth": depth,
        "path": path,
        "change": change,
        "this": None if this is _MISSING else this,
        "against": None if against is _MISSING else against,
    }


def _shown_prefix(keys: list[Any], this: Any, against: Any) -> list[Any]:
    """Cut a path at a recorded object's own ``$`` marks and ``repr``: the object changed."""
    node = this if _value_at(this, keys) is not _MISSING else against
    for position, key in enumerate(keys):
        if _is_object(node) and (key == "repr" or (isinstance(key, str) and key.startswith("$"))):
            return keys[:position]
        node = _step(node, key)
    return keys


def _display(keys: list[Any], root: Any) -> str:
    """``self.levels['plum']`` for ``['self', 'attrs', 'levels', 'plum']`` (a local first)."""
    text = str(keys[0])
    node = _step(root, keys[0])
    position = 1
    while position < len(keys):
        key = keys[position]
        if _is_object(node) and key in ("attrs", "items") and position + 1 < len(keys):
            inner = keys[position + 1]
            text += f".{inner}" if key == "attrs" else f"[{inner!r}]"
            node = _step(_step(node, key), inner)
            position += 2
            continue
        text += f"[{key!r}]"
        node = _step(node, key)
        position += 1
    return text


def _is_object(node: Any) -> bool:
    return isinstance(node, dict) and "$type" in node


def _step(node: Any, key: Any) -> Any:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list | tuple) and isinstance(key, int) and -len(node) <= key < len(node):
        return node[key]
    return _MISSING


def _value_at(root: Any, keys: list[Any]) -> Any:
    node = root
    for key in keys:
        node = _step(node, key)
        if node is _MISSING:
            break
    return node


@dataclass(frozen=True, slots=True)
class Recorded:
    """One side of a comparison: a recorded attempt of a test in its trace file."""

    trace: TraceFile
    test: RecordedTest


@dataclass(frozen=True, slots=True)
class StateDiff:
    """The state at a step compared with the aligned step of another recording."""

    against: Recorded
    state: State  # the other recording's state at the aligned step
    exact: bool  # the aligned step does the same thing (False: the last one that did)
    changes: list[dict[str, Any]]
    omitted: int
    cut: list[str] = field(default_factory=list)  # places whose comparison stopped short
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # not differences: why
    # Not exact: where each run went after the last step both did alike (this run's, the
    # other's), as timeline rows; None where that run had ended.
    parted: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None
    plans: str | None = None  # where the recordings' plans differ: that, and what is compared


@dataclass(frozen=True, slots=True)
class DivergenceReport:
    """Where two recordings part ways, with both states there; None states: already ended."""

    by: str | None  # "value", "control flow", or None when they never part
    this: State | None
    against: State | None
    changes: list[dict[str, Any]]
    omitted: int
    cut: list[str] = field(default_factory=list)  # places whose comparison stopped short
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # not differences: why
    plans: str | None = None  # where the recordings' plans differ: that, and what is compared


def alignment(this: Recorded, against: Recorded) -> Alignment:
    """The two recordings' steps matched (``replay.comparing.align``). It reads every step of both:
    a view that shows several diffs computes it once (``Comparer``) and passes it on."""
    signatures = Signatures()
    lines = common_ground(this, against).lines
    return align(
        load_steps(this.trace, this.test, signatures, lines),
        load_steps(against.trace, against.test, signatures, lines),
    )


def common_ground(this: Recorded, against: Recorded) -> Common:
    """What both recordings record (``replay.comparing.plans``): all steps, unless their
    plans differ."""
    return common(plan_of(this.trace, this.test), plan_of(against.trace, against.test))


def compare_at(
    state: State, this: Recorded, against: Recorded, aligned: Alignment | None = None
) -> StateDiff:
    """``state`` (of ``this``) against the state at the aligned step of ``against``."""
    aligned = aligned or alignment(this, against)
    step, exact = aligned.counterpart(state.step)
    other = state_at(against.trace, against.test, step)
    basis = common_ground(this, against)
    found = state_findings(state, other, _roots(this, against), basis.lines)
    changes, omitted = _capped(found.changes)
    parted = None
    if not exact:
        this_next, other_next = aligned.parted(state.step)
        parted = (_event_at(this, this_next), _event_at(against, other_next))
    return StateDiff(
        against, other, exact, changes, omitted, found.cut, found.set_aside, parted, basis.note
    )


def _event_at(recorded: Recorded, step: int | None) -> dict[str, Any] | None:
    """The timeline row of ``step`` (None: none)."""
    if step is None:
        return None
    return {"step": step} | state_at(recorded.trace, recorded.test, step).event


class Comparer:
    """The states of ``this`` compared with ``against``'s at the aligned steps, for a view
    that shows many: the alignment is computed once, at the first need, and each step's
    diff is kept."""

    def __init__(self, this: Recorded, against: Recorded) -> None:
        self.this = this
        self.against = against
        self._diffs: dict[int, StateDiff] = {}

    @cached_property
    def aligned(self) -> Alignment:
        return alignment(self.this, self.against)

    def at(self, state: State) -> StateDiff:
        """``compare_at`` of ``state``, a state of ``this``."""
        diff = self._diffs.get(state.step)
        if diff is None:
            diff = compare_at(state, self.this, self.against, self.aligned)
            self._diffs[state.step] = diff
        return diff


def _roots(this: Recorded, against: Recorded) -> tuple[str | None, str | None]:
    return (
        this.trace.meta_of(this.test).get("rootdir"),
        against.trace.meta_of(against.test).get("rootdir"),
    )


def find_divergence(
    this: Recorded, against: Recorded, aligned: Alignment | None = None
) -> Divergence | None:
    """The first step where ``this`` and ``against`` part ways, or None if they never do:
    ``replay.comparing.align.first_divergence``, payloads judged by ``payloads_differ``, candidates
    confirmed where the states show a difference (``state_findings``)."""
    walks = _StatesInStep(this, against)
    return first_divergence(aligned or alignment(this, against), payloads_differ, walks.differ)


class _StatesInStep:
    """Both recordings walked forwards (``replay.reading.state.walk``), so that confirming
    candidate steps in step order costs a pass over the steps between them, not a
    reconstruction from a keyframe per step; a walk starts again at a candidate farther
    ahead than ``_WALK_AHEAD`` steps, where only that step's chunk needs decoding."""

    def __init__(self, this: Recorded, against: Recorded) -> None:
        self._sides = (this, against)
        self._walks: list[tuple[Iterator[tuple[Event, Replay]], int] | None] = [None, None]
        self._roots = _roots(this, against)
        self._lines = common_ground(this, against).lines

    def differ(self, this_step: int, other_step: int) -> bool:
        """Whether the states at the two steps differ in what a view shows."""
        mine = self._state_at(0, this_step)
        theirs = self._state_at(1, other_step)
        return bool(state_findings(mine, theirs, self._roots, self._lines).changes)

    def _state_at(self, side: int, step: int) -> State:
        recorded = self._sides[side]
        current = self._walks[side]
        if current is None or not current[1] < step <= current[1] + _WALK_AHEAD:
            current = (walk(recorded.trace, recorded.test, step), 0)
        steps = current[0]
        for event, replay in steps:
            if event[0] == step:
                self._walks[side] = (steps, step)
                return state_of(recorded.trace, recorded.test, event, replay)
        raise NotFoundError(f"step {step} is not recorded for {recorded.test.nodeid}")


def diverge(
    this: Recorded, against: Recorded, aligned: Alignment | None = None
) -> DivergenceReport:
    """The first step where ``this`` and ``against`` part ways, both sides and what differs."""
    found = find_divergence(this, against, aligned)
    basis = common_ground(this, against)
    if found is None:
        return DivergenceReport(None, None, None, [], 0, plans=basis.note)
    mine = None if found.this_step is None else state_at(this.trace, this.test, found.this_step)
    theirs = (
        None
        if found.other_step is None
        else state_at(against.trace, against.test, found.other_step)
    )
    if mine is None or theirs is None:
        return DivergenceReport(found.by, mine, theirs, [], 0, plans=basis.note)
    found_there = state_findings(mine, theirs, _roots(this, against), basis.lines)
    changes, omitted = _capped(found_there.changes)
    return DivergenceReport(
        found.by,
        mine,
        theirs,
        changes,
        omitted,
        found_there.cut,
        found_there.set_aside,
        basis.note,
    )
