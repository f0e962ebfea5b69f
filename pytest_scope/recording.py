"""Recording this process's tests: the hooks around each test, and writing it when done.

The single process and each xdist worker record (the controller runs no test). Each test
is written when its teardown is done (its monkeypatches undone), so a run killed later
keeps every test finished before.
"""

from __future__ import annotations

import os
import time
import tokenize
from collections import Counter
from collections.abc import Generator
from types import CodeType

import pytest

from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Level, Plan
from pytest_scope.capture.recorder import Recorder, TestSteps
from pytest_scope.capture.redaction import Redaction
from pytest_scope.capture.scrub import scrub_chunks
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.errors import ScopeError
from pytest_scope.extensions import plugin_encoder
from pytest_scope.hypothesis_deadline import lift_default_deadline
from pytest_scope.interrupt import Interruption, hide_own_frames, intact_steps
from pytest_scope.marker import ScopeMark, scope_mark
from pytest_scope.progress import LiveProgress, live_progress
from pytest_scope.run import Run
from pytest_scope.trace.combine import code_base
from pytest_scope.trace.records import TestRecord
from pytest_scope.trace.writer import TraceWriter

_test_steps_key = pytest.StashKey[TestSteps]()
_buffer_key = pytest.StashKey[RingBuffer]()
_started_key = pytest.StashKey[float]()
_call_report_key = pytest.StashKey[pytest.TestReport]()
_mark_key = pytest.StashKey[ScopeMark | None]()
# Private references: a test may monkeypatch the time module, or replace os.environ
# (monkeypatch.setenv changes this object in place).
_time = time.time
_environ = os.environ


class Recording:
    """The hooks of a process that runs tests: each one recorded into ``run.path``."""

    def __init__(self, run: Run, redaction: Redaction) -> None:
        config, settings, worker = run.config, run.settings, run.worker
        self.run = run
        self.redaction = redaction
        self._sources: set[str] = set()
        self._attempts: Counter[str] = Counter()
        # The test recorded and not yet written: at the session's end, one that Ctrl-C
        # (or pytest.exit) interrupted before its teardown reported.
        self._unwritten: pytest.Item | None = None
        self.progress: LiveProgress | None = None
        self.writer = TraceWriter(run.path, run.meta())
        plan = Plan(
            config.rootpath,
            list(config.getini("python_files")),
            settings.level,
            include=settings.include,
            exclude=settings.exclude,
        )
        encoder = ValueEncoder(
            redaction=redaction,
            in_project=plan.in_project,
            plugin_encoder=plugin_encoder(config),
        )
        self.recorder = Recorder(
            plan,
            encoder,
            self._on_new_code,
            code_base=0 if worker is None else code_base(worker.number),
        )
        try:
            self.recorder.start()
        except ScopeError as exc:
            run.active = False
            run.problems.append(f"tests run unrecorded: {exc}")
        run.deadline_lifted = run.active and lift_default_deadline()
        if run.active and worker is None:
            recorder = self.recorder
            self.progress = live_progress(config, settings.progress_after, lambda: recorder.step)

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

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Read every test's ``scope`` marker now: a bad one stops the run before it starts."""
        for item in items:
            item.stash[_mark_key] = scope_mark(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.recorder.forget_pending_watches()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        mark = item.stash.get(_mark_key, None)
        only = self.run.settings.only
        if (
            not self.run.active
            or (mark is not None and mark.off)
            or (only is not None and item.nodeid not in only)
        ):
            return (yield)
        level = None if mark is None or mark.level is None else Level[mark.level.upper()]
        buffer = RingBuffer(self.run.settings.buffer_bytes, self.recorder.take_keyframe)
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
        if report.when == "call":
            # A subtest reports through this hook too, during the test's call and before
            # the test's own call report, which says passed: a failed subtest is the
            # test's outcome.
            earlier = item.stash.get(_call_report_key, None)
            if earlier is None or not earlier.failed:
                item.stash[_call_report_key] = report
        elif report.when == "teardown" and _call_report_key in item.stash:
            call_report = item.stash[_call_report_key]
            del item.stash[_call_report_key]
            if _test_steps_key in item.stash:
                # Only now: the test's monkeypatches (of os, time, ...) are undone.
                self._write_test(item, _outcome(call_report), call_report.duration)
                del item.stash[_test_steps_key]
                self._unwritten = None
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Before pytest's terminal reporter reads it: the interrupt is the test's."""
        hide_own_frames(excinfo)

    def write_interrupted(self) -> None:
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
            self.run.interruption = Interruption(item.nodeid, record.steps)

    def _write_test(self, item: pytest.Item, outcome: str, duration: float) -> TestRecord | None:
        """Write a test's recording; its row, or None if it was lost."""
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            self.run.hypothesis_tests += 1
        steps = item.stash[_test_steps_key]
        buffer = item.stash[_buffer_key]
        del item.stash[_buffer_key]  # items live until the session ends; recordings need not
        started = item.stash[_started_key]
        self._attempts[item.nodeid] += 1
        chunks = buffer.chunks()
        recorded = steps.steps
        if outcome == "interrupted":
            chunks = intact_steps(chunks)
            recorded = chunks[-1].last_step if chunks else 0
        try:
            chunks, redacted = scrub_chunks(chunks, self.redaction)
        except ScopeError as exc:  # nothing is written that may hold a secret
            self.run.problems.append(f"{item.nodeid}: recording lost: {exc}")
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
        try:
            self.writer.write_test(record, chunks)
        except Exception as exc:  # a fault of ours is never the test's, nor the run's
            reason = exc if isinstance(exc, ScopeError) else f"{type(exc).__name__}: {exc}"
            self.run.problems.append(f"{item.nodeid}: recording lost: {reason}")
            return None
        if steps.incomplete:
            self.run.problems.append(f"{item.nodeid}: recording incomplete: {steps.incomplete}")
        self.run.recorded.append((record, self.run.replay_command(item.nodeid)))
        self.run.redacted_values += redacted
        return record

    def finish_trace(self) -> None:
        """Stop recording and complete the trace file, once the last test is written."""
        if self.progress is not None:
            self.progress.close()
        self.recorder.stop()
        self.run.restarted_steps = self.recorder.restarted_steps
        try:
            self.writer.close()
        except ScopeError as exc:  # a full disk: the tests written stay readable in the WAL
            self.run.problems.append(f"trace file left unfinished: {exc}")


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
