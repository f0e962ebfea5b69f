"""The ``pytest-scope`` section at the end of a run: one small ``summary_*`` piece per topic.

Like pytest's own terminal summary, each piece writes its lines or nothing, and
``write_summary`` decides their order. It reads the ``Run``; nothing here records.
"""

from __future__ import annotations

import pytest

from pytest_scope.capture.event_path import summary_note
from pytest_scope.comparisons import divergence, last_pass_line
from pytest_scope.cost import cost_line, heaviest_table
from pytest_scope.interrupt import summary_line
from pytest_scope.run import Run
from pytest_scope.trace.records import TestRecord
from pytest_scope.trace.retention import Policy, Retention


def write_summary(terminalreporter: pytest.TerminalReporter, run: Run) -> None:
    """The section, in the controller or the single process (a worker reports to those)."""
    summary = ScopeSummary(terminalreporter, run)
    terminalreporter.write_sep("-", "pytest-scope")
    summary.summary_problems()
    if not run.active:
        return
    summary.summary_event_path()
    summary.summary_trace()
    summary.summary_cost()
    summary.summary_redacted()
    summary.summary_last_failed()
    summary.summary_retention()
    summary.summary_hypothesis()
    summary.summary_heaviest()
    summary.summary_failures()
    summary.summary_interruption()
    summary.summary_flaky()


class ScopeSummary:
    """Writes the section's lines through pytest's terminal reporter."""

    def __init__(self, terminalreporter: pytest.TerminalReporter, run: Run) -> None:
        self.terminalreporter = terminalreporter
        self.run = run
        self.write = terminalreporter.write_line
        self.records = [record for record, _ in run.recorded]

    def summary_problems(self) -> None:
        for problem in self.run.problems:
            self.write(f"pytest-scope: {problem}", yellow=True)

    def summary_event_path(self) -> None:
        note = summary_note()
        if note is not None:
            self.write(note)

    def summary_trace(self) -> None:
        run = self.run
        steps = sum(record.steps for record in self.records)
        dropped = sum(record.dropped_steps for record in self.records)
        size = run.path.stat().st_size if run.path.exists() else 0
        combined = ""
        if run.combined is not None:
            combined = f", combined from {len(run.combined.parts)} xdist worker files"
        self.write(f"trace: {run.display(run.path)} ({size / 1e6:.1f} MB{combined})")
        self.write(
            f"recorded {len(self.records)} test{'' if len(self.records) == 1 else 's'},"
            f" {steps:,} steps"
            f" ({dropped:,} dropped by the {run.settings.buffer_bytes // 2**20} MB buffer cap)"
        )

    def summary_cost(self) -> None:
        if self.records:
            self.write(cost_line(self.records, self.run.restarted_steps))

    def summary_redacted(self) -> None:
        count = self.run.redacted_values
        if count:
            values = "value" if count == 1 else "values"
            self.write(
                f"redacted {count:,} recorded {values} that held a secret"
                ' (docs/pages/guide.md, "Secrets": which names and values count)'
            )

    def summary_last_failed(self) -> None:
        failed = self.run.settings.only
        if failed is None:
            return
        if not failed:
            self.write(
                "--scope-last-failed: no test failed last time (pytest's cache), none recorded"
            )
            return
        self.write(
            "--scope-last-failed: recorded only the tests that failed last time"
            f" ({len(failed)} in pytest's cache)"
        )

    def summary_retention(self) -> None:
        if self.run.retention is not None:
            self.write(_retention_line(self.run.retention, self.run.settings.retention))

    def summary_hypothesis(self) -> None:
        if self.run.deadline_lifted and self.run.hypothesis_tests:
            self.write(
                "Hypothesis deadlines were lifted while recording (tests that set one keep it)"
            )

    def summary_heaviest(self) -> None:
        if len(self.records) > 1:
            writer = self.run.config.get_terminal_writer()
            width = writer.fullwidth if self.terminalreporter.isatty else None
            for line in heaviest_table(self.records, width):
                self.write(line)

    def summary_failures(self) -> None:
        """How to replay each test whose last attempt failed, and what it compares with."""
        last: dict[str, tuple[TestRecord, str]] = {}
        for record, command in self.run.recorded:
            last[record.nodeid] = (record, command)
        failed = [
            (record, command) for record, command in last.values() if record.outcome == "failed"
        ]
        if not failed:
            return
        self.write("replay the failures:")
        for record, command in failed:
            self.write(f"  {command}", bold=True)
            self.write(f"      {last_pass_line(self.run, record.nodeid)}")

    def summary_interruption(self) -> None:
        interruption = self.run.interruption
        if interruption is not None:
            command = self.run.replay_command(interruption.nodeid)
            self.write(summary_line(interruption, command), yellow=True)

    def summary_flaky(self) -> None:
        """Each test that failed and later passed in this run, and where the attempts part."""
        attempts: dict[str, list[TestRecord]] = {}
        for record in self.records:
            attempts.setdefault(record.nodeid, []).append(record)
        lines = []
        for nodeid, records in attempts.items():
            failed = next((record for record in records if record.outcome == "failed"), None)
            if failed is None or records[-1].outcome != "passed":
                continue
            passed = records[-1]
            command = f"{self.run.replay_command(nodeid)} --attempt {failed.attempt} --diverge"
            line = f"{nodeid}: attempt {failed.attempt} failed, attempt {passed.attempt} passed"
            where = divergence(self.run, nodeid, failed.attempt, passed.attempt)
            lines.append(f"{line}; {where}")
            lines.append(f"    {command}")
        if lines:
            self.write("flaky (failed, then passed on a rerun):", yellow=True)
            for line in lines:
                self.write(f"  {line}")


def _retention_line(retention: Retention, policy: Policy) -> str:
    """What the scope directory holds after pruning, against both limits."""
    line = (
        f"runs kept: {retention.kept} (the last {policy.keep_runs} at most, and"
        f" {retention.kept_for_passes} more for tests' latest passes),"
        f" {retention.kept_bytes / 1e6:.1f} MB of {policy.max_bytes // 2**20} MB"
    )
    if retention.pruned:
        line += f"; pruned {len(retention.pruned)} ({retention.pruned_bytes / 1e6:.1f} MB)"
    if retention.lost_passes:
        line += f"; the budget cost {retention.lost_passes} tests their latest pass"
    return line
