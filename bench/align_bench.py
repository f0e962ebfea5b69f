"""Time alignment and first divergence of two recordings of over 200,000 steps each.

Run from the checkout: ``python bench/align_bench.py [ROUNDS]``. Builds the recordings with
tests/support/tracebuilder.py (as the recorder writes them: 1,024-step chunks with keyframes),
then times each phase on its own: reading both recordings, aligning them, and finding
where they part ways, once by an extra loop round in the middle, once by a value changed
near the end (so the divergence search compares almost every step), once by a branch
taken differently in every 100th round (500 resynchronizations).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.tracebuilder import Recording, write_trace

from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.schema import Kind
from replay.comparing.align import Signatures, align, first_divergence, load_steps
from replay.comparing.compare import payloads_differ

STEPS_PER_ROUND = 4


def _loop(
    rounds: int,
    *,
    extra_at: int | None = None,
    changed_at: int | None = None,
    every: int = 0,
) -> Recording:
    """A loop calling a helper; ``every``: each such round takes another branch (line 14)."""
    rec = Recording(events_per_chunk=1024, snapshots=False)
    rec.event(Kind.CALL, line=10, l={"total": 0})
    total = 0
    for number in range(rounds):
        repeats = 2 if number == extra_at else 1
        for _ in range(repeats):
            value = -1 if number == changed_at else number
            total += value
            rec.event(Kind.LINE, line=11, l={"n": value})
            rec.event(Kind.CALL, code_no=2, line=1, l={"n": value})
            rec.event(Kind.RETURN, code_no=2, line=2, r=value * 2)
            rec.event(
                Kind.LINE, line=14 if every and number % every == 0 else 12, l={"total": total}
            )
    rec.event(Kind.LINE, line=13)
    rec.event(Kind.RETURN, line=13, r=None)
    return rec


def _timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = work()
    print(f"  {label:<28} {time.perf_counter() - started:7.3f} s")
    return result


def _measure(path: Path, name: str, this: Recording, other: Recording) -> None:
    write_trace(path, {"t::this": this, "t::other": other})
    with TraceFile(path) as trace:
        tests = {test.nodeid: test for test in trace.tests()}
        print(f"{name}: {tests['t::this'].steps:,} and {tests['t::other'].steps:,} steps")
        signatures = Signatures()
        steps = _timed(
            "read both recordings",
            lambda: [load_steps(trace, tests[n], signatures) for n in ("t::this", "t::other")],
        )
        alignment = _timed("align", lambda: align(*steps))
        found = _timed("first divergence", lambda: first_divergence(alignment, payloads_differ))
        print(f"  {len(alignment.segments)} matched stretches; divergence: {found}")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as directory:
        _measure(
            Path(directory) / "extra.sqlite",
            "an extra round in the middle",
            _loop(rounds, extra_at=rounds // 2),
            _loop(rounds),
        )
        _measure(
            Path(directory) / "value.sqlite",
            "a value changed near the end",
            _loop(rounds, changed_at=rounds - 10),
            _loop(rounds),
        )
        _measure(
            Path(directory) / "branches.sqlite",
            "another branch every 100 rounds",
            _loop(rounds, every=100),
            _loop(rounds),
        )


if __name__ == "__main__":
    main()
