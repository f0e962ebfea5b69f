"""The summary's cost figures: only what was measured, in a table that fits the terminal."""

from __future__ import annotations

from pytest_scope.cost import cost_line, heaviest_table
from pytest_scope.trace.records import TestRecord


def _record(nodeid: str, steps: int, duration: float, attempt: int = 1) -> TestRecord:
    return TestRecord(nodeid, attempt, "passed", 0.0, duration, steps, 1, 0, None, None)


RECORDS = [
    _record("t.py::test_small", 100, 0.5),
    _record("t.py::test_big", 30_000, 1.5),
    _record("t.py::test_flaky", 2_000, 0.25, attempt=2),
]


def test_the_rate_counts_every_step_recorded_over_the_bodies_time() -> None:
    assert cost_line(RECORDS, 0) == "recording: 14,267 steps/s over 2.25 s of recorded test bodies"
    assert cost_line(RECORDS, 9_000) == (
        "recording: 18,267 steps/s over 2.25 s of recorded test bodies"
        " (counting 9,000 steps of Hypothesis examples not kept)"
    )
    assert cost_line([_record("t.py::test_instant", 0, 0.0)], 0) == (
        "recording: 0.00 s of recorded test bodies"
    )


def test_the_heaviest_tests_first() -> None:
    assert heaviest_table(RECORDS, 100) == [
        "heaviest recordings (of 3)",
        "",
        "  test                            steps   dropped   body time",
        " ─────────────────────────────────────────────────────────────",
        "  t.py::test_big                 30,000         0      1.50 s",
        "  t.py::test_flaky (attempt 2)    2,000         0      0.25 s",
        "  t.py::test_small                  100         0      0.50 s",
        "",
    ]


def test_at_most_five_rows_and_long_ids_fold_within_the_width() -> None:
    records = [_record(f"tests/test_{'x' * 60}.py::test_{n}", n, 0.1) for n in range(8)]
    lines = heaviest_table(records, 60)
    assert lines[0] == "heaviest recordings (of 8)"
    assert all(len(line) <= 60 for line in lines)
    steps = [line.split()[-4] for line in lines if line.endswith(" s")]
    assert steps == ["7", "6", "5", "4", "3"]


def test_output_that_is_no_terminal_gets_whole_ids() -> None:
    long_id = f"tests/test_{'x' * 150}.py::test_long"
    lines = heaviest_table([_record(long_id, 5, 0.1), *RECORDS], None)
    assert any(long_id in line and line.endswith(" s") for line in lines)
