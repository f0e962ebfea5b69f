"""One pytest session under ``--scope``: records each test and writes it to the run's trace file.

Registered by ``plugin`` only when recording is on. Each test is written as soon as its
report exists, so a run killed later keeps every test finished before.
"""

from __future__ import annotations

import os
import platform
import shlex
import time
import tokenize
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import pytest

from pytest_scope import __version__
from pytest_scope.buffer import RingBuffer
from pytest_scope.errors import ScopeError
from pytest_scope.hypothesis_deadline import lift_default_deadline
from pytest_scope.plan import Plan
from pytest_scope.plugin import LEVELS
from pytest_scope.recorder import Recorder, TestSteps
from pytest_scope.redaction import Redaction, check_pattern
from pytest_scope.retention import Policy, Retention, prune
from pytest_scope.schema import FORMAT_NAME, SCHEMA_VERSION
from pytest_scope.scrub import scrub_chunks
from pytest_scope.values import ValueEncoder
from pytest_scope.writer import TestRecord, TraceWriter

_DEFAULT_SCOPE_DIR = ".scope"
_test_steps_key = pytest.StashKey[TestSteps]()
_buffer_key = pytest.StashKey[RingBuffer]()
_started_key = pytest.StashKey[tuple[float, float]]()
# Private references: a test may monkeypatch the time module, or replace os.environ
# (monkeypatch.setenv changes this object in place).
_time = time.time
_perf_counter = time.perf_counter
_environ = os.environ


@dataclass(frozen=True, slots=True)
class Settings:
    scope_dir: Path
    level: str | None
    buffer_bytes: int
    retention: Policy
    redact: tuple[str, ...] = ()  # patterns of secret names besides the built-in ones


def settings_from_config(config: pytest.Config) -> Settings:
    """Options win over ini settings; bad ini values are usage errors naming the value."""
    if config.option.scope_dir:
        scope_dir = config.invocation_params.dir / config.option.scope_dir
    else:
        scope_dir = config.rootpath / (config.getini("scope_dir") or _DEFAULT_SCOPE_DIR)
    level = config.option.scope_level or config.getini("scope_level") or None
    if level is not None and level not in LEVELS:
        raise pytest.UsageError(f"scope_level must be one of {', '.join(LEVELS)}, not {level!r}")
    buffer_mb = _positive_setting(config, "scope_buffer_mb")
    policy = Policy(
        _positive_setting(config, "scope_keep_runs"),
        _positive_setting(config, "scope_max_mb") * 1024 * 1024,
    )
    return Settings(
        scope_dir.resolve(), level, buffer_mb * 1024 * 1024, policy, _redact_patterns(config)
    )


def _redact_patterns(config: pytest.Config) -> tuple[str, ...]:
    """The ini setting's patterns and the options': both count, a secret is never unmasked."""
    patterns: list[str] = list(config.getini("scope_redact"))
    for pattern in patterns:
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise pytest.UsageError(f"scope_redact: {exc}") from None
    return (*patterns, *(config.option.scope_redact or ()))


def _positive_setting(config: pytest.Config, name: str) -> int:
    """The option ``name`` if given, else its ini setting, which must be a positive int."""
    value: int | None = getattr(config.option, name)
    if value is not None:
        return value
    ini_value = config.getini(name)
    try:
        value = int(ini_value)
    except ValueError:
        value = 0
    if value <= 0:
        raise pytest.UsageError(f"{name} must be a positive whole number, not {ini_value!r}")
    return value


class ScopeSession:
    """The plugin object that exists while recording is on."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        self.path = settings.scope_dir / "runs" / f"{self.run_id}.sqlite"
        _prepare_scope_dir(settings.scope_dir)
        self.writer = TraceWriter(
            self.path,
            {
                "format": FORMAT_NAME,
                "schema_version": str(SCHEMA_VERSION),
                "run_id": self.run_id,
                "started": str(_time()),
                "python": platform.python_version(),
                "pytest": pytest.__version__,
                "pytest_scope": __version__,
                "platform": platform.platform(),
                "rootdir": str(config.rootpath),
            },
        )
        self._sources: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self.recorded: list[tuple[TestRecord, str]] = []  # (record, scope-replay command)
        self.problems: list[str] = []
        self.retention: Retention | None = None
        plan = Plan(config.rootpath, list(config.getini("python_files")), settings.level)
        self.redaction = Redaction(settings.redact, _environ)
        encoder = ValueEncoder(redaction=self.redaction, in_project=plan.in_project)
        self.recorder = Recorder(plan, encoder, self._on_new_code)
        try:
            self.recorder.start()
            self.active = True
        except ScopeError as exc:
            self.active = False
            self.problems.append(f"tests run unrecorded: {exc}")
        self.deadline_lifted = self.active and lift_default_deadline()
        self.hypothesis_tests = 0

    def close(self) -> None:
        self.recorder.stop()
        self.writer.close()

    def _on_new_code(self, code_no: int, code: CodeType) -> None:
        filename = code.co_filename
        self.writer.add_code(code_no, code.co_qualname, filename, code.co_firstlineno)
        if filename not in self._sources:
            self._sources.add(filename)
            try:
                with tokenize.open(filename) as file:
                    self.writer.add_source(filename, file.read())
            except (OSError, SyntaxError, UnicodeDecodeError):
                pass  # replay shows the locals without the source

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        if not self.active:
            return (yield)
        buffer = RingBuffer(self.settings.buffer_bytes, self.recorder.take_keyframe)
        item.stash[_buffer_key] = buffer
        item.stash[_started_key] = (_time(), _perf_counter())
        self.redaction.start_test(_environ)
        self.recorder.begin_test(buffer)
        try:
            return (yield)
        finally:
            item.stash[_test_steps_key] = self.recorder.end_test()
            buffer.close_chunk()
            self.redaction.note_environment(_environ)  # what the test itself set

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "call" and _test_steps_key in item.stash:
            self._write_test(item, report)
        return report

    def _write_test(self, item: pytest.Item, report: pytest.TestReport) -> None:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            self.hypothesis_tests += 1
        steps = item.stash[_test_steps_key]
        buffer = item.stash[_buffer_key]
        started, perf_started = item.stash[_started_key]
        self._attempts[item.nodeid] += 1
        try:
            chunks = scrub_chunks(buffer.chunks(), self.redaction)
        except ScopeError as exc:  # nothing is written that may hold a secret
            self.problems.append(f"{item.nodeid}: recording lost: {exc}")
            return
        outcome = _outcome(report)
        record = TestRecord(
            nodeid=item.nodeid,
            attempt=self._attempts[item.nodeid],
            outcome=outcome,
            started=started,
            duration=_perf_counter() - perf_started,
            steps=steps.steps,
            first_step=chunks[0].first_step if chunks else steps.steps + 1,
            dropped_steps=buffer.dropped_steps,
            failure_step=(steps.failure_step or steps.steps or None)
            if outcome == "failed"
            else None,
            incomplete=steps.incomplete,
        )
        try:
            self.writer.write_test(record, chunks)
        except ScopeError as exc:
            self.problems.append(f"{item.nodeid}: recording lost: {exc}")
            return
        if steps.incomplete:
            self.problems.append(f"{item.nodeid}: recording incomplete: {steps.incomplete}")
        self.recorded.append((record, self._replay_command(item.nodeid)))

    def _replay_command(self, nodeid: str) -> str:
        command = f"scope-replay {shlex.quote(nodeid)}"
        default_dir = self.config.invocation_params.dir / _DEFAULT_SCOPE_DIR
        if self.settings.scope_dir != default_dir.resolve():
            command += f" --dir {shlex.quote(_display_path(self.settings.scope_dir, self.config))}"
        return command

    def pytest_sessionfinish(self) -> None:
        """Prune the scope directory before the summary, which reports what went."""
        if not self.active:
            return
        passed = [record.nodeid for record, _ in self.recorded if record.outcome == "passed"]
        try:
            self.retention = prune(
                self.settings.scope_dir, self.run_id, passed, self.settings.retention
            )
        except OSError as exc:
            self.problems.append(f"runs not pruned: {exc}")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "pytest-scope")
        for problem in self.problems:
            write(f"pytest-scope: {problem}", yellow=True)
        if not self.active:
            return
        steps = sum(record.steps for record, _ in self.recorded)
        dropped = sum(record.dropped_steps for record, _ in self.recorded)
        size = self.path.stat().st_size if self.path.exists() else 0
        write(f"trace: {_display_path(self.path, self.config)} ({size / 1e6:.1f} MB)")
        write(
            f"recorded {len(self.recorded)} tests, {steps:,} steps"
            f" ({dropped:,} dropped by the {self.settings.buffer_bytes // 2**20} MB buffer cap)"
        )
        if self.retention is not None:
            write(_retention_line(self.retention, self.settings.retention))
        if self.deadline_lifted and self.hypothesis_tests:
            write("Hypothesis deadlines were lifted while recording (tests that set one keep it)")
        last: dict[str, tuple[TestRecord, str]] = {}
        for record, command in self.recorded:
            last[record.nodeid] = (record, command)
        failed = [command for record, command in last.values() if record.outcome == "failed"]
        if failed:
            write("replay the failures:")
            for command in failed:
                write(f"  {command}", bold=True)
        flaky = self._flaky()
        if flaky:
            write("flaky (failed, then passed on a rerun):", yellow=True)
            for line in flaky:
                write(f"  {line}")

    def _flaky(self) -> list[str]:
        """Each test that failed and later passed in this run, and where the attempts part."""
        attempts: dict[str, list[TestRecord]] = {}
        for record, _ in self.recorded:
            attempts.setdefault(record.nodeid, []).append(record)
        lines = []
        for nodeid, records in attempts.items():
            failed = next((record for record in records if record.outcome == "failed"), None)
            if failed is None or records[-1].outcome != "passed":
                continue
            passed = records[-1]
            command = f"{self._replay_command(nodeid)} --attempt {failed.attempt} --diverge"
            lines.append(
                f"{nodeid}: attempt {failed.attempt} failed, attempt {passed.attempt} passed;"
                f" {self._divergence(nodeid, failed.attempt, passed.attempt)}"
            )
            lines.append(f"    {command}")
        return lines

    def _divergence(self, nodeid: str, failed: int, passed: int) -> str:
        """Where two attempts part ways, read back from this run's trace file."""
        from replay.align import Signatures, align, first_divergence, load_steps
        from replay.compare import payloads_differ
        from replay.tracefile import TraceFile

        try:
            with TraceFile(self.path) as trace:
                by_attempt = {test.attempt: test for test in trace.tests() if test.nodeid == nodeid}
                signatures = Signatures()
                found = first_divergence(
                    align(
                        load_steps(trace, by_attempt[failed], signatures),
                        load_steps(trace, by_attempt[passed], signatures),
                    ),
                    payloads_differ,
                )
        except (ScopeError, KeyError) as exc:
            return f"their divergence is unknown ({exc})"
        if found is None:
            return "their recordings never part ways"
        where = "" if found.this_step is None else f" at step {found.this_step}"
        return f"they part ways{where} by {found.by}"


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


def _outcome(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    if report.passed:
        return "xpassed" if xfail else "passed"
    return "failed"


def _display_path(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def _prepare_scope_dir(scope_dir: Path) -> None:
    """Mark the directory as a cache (like pytest's .pytest_cache): ignored by git and backups."""
    (scope_dir / "runs").mkdir(parents=True, exist_ok=True)
    markers = {
        ".gitignore": "# Created by pytest-scope.\n*\n",
        "CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by pytest-scope.\n",
    }
    for name, text in markers.items():
        marker = scope_dir / name
        if not marker.exists():
            marker.write_text(text)
