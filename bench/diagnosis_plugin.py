"""The diagnosis benchmark's probe in a suite's pytest run: each test's outcome, and under
coverage.py each test's lines.

Loaded with ``-p diagnosis_plugin --diagnosis-outcomes FILE``. It writes FILE at the end
of the session: ``{"outcomes": {nodeid: outcome}, "durations": {nodeid: seconds},
"collection_errors": [nodeid, ...], "collected": [nodeid, ...]}``, an outcome being
``failed`` if any phase failed, else the call's. Parsing pytest's terminal summary would
break on node ids that hold `` - ``. Under ``coverage run`` it also names coverage.py's
dynamic context after the running test, so that the data file tells which tests run
which lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--diagnosis-outcomes", dest="diagnosis_outcomes", type=Path)


class _Probe:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.collection_errors: list[str] = []
        self.collected: list[str] = []
        self.coverage = _running_coverage()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> object:
        if self.coverage is not None:
            self.coverage.switch_context(item.nodeid)
        try:
            return (yield)
        finally:
            if self.coverage is not None:
                self.coverage.switch_context("")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = [item.nodeid for item in session.items]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(report.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.when == "call" or (report.when == "setup" and report.skipped):
            self.outcomes.setdefault(report.nodeid, report.outcome)
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(
            json.dumps(
                {
                    "outcomes": self.outcomes,
                    "durations": self.durations,
                    "collection_errors": self.collection_errors,
                    "collected": self.collected,
                }
            )
        )


def _running_coverage() -> Any:
    try:
        import coverage
    except ImportError:
        return None
    return coverage.Coverage.current()


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("diagnosis_outcomes")
    if path is not None:
        config.pluginmanager.register(_Probe(path), "diagnosis-probe")
