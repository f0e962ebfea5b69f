"""The recording plan of a recorded test, as its run's meta keeps it, and what two plans
both record.

A run records its plan (``--scope-level``, ``--scope-include``, ``--scope-exclude``) in its
meta as ``plan``: ``{"level": null | "calls" | "lines", "include": [...], "exclude":
[...]}``. Two recordings of a test made under different plans record different events: at
the ``calls`` level a test file has no line steps. Such a pair is compared on what both
record (``Common``); a recording from before plans were kept has an unknown plan, taken as
any other's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pytest_scope.trace.reader import RecordedTest, TraceFile


def plan_of(trace: TraceFile, test: RecordedTest) -> dict[str, Any] | None:
    """The plan ``test`` was recorded under, or None where its run kept none (or an
    unreadable one)."""
    try:
        plan = json.loads(trace.meta_of(test).get("plan", "null"))
    except ValueError:
        return None
    return plan if isinstance(plan, dict) else None


def same_plan(this: dict[str, Any] | None, other: dict[str, Any] | None) -> bool:
    """Whether two plans record the same events (an unknown plan is taken as any other)."""
    return this is None or other is None or this == other


def describe_plan(plan: dict[str, Any] | None) -> str:
    """``level calls, include 'pkg.*'``: a plan as the options that made it."""
    if plan is None:
        return "an unknown plan"
    parts = [f"level {plan.get('level') or 'default'}"]
    for option in ("include", "exclude"):
        patterns = plan.get(option) or []
        if patterns:
            parts.append(f"{option} " + ", ".join(repr(pattern) for pattern in patterns))
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Common:
    """What two recordings both record, so what their comparison reads: all their steps,
    or (where one's level differs) no line steps, and call paths without the callers'
    lines (a caller recorded without line steps has no line to call from)."""

    lines: bool = True
    note: str | None = None  # where the plans differ: that they do, and what is compared


def common(this: dict[str, Any] | None, other: dict[str, Any] | None) -> Common:
    """What recordings made under plans ``this`` and ``other`` both record."""
    if same_plan(this, other):
        return Common()
    assert this is not None and other is not None
    differ = (
        f"the plans differ: this run's {describe_plan(this)}, the other's {describe_plan(other)}"
    )
    if (this.get("level") or None) == (other.get("level") or None):
        return Common(True, f"{differ}; steps of code only one records are skipped")
    return Common(False, f"{differ}; only calls, returns and exceptions are compared")
