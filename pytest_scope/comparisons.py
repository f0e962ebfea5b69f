"""What the summary says of a failed or flaky test by reading recordings back with ``replay``.

``replay`` is imported inside these functions, not with the module: a run whose tests all pass
never loads it (nor deepdiff, which its comparison brings), and recording itself needs
nothing of it.
"""

from __future__ import annotations

from pytest_scope.errors import ScopeError
from pytest_scope.run import Run
from pytest_scope.trace.reader import TraceFile


def last_pass_line(run: Run, nodeid: str) -> str:
    """Whether a failed test has a pass to be compared with, and from which build: on a
    fresh CI runner only a baseline (``--scope-baseline``) can hold one."""
    from replay.comparing.last_pass import baseline_runs, describe, last_pass, newest_first
    from replay.comparing.plans import common, plan_of

    baselines = baseline_runs(run.settings.baselines)
    try:
        with TraceFile(run.path) as trace:
            shown = [test for test in trace.tests() if test.nodeid == nodeid][-1]
        runs = newest_first([*run.scope_dir.runs(), *baselines])
        found = last_pass(runs, run.path, shown)
    except (ScopeError, IndexError) as exc:
        return f"its last pass is unknown ({exc})"
    if found is None:
        where = run.display(run.settings.scope_dir)
        if run.settings.baselines:
            where += f" or the {len(baselines)} baseline trace file(s)"
        return f"no last pass to compare with in {where}"
    with found[0] as trace, TraceFile(run.path) as own:
        source = "baseline" if trace.path.resolve() in {p.resolve() for p in baselines} else "kept"
        file = run.display(trace.path)
        line = f"compared with its last pass ({source}): {describe(trace, found[1], file)}"
        plans = common(plan_of(own, shown), plan_of(trace, found[1])).note
        return line if plans is None else f"{line}; {plans}"


def divergence(run: Run, nodeid: str, failed: int, passed: int) -> str:
    """Where two attempts of a test part ways, read back from this run's trace file."""
    from replay.comparing.compare import Recorded, find_divergence

    try:
        with TraceFile(run.path) as trace:
            by_attempt = {test.attempt: test for test in trace.tests() if test.nodeid == nodeid}
            found = find_divergence(
                Recorded(trace, by_attempt[failed]), Recorded(trace, by_attempt[passed])
            )
    except (ScopeError, KeyError) as exc:
        return f"their divergence is unknown ({exc})"
    if found is None:
        return "their recordings never part ways"
    where = "" if found.this_step is None else f" at step {found.this_step}"
    return f"they part ways{where} by {found.by}"
