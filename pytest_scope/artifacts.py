"""``--scope-artifacts DIR``: after the run, leave what a red CI build should upload.

Registered by ``plugin`` only when recording is on and a directory is set. The bundle
itself (viewers, index, trimmed trace files) is ``replay.export.bundle``'s; this module is the
pytest side: the option's settings, the JUnit property of each failed test, writing the
bundle when the session ends, and the summary line.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_scope.errors import ScopeError
from pytest_scope.path_options import check_directory
from pytest_scope.run import Run

PLUGIN_NAME = "scope-artifacts"
JUNIT_PROPERTY = "scope_viewer"


@dataclass(frozen=True, slots=True)
class ArtifactSettings:
    directory: Path
    budget_bytes: int


def artifact_settings(config: pytest.Config) -> ArtifactSettings | None:
    """The directory (option, relative to the invocation directory, or ini, to the rootdir)."""
    if config.option.scope_artifacts:
        directory = (config.invocation_params.dir / config.option.scope_artifacts).resolve()
        check_directory(directory, "--scope-artifacts")
    elif config.getini("scope_artifacts"):
        directory = (config.rootpath / config.getini("scope_artifacts")).resolve()
        check_directory(directory, "scope_artifacts")
    else:
        return None
    budget: int | None = config.option.scope_artifacts_mb
    if budget is None:
        ini_value = config.getini("scope_artifacts_mb")
        try:
            budget = int(ini_value)
        except ValueError:
            budget = 0
        if budget <= 0:
            raise pytest.UsageError(
                f"scope_artifacts_mb must be a positive whole number, not {ini_value!r}"
            )
    return ArtifactSettings(directory, budget * 1024 * 1024)


class ScopeArtifacts:
    """Writes the bundle of the run that the ``scope-session`` plugin records."""

    def __init__(self, settings: ArtifactSettings, run: Run) -> None:
        self.settings = settings
        self.run = run
        self.written: int | None = None  # failed tests in the bundle, once written
        self.size = 0
        self.problem: str | None = None

    def viewer_path(self, nodeid: str) -> str:
        from replay.export.bundle import viewer_name

        return self.run.display(self.settings.directory / viewer_name(nodeid))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        # The teardown report (which junitxml reads properties from) copies this list.
        if report.when == "call" and report.failed and self.run.active:
            item.user_properties.append((JUNIT_PROPERTY, self.viewer_path(item.nodeid)))
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        run = self.run
        if not run.active or run.worker is not None:  # xdist: the controller writes it
            return
        from rich.console import Console
        from rich.progress import Progress

        from replay.comparing.last_pass import baseline_runs, newest_first
        from replay.export.bundle import write_bundle

        path = run.path
        console = Console(stderr=True)
        try:
            baselines = baseline_runs(run.settings.baselines)
            runs = newest_first([*run.scope_dir.runs(), *baselines])
            # On a terminal only, and gone when done: the summary says what was written.
            with Progress(
                *Progress.get_default_columns(),
                console=console,
                transient=True,
                disable=not console.is_terminal,
            ) as progress:
                bundle = write_bundle(
                    path, runs, self.settings.directory, self.settings.budget_bytes, progress
                )
        except (ScopeError, OSError) as exc:
            self.problem = f"artifacts not written: {exc}"
            return
        self.written = len(bundle.failures)
        self.size = bundle.size

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        if self.problem is not None:
            write(f"pytest-scope: {self.problem}", yellow=True)
        if self.written is None:
            return
        where = self.run.display(self.settings.directory)
        if self.written:
            write(
                f"artifacts: {where} ({self.size / 1e6:.1f} MB): {self.written} viewer(s),"
                f" index.html, trimmed trace files in runs/"
            )
        else:
            write(f"artifacts: none in {where} (no recorded test failed)")
