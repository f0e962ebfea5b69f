"""Scoring one failing test of a mutant against its green recording, through the replay API
(what ``scope-replay TEST`` and ``--diverge`` show), for ``diagnosis.py``.

The questions, per failing test:

- (a) does the first divergence (``replay.comparing.compare.diverge``) lie in the mutated function,
  or is that function on either side's stack at that step? (``a_top``: the step's own
  frame is it.)
- (b) is it a "by value" divergence that names no change? (never right)
- (c) does the failure-point diff (``compare_at`` of the failure step) name a frame of the
  mutated function, or a value that function returned or yielded in the failing run?

A frame is the mutated function when its qualname is the function's (or of code nested in
it: a lambda or generator expression written inside it) and its file is the mutated file.
Files are compared as module paths (``attr/_make.py``): a recording names the file under
the rootdir (``src/attr/_make.py``) or in ``site-packages``, and both are the one module.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pytest_scope.trace.paths import project_path
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.schema import Kind
from replay.comparing.compare import Comparer, Recorded, diverge, value_findings
from replay.reading.references import References
from replay.reading.state import State, failure_step, replayed_at, state_at, walk

_INSTALL_DIRS = ("site-packages/", "dist-packages/")
_PRODUCED_LIMIT = 500
CHANGES_KEPT = 5


@dataclass(frozen=True)
class Target:
    """The mutated function: its qualname and its file as a module path."""

    qualname: str
    module_file: str  # e.g. "attr/_make.py"
    import_prefix: str  # the import root under the rootdir: "src/" or ""

    def is_frame(self, frame: dict[str, Any], rootdir: str | None) -> bool:
        function = frame["function"]
        return (
            function == self.qualname or function.startswith(self.qualname + ".<locals>.")
        ) and self.module_of(frame["file"], rootdir) == self.module_file

    def module_of(self, filename: str, rootdir: str | None) -> str:
        path = project_path(filename, rootdir)
        for prefix in (*_INSTALL_DIRS, self.import_prefix):
            if prefix and path.startswith(prefix):
                return path[len(prefix) :]
        return path


@dataclass
class Score:
    """One failing test of one mutant, as the JSON report holds it."""

    test: str
    by: str | None = None
    this_step: int | None = None
    against_step: int | None = None
    where: str = ""  # the divergence step's function and file (this side, else the other)
    where_against: str = ""
    a: bool = False
    a_top: bool = False
    b: bool = False
    c: bool = False
    address_only: bool = False
    changes: list[str] = field(default_factory=list)
    # What the comparison set aside at the divergence step (``replay.comparing.noise``), by reason.
    set_aside: dict[str, int] = field(default_factory=dict)
    # For a value divergence that names no change: where the two steps' recorded payloads
    # differ (``{"$ref": N}`` object numbers, the "b" object entries, ...).
    raw_differences: list[str] = field(default_factory=list)
    failure_changes: list[str] = field(default_factory=list)
    failure_step: int | None = None
    failure_exact: bool | None = None
    note: str = ""


def score(this: Recorded, against: Recorded, target: Target) -> Score:
    """Score ``this`` (the mutant's failing recording) against ``against`` (its green one)."""
    result = Score(this.test.nodeid)
    root_this = this.trace.meta_of(this.test).get("rootdir")
    root_against = against.trace.meta_of(against.test).get("rootdir")
    comparer = Comparer(this, against)
    report = diverge(this, against, comparer.aligned)
    result.by = report.by
    if report.by is None:
        result.note = "no divergence"
    else:
        result.this_step = report.this.step if report.this else None
        result.against_step = report.against.step if report.against else None
        result.where = _where(report.this, root_this) or _where(report.against, root_against)
        result.where_against = _where(report.against, root_against)
        sides = [(report.this, root_this), (report.against, root_against)]
        result.a = any(
            state is not None and any(target.is_frame(frame, root) for frame in state.stack)
            for state, root in sides
        )
        result.a_top = any(
            state is not None and bool(state.stack) and target.is_frame(state.stack[-1], root)
            for state, root in sides
        )
        result.b = report.by == "value" and not report.changes
        result.address_only = bool(report.changes) and all(
            address_only_change(change) for change in report.changes
        )
        result.changes = [change_text(change) for change in report.changes[:CHANGES_KEPT]]
        result.set_aside = set_aside_reasons(report.set_aside)
        if result.b and result.this_step is not None and result.against_step is not None:
            result.raw_differences = raw_differences(
                this, against, result.this_step, result.against_step
            )
    step = failure_step(this.trace, this.test)
    state = state_at(this.trace, this.test, step)
    diff = comparer.at(state)
    result.failure_step = step
    result.failure_exact = diff.exact
    result.failure_changes = [change_text(change) for change in diff.changes[:CHANGES_KEPT]]
    produced = _produced(this.trace, this.test, target, root_this)
    result.c = any(
        (change["frame"] is not None and _names_target(change, state, target, root_this))
        or _holds_produced(change.get("this"), produced)
        for change in diff.changes
    )
    return result


def raw_differences(
    this: Recorded, against: Recorded, this_step: int, against_step: int
) -> list[str]:
    """Where the raw payloads of two steps differ, as deepdiff paths."""
    mine = replayed_at(this.trace, this.test, this_step)[0][6]
    theirs = replayed_at(against.trace, against.test, against_step)[0][6]
    return [
        f"{'/'.join(map(str, keys))} {change}: "
        f"{_brief(_at(mine, keys))} vs {_brief(_at(theirs, keys))}"
        for keys, change in value_findings(theirs, mine).changes[:CHANGES_KEPT]
    ]


def _at(value: Any, keys: list[Any]) -> Any:
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _where(state: State | None, rootdir: str | None) -> str:
    if state is None or not state.stack:
        return ""
    frame = state.stack[-1]
    return f"{frame['function']} ({project_path(frame['file'], rootdir)}:{frame['line']})"


def _names_target(change: dict[str, Any], state: State, target: Target, root: str | None) -> bool:
    depth = change.get("depth")
    if isinstance(depth, int) and depth < len(state.stack):
        return target.is_frame(state.stack[depth], root)
    function = change["frame"]
    return function == target.qualname or function.startswith(target.qualname + ".<locals>.")


def _produced(
    trace: TraceFile, test: RecordedTest, target: Target, rootdir: str | None
) -> set[str]:
    """The values the mutated function returned or yielded in the run, as canonical JSON
    (at most ``_PRODUCED_LIMIT``)."""
    codes = {
        number
        for number, code in trace.codes().items()
        if target.is_frame({"function": code.qualname, "file": code.filename}, rootdir)
    }
    produced: set[str] = set()
    if not codes:
        return produced
    for event, replay in walk(trace, test):
        _, kind, _, _, code_no, _, payload = event
        if code_no in codes and kind in (Kind.RETURN, Kind.YIELD) and payload and "r" in payload:
            value = References(replay.objects).resolve(payload["r"])
            if value is not None:
                produced.add(_canonical(value))
                if len(produced) >= _PRODUCED_LIMIT:
                    break
    return produced


def _holds_produced(value: Any, produced: set[str]) -> bool:
    """Whether ``value`` is a produced value, or holds one that is not a bare scalar."""
    if value is None or not produced:
        return False
    if _canonical(value) in produced:
        return True
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)) and node is not value and _canonical(node) in produced:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def address_only_change(change: dict[str, Any]) -> bool:
    """Whether a change the comparison named is an address, id or hash after all, by the
    comparison's own rule (``value_findings``, ``replay.comparing.noise``): its two values compared
    again leave nothing but differences set aside. The comparison sets those aside itself,
    so a change that passes here shows a defect of the comparison, not of the code."""
    found = value_findings(change.get("against"), change.get("this"))
    return not found.changes and bool(found.set_aside)


def set_aside_reasons(records: list[dict[str, Any]]) -> dict[str, int]:
    """How many differences the comparison set aside, by reason (address, hash, redacted)."""
    return dict(Counter(str(record["reason"]) for record in records))


def change_text(change: dict[str, Any]) -> str:
    place = f"{change['frame']}: " if change.get("frame") else ""
    return (
        f"{place}{change['path']} {change['change']}: "
        f"{_brief(change.get('this'))} vs {_brief(change.get('against'))}"
    )


def _brief(value: Any, limit: int = 80) -> str:
    text = _canonical(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
