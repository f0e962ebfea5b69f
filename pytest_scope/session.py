"""One pytest session under ``--scope``: records each test and writes it to the run's trace file.

Registered by ``plugin`` only when recording is on. Each test is written when its teardown
is done (its monkeypatches undone), so a run killed later keeps every test finished before.
"""

from __future__ import annotations

import json
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
from typing import Any

import pytest

from pytest_scope import __version__
from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.event_path import summary_note
from pytest_scope.capture.plan import Level, Plan
from pytest_scope.capture.recorder import Recorder, TestSteps
from pytest_scope.capture.redaction import Redaction, check_pattern
from pytest_scope.capture.scrub import scrub_chunks
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.cost import cost_line, heaviest_table
from pytest_scope.errors import ScopeError
from pytest_scope.extensions import plugin_encoder, plugin_redact_patterns
from pytest_scope.hypothesis_deadline import lift_default_deadline
from pytest_scope.interrupt import Interruption, hide_own_frames, intact_steps, summary_line
from pytest_scope.marker import ScopeMark, scope_mark
from pytest_scope.plugin import LEVELS
from pytest_scope.progress import LiveProgress, live_progress, progress_delay
from pytest_scope.provenance import git_facts
from pytest_scope.trace.combine import Combined, code_base, combine
from pytest_scope.trace.records import TestRecord
from pytest_scope.trace.retention import Policy, Retention, prune
from pytest_scope.trace.schema import FORMAT_NAME, SCHEMA_VERSION
from pytest_scope.trace.scope_dir import DEFAULT_SCOPE_DIR, ScopeDir, new_run_id
from pytest_scope.trace.writer import TraceWriter
from pytest_scope.xdist import OUTPUT_KEY as XDIST_OUTPUT
from pytest_scope.xdist import PLUGIN_NAME as XDIST_PLUGIN
from pytest_scope.xdist import XdistController, is_controller, worker_part

_MAX_BASELINES_CHARS = 32768  # the meta row naming the baselines (readers allow 64 KiB)
_test_steps_key = pytest.StashKey[TestSteps]()
_buffer_key = pytest.StashKey[RingBuffer]()
_started_key = pytest.StashKey[float]()
_call_report_key = pytest.StashKey[pytest.TestReport]()
_mark_key = pytest.StashKey[ScopeMark | None]()
# Private references: a test may monkeypatch the time module, or replace os.environ
# (monkeypatch.setenv changes this object in place).
_time = time.time
_environ = os.environ


@dataclass(frozen=True, slots=True)
class Settings:
    scope_dir: Path
    level: str | None
    buffer_bytes: int
    retention: Policy
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # --scope-last-failed: the node ids to record (those that failed last time); None: all.
    only: frozenset[str] | None = None
    redact: tuple[str, ...] = ()  # patterns of secret names besides the built-in ones
    # --scope-baseline: where else last passes may be (a restored CI cache), resolved.
    baselines: tuple[Path, ...] = ()
    # Seconds of recording before a test's progress shows live (None: never).
    progress_after: float | None = None


def settings_from_config(config: pytest.Config) -> Settings:
    """Options win over ini settings; bad ini values are usage errors naming the value."""
    if config.option.scope_dir:
        scope_dir = config.invocation_params.dir / config.option.scope_dir
    else:
        scope_dir = config.rootpath / (config.getini("scope_dir") or DEFAULT_SCOPE_DIR)
    level = config.option.scope_level or config.getini("scope_level") or None
    if level is not None and level not in LEVELS:
        raise pytest.UsageError(f"scope_level must be one of {', '.join(LEVELS)}, not {level!r}")
    buffer_mb = _positive_setting(config, "scope_buffer_mb")
    policy = Policy(
        _positive_setting(config, "scope_keep_runs"),
        _positive_setting(config, "scope_max_mb") * 1024 * 1024,
    )
    return Settings(
        scope_dir.resolve(),
        level,
        buffer_mb * 1024 * 1024,
        policy,
        include=_patterns_setting(config, "scope_include"),
        exclude=_patterns_setting(config, "scope_exclude"),
        only=_last_failed(config),
        redact=_redact_patterns(config),
        baselines=_baselines(config),
        progress_after=progress_delay(config),
    )


def _baselines(config: pytest.Config) -> tuple[Path, ...]:
    """``--scope-baseline`` paths (relative to the invocation directory) if given, else the
    ini setting's (relative to the rootdir), like ``--scope-dir`` and ``scope_dir``."""
    given: list[str] | None = config.option.scope_baseline
    if given:
        return tuple((config.invocation_params.dir / path).resolve() for path in given)
    return tuple(
        (config.rootpath / line.strip()).resolve()
        for line in config.getini("scope_baseline")
        if line.strip()
    )


def _patterns_setting(config: pytest.Config, name: str) -> tuple[str, ...]:
    """The patterns of the option ``name`` if given, else of its ini setting."""
    patterns: list[str] = getattr(config.option, name) or config.getini(name)
    if any(not pattern.strip() for pattern in patterns):
        raise pytest.UsageError(f"{name} patterns must not be empty")
    return tuple(pattern.strip() for pattern in patterns)


def _last_failed(config: pytest.Config) -> frozenset[str] | None:
    """The tests that failed last time, under ``--scope-last-failed``; else None."""
    if not (config.option.scope_last_failed or config.getini("scope_last_failed")):
        return None
    cache: pytest.Cache | None = getattr(config, "cache", None)
    if cache is None:
        raise pytest.UsageError(
            "--scope-last-failed needs pytest's cache provider, which says what failed last"
            " time: leave out -p no:cacheprovider"
        )
    failed = cache.get("cache/lastfailed", {})
    return frozenset(failed) if isinstance(failed, dict) else frozenset()


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
        # Plugins' patterns may be a usage error: before anything is created.
        try:
            self.redaction = Redaction(
                [*settings.redact, *plugin_redact_patterns(config)], _environ
            )
        except ValueError as exc:
            raise pytest.UsageError(f"scope_redact: {exc}") from None
        self.config = config
        self.settings = settings
        self.started = _time()
        # Under pytest-xdist the controller records nothing (the workers run the tests):
        # each worker records its part of the run, and the controller combines the parts.
        self.worker = worker_part(config)
        self.controller = self.worker is None and is_controller(config)
        self.run_id = self.worker.run_id if self.worker is not None else new_run_id()
        self.scope_dir = ScopeDir.create(settings.scope_dir)
        self.path = (
            self.scope_dir.run_path(self.run_id)
            if self.worker is None
            else self.scope_dir.worker_path(self.run_id, self.worker.worker_id)
        )
        self._sources: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self.recorded: list[tuple[TestRecord, str]] = []  # (record, scope-replay command)
        self.problems: list[str] = []
        self.retention: Retention | None = None
        self.combined: Combined | None = None
        self.deadline_lifted = False
        self.hypothesis_tests = 0
        self.restarted_steps = 0  # under xdist, in the controller: the sum of the workers'
        # The test recorded and not yet written: at the session's end, one that Ctrl-C
        # (or pytest.exit) interrupted before its teardown reported.
        self._unwritten: pytest.Item | None = None
        self.interruption: Interruption | None = None
        self.writer: TraceWriter | None = None
        self.recorder: Recorder | None = None
        self.progress: LiveProgress | None = None
        if self.controller:
            self.active = True
            config.pluginmanager.register(XdistController(self), XDIST_PLUGIN)
            return
        self.writer = TraceWriter(
            self.path, _run_meta(config, self.path.stem, self.started, self.settings.baselines)
        )
        plan = Plan(
            config.rootpath,
            list(config.getini("python_files")),
            settings.level,
            include=settings.include,
            exclude=settings.exclude,
        )
        encoder = ValueEncoder(
            redaction=self.redaction,
            in_project=plan.in_project,
            plugin_encoder=plugin_encoder(config),
        )
        self.recorder = Recorder(
            plan,
            encoder,
            self._on_new_code,
            code_base=0 if self.worker is None else code_base(self.worker.number),
        )
        try:
            self.recorder.start()
            self.active = True
        except ScopeError as exc:
            self.active = False
            self.problems.append(f"tests run unrecorded: {exc}")
        self.deadline_lifted = self.active and lift_default_deadline()
        if self.active and self.worker is None:
            recorder = self.recorder
            self.progress = live_progress(config, settings.progress_after, lambda: recorder.step)

    def close(self) -> None:
        self._finish_trace()
        if self.config.pluginmanager.get_plugin(XDIST_PLUGIN) is not None:
            self.config.pluginmanager.unregister(name=XDIST_PLUGIN)

    def _on_new_code(self, code_no: int, code: CodeType) -> None:
        assert self.writer is not None  # the controller has no recorder to call this
        filename = code.co_filename
        self.writer.add_code(code_no, code.co_qualname, filename, code.co_firstlineno)
        if filename not in self._sources:
            self._sources.add(filename)
            try:
                with tokenize.open(filename) as file:
                    self.writer.add_source(filename, file.read())
            except (OSError, SyntaxError, UnicodeDecodeError):
                pass  # replay shows the locals without the source

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Read every test's ``scope`` marker now: a bad one stops the run before it starts."""
        for item in items:
            item.stash[_mark_key] = scope_mark(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.recorder is not None:
            self.recorder.forget_pending_watches()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        mark = item.stash.get(_mark_key, None)
        only = self.settings.only
        if (
            not self.active
            or self.recorder is None
            or (mark is not None and mark.off)
            or (only is not None and item.nodeid not in only)
        ):
            return (yield)
        level = None if mark is None or mark.level is None else Level[mark.level.upper()]
        buffer = RingBuffer(self.settings.buffer_bytes, self.recorder.take_keyframe)
        item.stash[_buffer_key] = buffer
        item.stash[_started_key] = _time()
        self.redaction.start_test(_environ)
        self.recorder.override_level(level)
        self.recorder.begin_test(buffer, _hypothesis_test_code(item))
        self._unwritten = item
        if self.progress is not None:
            self.progress.test_started(item.nodeid)
        try:
            return (yield)
        finally:
            if self.progress is not None:
                self.progress.test_ended()
            steps = item.stash[_test_steps_key] = self.recorder.end_test()
            self.recorder.override_level(None)
            try:
                buffer.close_chunk()
            except Exception as exc:  # a fault of ours is never the test's
                lost = f"its last steps were lost: buffer fault: {type(exc).__name__}: {exc}"
                steps.incomplete = f"{steps.incomplete}; {lost}" if steps.incomplete else lost
            self.redaction.note_environment(_environ)  # what the test itself set

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if _test_steps_key in item.stash:
            if report.when == "call":
                item.stash[_call_report_key] = report
            elif report.when == "teardown" and _call_report_key in item.stash:
                # Only now: the test's monkeypatches (of os, time, ...) are undone.
                call_report = item.stash[_call_report_key]
                self._write_test(item, _outcome(call_report), call_report.duration)
                del item.stash[_call_report_key], item.stash[_test_steps_key]
                self._unwritten = None
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Before pytest's terminal reporter reads it: the interrupt is the test's."""
        hide_own_frames(excinfo)

    def _write_interrupted(self) -> None:
        """Keep what a test interrupted by Ctrl-C recorded, and say so in the summary.

        Written before its fixtures are torn down (pytest tears them down after this)."""
        item, self._unwritten = self._unwritten, None
        if item is None or _test_steps_key not in item.stash:
            return
        call_report = item.stash.get(_call_report_key, None)
        if call_report is not None:  # interrupted in its teardown: its call has an outcome
            self._write_test(item, _outcome(call_report), call_report.duration)
            return
        record = self._write_test(item, "interrupted", _time() - item.stash[_started_key])
        if record is not None:
            self.interruption = Interruption(item.nodeid, record.steps)

    def _write_test(self, item: pytest.Item, outcome: str, duration: float) -> TestRecord | None:
        """Write a test's recording; its row, or None if it was lost."""
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            self.hypothesis_tests += 1
        steps = item.stash[_test_steps_key]
        buffer = item.stash[_buffer_key]
        started = item.stash[_started_key]
        self._attempts[item.nodeid] += 1
        chunks = buffer.chunks()
        recorded = steps.steps
        if outcome == "interrupted":
            chunks = intact_steps(chunks)
            recorded = chunks[-1].last_step if chunks else 0
        try:
            chunks = scrub_chunks(chunks, self.redaction)
        except ScopeError as exc:  # nothing is written that may hold a secret
            self.problems.append(f"{item.nodeid}: recording lost: {exc}")
            return None
        record = TestRecord(
            nodeid=item.nodeid,
            attempt=self._attempts[item.nodeid],
            outcome=outcome,
            started=started,
            duration=duration,
            steps=recorded,
            first_step=chunks[0].first_step if chunks else recorded + 1,
            dropped_steps=buffer.dropped_steps,
            failure_step=(steps.failure_step or steps.steps or None)
            if outcome == "failed"
            else None,
            incomplete=steps.incomplete,
        )
        assert self.writer is not None
        try:
            self.writer.write_test(record, chunks)
        except Exception as exc:  # a fault of ours is never the test's, nor the run's
            reason = exc if isinstance(exc, ScopeError) else f"{type(exc).__name__}: {exc}"
            self.problems.append(f"{item.nodeid}: recording lost: {reason}")
            return None
        if steps.incomplete:
            self.problems.append(f"{item.nodeid}: recording incomplete: {steps.incomplete}")
        self.recorded.append((record, self._replay_command(item.nodeid)))
        return record

    def _replay_command(self, nodeid: str) -> str:
        command = f"scope-replay {shlex.quote(nodeid)}"
        default_dir = self.config.invocation_params.dir / DEFAULT_SCOPE_DIR
        if self.settings.scope_dir != default_dir.resolve():
            command += f" --dir {shlex.quote(_display_path(self.settings.scope_dir, self.config))}"
        return command

    def pytest_sessionfinish(self) -> None:
        """Finish the trace file and prune the scope directory before the summary, which
        reports what went wrong and what went."""
        self._write_interrupted()
        if self.worker is not None:
            self._finish_worker()
            return
        if self.controller:
            self._combine_workers()
        if not self.active:
            return
        self._finish_trace()
        passed = [record.nodeid for record, _ in self.recorded if record.outcome == "passed"]
        try:
            self.retention = prune(self.scope_dir, self.run_id, passed, self.settings.retention)
        except OSError as exc:
            self.problems.append(f"runs not pruned: {exc}")

    def _finish_trace(self) -> None:
        """Stop recording and complete the trace file, once the last test is written."""
        if self.progress is not None:
            self.progress.close()
        if self.recorder is not None:
            self.recorder.stop()
        if self.writer is None:
            return
        try:
            self.writer.close()
        except ScopeError as exc:  # a full disk: the tests written stay readable in the WAL
            self.problems.append(f"trace file left unfinished: {exc}")

    def _finish_worker(self) -> None:
        """Complete the worker's file for the controller to combine, and report to it."""
        self._finish_trace()
        workeroutput: dict[str, object] = getattr(self.config, "workeroutput", {})
        workeroutput[XDIST_OUTPUT] = {
            "problems": self.problems,
            "deadline_lifted": self.deadline_lifted,
            "hypothesis_tests": self.hypothesis_tests,
            "restarted_steps": self._restarted_steps(),
        }

    def _restarted_steps(self) -> int:
        return self.restarted_steps if self.recorder is None else self.recorder.restarted_steps

    def add_worker_report(self, report: dict[str, Any]) -> None:
        """What a worker had to say, gathered by the controller (``pytest_testnodedown``)."""
        self.problems.extend(str(problem) for problem in report.get("problems", []))
        self.deadline_lifted = self.deadline_lifted or bool(report.get("deadline_lifted"))
        self.hypothesis_tests += int(report.get("hypothesis_tests", 0))
        self.restarted_steps += int(report.get("restarted_steps", 0))

    def _combine_workers(self) -> None:
        """One trace file for the run, from the workers' files; its tests are the run's."""
        from pytest_scope.trace.reader import TraceFile

        parts = self.scope_dir.worker_files(self.run_id)
        try:
            self.combined = combine(
                self.path,
                parts,
                _run_meta(self.config, self.run_id, self.started, self.settings.baselines),
            )
            with TraceFile(self.path) as trace:
                records = [trace.record(test) for test in trace.tests()]
        except (ScopeError, OSError) as exc:
            self.active = False
            self.problems.append(f"worker trace files not combined: {exc}")
            return
        for part, problem in self.combined.left:
            self.problems.append(f"{_display_path(part, self.config)}: {problem}")
        for record in records:
            self.recorded.append((record, self._replay_command(record.nodeid)))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.worker is not None:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "pytest-scope")
        for problem in self.problems:
            write(f"pytest-scope: {problem}", yellow=True)
        if not self.active:
            return
        note = summary_note()
        if note is not None:
            write(note)
        steps = sum(record.steps for record, _ in self.recorded)
        dropped = sum(record.dropped_steps for record, _ in self.recorded)
        size = self.path.stat().st_size if self.path.exists() else 0
        combined = ""
        if self.combined is not None:
            combined = f", combined from {len(self.combined.parts)} xdist worker files"
        write(f"trace: {_display_path(self.path, self.config)} ({size / 1e6:.1f} MB{combined})")
        write(
            f"recorded {len(self.recorded)} tests, {steps:,} steps"
            f" ({dropped:,} dropped by the {self.settings.buffer_bytes // 2**20} MB buffer cap)"
        )
        records = [record for record, _ in self.recorded]
        if records:
            write(cost_line(records, self._restarted_steps()))
        if self.settings.only is not None:
            write(_last_failed_line(len(self.settings.only)))
        if self.retention is not None:
            write(_retention_line(self.retention, self.settings.retention))
        if self.deadline_lifted and self.hypothesis_tests:
            write("Hypothesis deadlines were lifted while recording (tests that set one keep it)")
        if len(records) > 1:
            writer = self.config.get_terminal_writer()
            width = writer.fullwidth if terminalreporter.isatty else None
            for line in heaviest_table(records, width):
                write(line)
        last: dict[str, tuple[TestRecord, str]] = {}
        for record, command in self.recorded:
            last[record.nodeid] = (record, command)
        failed = [
            (record, command) for record, command in last.values() if record.outcome == "failed"
        ]
        if failed:
            write("replay the failures:")
            for record, command in failed:
                write(f"  {command}", bold=True)
                write(f"      {self._last_pass_line(record.nodeid)}")
        if self.interruption is not None:
            command = self._replay_command(self.interruption.nodeid)
            write(summary_line(self.interruption, command), yellow=True)
        flaky = self._flaky()
        if flaky:
            write("flaky (failed, then passed on a rerun):", yellow=True)
            for line in flaky:
                write(f"  {line}")

    def _last_pass_line(self, nodeid: str) -> str:
        """Whether a failed test has a pass to be compared with, and from which build: on a
        fresh CI runner only a baseline (``--scope-baseline``) can hold one."""
        from pytest_scope.trace.reader import TraceFile
        from replay.history import baseline_runs, describe, last_pass, newest_first

        baselines = baseline_runs(self.settings.baselines)
        try:
            with TraceFile(self.path) as trace:
                shown = [test for test in trace.tests() if test.nodeid == nodeid][-1]
            runs = newest_first([*self.scope_dir.runs(), *baselines])
            found = last_pass(runs, self.path, shown)
        except (ScopeError, IndexError) as exc:
            return f"its last pass is unknown ({exc})"
        if found is None:
            where = _display_path(self.settings.scope_dir, self.config)
            if self.settings.baselines:
                where += f" or the {len(baselines)} baseline trace file(s)"
            return f"no last pass to compare with in {where}"
        with found[0] as trace:
            source = (
                "baseline" if trace.path.resolve() in {p.resolve() for p in baselines} else "kept"
            )
            file = _display_path(trace.path, self.config)
            return f"compared with its last pass ({source}): {describe(trace, found[1], file)}"

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
        from pytest_scope.trace.reader import TraceFile
        from replay.align import Signatures, align, first_divergence, load_steps
        from replay.compare import payloads_differ

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


def _run_meta(
    config: pytest.Config, run_id: str, started: float, baselines: tuple[Path, ...]
) -> dict[str, str]:
    """The ``meta`` rows of a run's trace file.

    ``baselines`` (``--scope-baseline``) are kept so that ``scope-replay`` looks for last
    passes where the run did."""
    listed = json.dumps([str(path) for path in baselines])
    # Readers refuse meta values beyond 64 KiB: a list that long is left out, not the run.
    kept = {"baselines": listed} if baselines and len(listed) <= _MAX_BASELINES_CHARS else {}
    return kept | {
        "format": FORMAT_NAME,
        "schema_version": str(SCHEMA_VERSION),
        "run_id": run_id,
        "started": str(started),
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "pytest_scope": __version__,
        "platform": platform.platform(),
        "rootdir": str(config.rootpath),
        **git_facts(config.rootpath),
    }


def _last_failed_line(failed: int) -> str:
    if not failed:
        return "--scope-last-failed: no test failed last time (pytest's cache), none recorded"
    return (
        "--scope-last-failed: recorded only the tests that failed last time"
        f" ({failed} in pytest's cache)"
    )


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


def _hypothesis_test_code(item: pytest.Item) -> CodeType | None:
    """The code of a ``@given`` test's own function, which Hypothesis calls per example.

    Only attributes Hypothesis itself sets on its wrapper are read, never the user's.
    """
    inner = getattr(getattr(getattr(item, "obj", None), "hypothesis", None), "inner_test", None)
    code = getattr(inner, "__code__", None)
    return code if isinstance(code, CodeType) else None


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
