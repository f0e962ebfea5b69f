"""What recording cost, for the end-of-run summary: steps per second, the heaviest tests.

Only what was measured is shown. Each recorded test's body is timed with the recorder on;
how long it would take without the recorder is not known in the same run, so the summary
gives the rate (steps per second of body time) and leaves the overhead to a comparison
with a run without ``--scope`` (``tox -e bench`` does that). A Hypothesis test's body
time covers all its examples, its steps only the last: the table shows no per-test rate.
rich is imported only here, when a recording run ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from typing import Final

from pytest_scope.trace.records import TestRecord

HEAVIEST: Final = 5


def cost_line(records: Sequence[TestRecord], restarted_steps: int) -> str:
    """Steps recorded per second of the recorded tests' bodies.

    ``restarted_steps`` were recorded and then discarded (Hypothesis examples before the
    last): they took their share of the time, so they count in the rate.
    """
    seconds = sum(record.duration for record in records)
    steps = sum(record.steps for record in records) + restarted_steps
    rate = f"{steps / seconds:,.0f} steps/s over " if seconds > 0 else ""
    line = f"recording: {rate}{seconds:.2f} s of recorded test bodies"
    if restarted_steps:
        line += f" (counting {restarted_steps:,} steps of Hypothesis examples not kept)"
    return line


def heaviest_table(records: Sequence[TestRecord], width: int | None) -> list[str]:
    """The tests with the most steps, as lines of a table ``width`` columns wide.

    ``width`` None (output that is not a terminal, such as a CI log) makes the table as
    wide as its longest id: an id is folded on a narrow terminal, never cut.
    """
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(
        title=f"heaviest recordings (of {len(records)})", title_justify="left", box=box.SIMPLE
    )
    table.add_column("test", overflow="fold")
    for name in ("steps", "dropped", "body time"):
        table.add_column(name, justify="right", no_wrap=True)
    heaviest = sorted(records, key=lambda record: record.steps, reverse=True)[:HEAVIEST]
    for record in heaviest:
        name = record.nodeid
        if record.attempt > 1:
            name += f" (attempt {record.attempt})"
        table.add_row(
            name, f"{record.steps:,}", f"{record.dropped_steps:,}", f"{record.duration:.2f} s"
        )
    output = StringIO()
    console = Console(file=output, width=width or 80, color_system=None, highlight=False)
    if width is None:
        needed = Measurement.get(console, console.options.update_width(2**20), table).maximum
        console.width = max(console.width, needed)
    console.print(table)
    return [line.rstrip() for line in output.getvalue().splitlines()]
