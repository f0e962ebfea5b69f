"""One recording run as this process sees it: its id, its trace file, what it recorded.

The three roles (a single process, an xdist worker, the xdist controller) fill it in; the
summary and the CI artifacts read it. Keeping that state out of the plugin objects lets
each of those be small, and none of them import another.
"""

from __future__ import annotations

import json
import platform
import shlex
import time
from pathlib import Path

import pytest

from pytest_scope import __version__
from pytest_scope.interrupt import Interruption
from pytest_scope.provenance import git_facts
from pytest_scope.settings import Settings
from pytest_scope.trace.combine import Combined
from pytest_scope.trace.records import TestRecord
from pytest_scope.trace.retention import Retention, prune
from pytest_scope.trace.schema import FORMAT_NAME, SCHEMA_VERSION
from pytest_scope.trace.scope_dir import DEFAULT_SCOPE_DIR, ScopeDir, new_run_id
from pytest_scope.xdist import WorkerPart

_MAX_BASELINES_CHARS = 32768  # the meta row naming the baselines (readers allow 64 KiB)
_time = time.time  # a test may monkeypatch the time module


class Run:
    """The run's identity and trace file, and what is said of it at the end."""

    def __init__(
        self, config: pytest.Config, settings: Settings, worker: WorkerPart | None
    ) -> None:
        self.config = config
        self.settings = settings
        self.started = _time()
        # Under pytest-xdist the controller records nothing (the workers run the tests):
        # each worker records its part of the run, and the controller combines the parts.
        self.worker = worker
        self.run_id = self.worker.run_id if self.worker is not None else new_run_id()
        self.scope_dir = ScopeDir.create(settings.scope_dir)
        self.path = (
            self.scope_dir.run_path(self.run_id)
            if self.worker is None
            else self.scope_dir.worker_path(self.run_id, self.worker.worker_id)
        )
        self.name = self.path.stem  # the run id in this process's trace file
        self.active = True  # False once recording or combining failed: no trace to report
        self.recorded: list[tuple[TestRecord, str]] = []  # (record, scope-replay command)
        self.problems: list[str] = []
        self.retention: Retention | None = None
        self.combined: Combined | None = None
        self.deadline_lifted = False
        self.hypothesis_tests = 0
        self.restarted_steps = 0
        self.redacted_values = 0  # recorded values shown redacted, in the tests written
        self.interruption: Interruption | None = None

    def meta(self) -> dict[str, str]:
        """The ``meta`` rows of this process's trace file.

        ``baselines`` (``--scope-baseline``) are kept so that ``scope-replay`` looks for last
        passes where the run did."""
        baselines = self.settings.baselines
        listed = json.dumps([str(path) for path in baselines])
        # Readers refuse meta values beyond 64 KiB: a list that long is left out, not the run.
        kept = {"baselines": listed} if baselines and len(listed) <= _MAX_BASELINES_CHARS else {}
        return kept | {
            "format": FORMAT_NAME,
            "schema_version": str(SCHEMA_VERSION),
            "run_id": self.name,
            "started": str(self.started),
            "python": platform.python_version(),
            "pytest": pytest.__version__,
            "pytest_scope": __version__,
            "platform": platform.platform(),
            "rootdir": str(self.config.rootpath),
            # What the run records: a last pass of another plan is compared on what both record.
            "plan": json.dumps(
                {
                    "level": self.settings.level,
                    "include": list(self.settings.include),
                    "exclude": list(self.settings.exclude),
                }
            ),
            **git_facts(self.config.rootpath),
        }

    def replay_command(self, nodeid: str) -> str:
        command = f"scope-replay {shlex.quote(nodeid)}"
        default_dir = self.config.invocation_params.dir / DEFAULT_SCOPE_DIR
        if self.settings.scope_dir != default_dir.resolve():
            command += f" --dir {shlex.quote(self.display(self.settings.scope_dir))}"
        return command

    def display(self, path: Path) -> str:
        """A path as the user would type it: relative to where pytest was started, if inside."""
        try:
            return str(path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(path)

    def prune(self) -> None:
        """Keep the scope directory within its limits, now that this run's passes are known."""
        passed = [record.nodeid for record, _ in self.recorded if record.outcome == "passed"]
        try:
            self.retention = prune(self.scope_dir, self.run_id, passed, self.settings.retention)
        except OSError as exc:
            self.problems.append(f"runs not pruned: {exc}")
