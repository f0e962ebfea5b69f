"""The three parts a process plays in a recording run, one plugin class each.

Without pytest-xdist one process records and reports (``SingleProcess``). Under xdist,
like xdist's own controller and worker classes, each ``Worker`` records its part of the
run into its own file, and the ``Controller``, which runs no test, combines the parts and
reports. The one in use is registered as the ``scope-session`` plugin.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pytest_scope.errors import ScopeError
from pytest_scope.recording import Recording
from pytest_scope.run import Run
from pytest_scope.summary import write_summary
from pytest_scope.trace.combine import combine
from pytest_scope.xdist import hand_out_part, report_to_controller, worker_report


class SingleProcess(Recording):
    """Records every test, then prunes the scope directory and reports."""

    def pytest_sessionfinish(self) -> None:
        """Finish the trace file and prune the scope directory before the summary, which
        reports what went wrong and what went."""
        self.write_interrupted()
        if not self.run.active:
            return
        self.finish_trace()
        self.run.prune()

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write_summary(terminalreporter, self.run)


class Worker(Recording):
    """Records its part of the run, and leaves the controller what it has to report."""

    def pytest_sessionfinish(self) -> None:
        """Complete the worker's file for the controller to combine, and report to it."""
        self.write_interrupted()
        self.finish_trace()
        report_to_controller(
            self.run.config,
            {
                "problems": self.run.problems,
                "deadline_lifted": self.run.deadline_lifted,
                "hypothesis_tests": self.run.hypothesis_tests,
                "restarted_steps": self.run.restarted_steps,
                "redacted_values": self.run.redacted_values,
            },
        )


class Controller:
    """Numbers the workers, gathers their reports, combines their files and reports."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._numbers = itertools.count()

    def pytest_configure_node(self, node: Any) -> None:
        # A worker that crashed is replaced by one with a new id: it gets a new number too.
        hand_out_part(node, self.run.run_id, next(self._numbers))

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        report = worker_report(node)
        if report is not None:
            self._add_worker_report(report)

    def _add_worker_report(self, report: dict[str, Any]) -> None:
        run = self.run
        run.problems.extend(str(problem) for problem in report.get("problems", []))
        run.deadline_lifted = run.deadline_lifted or bool(report.get("deadline_lifted"))
        run.hypothesis_tests += int(report.get("hypothesis_tests", 0))
        run.restarted_steps += int(report.get("restarted_steps", 0))
        run.redacted_values += int(report.get("redacted_values", 0))

    def pytest_sessionfinish(self) -> None:
        """Combine and prune before the summary, which reports what went wrong and what went."""
        self._combine_workers()
        if self.run.active:
            self.run.prune()

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write_summary(terminalreporter, self.run)

    def _combine_workers(self) -> None:
        """One trace file for the run, from the workers' files; its tests are the run's."""
        from pytest_scope.trace.reader import TraceFile

        run = self.run
        parts = run.scope_dir.worker_files(run.run_id)
        try:
            run.combined = combine(run.path, parts, run.meta())
            with TraceFile(run.path) as trace:
                records = [trace.record(test) for test in trace.tests()]
        except (ScopeError, OSError) as exc:
            run.active = False
            run.problems.append(f"worker trace files not combined: {exc}")
            return
        for part, problem in run.combined.left:
            run.problems.append(f"{run.display(part)}: {problem}")
        for record in records:
            run.recorded.append((record, run.replay_command(record.nodeid)))
