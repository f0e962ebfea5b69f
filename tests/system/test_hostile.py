"""Hostile code under ``--scope``: the same outcomes, output and side effects as without it.

``fixtures/hostile`` holds objects whose special methods, properties, descriptors and
metaclass hooks log that they ran (and mostly raise), builtin subclasses that override
everything, cycles, values of several MB, recursion to the limit, threads, asyncio,
generators thrown into and closed, a test that uses ``sys.monitoring`` itself and tests
that patch ``time``, ``os`` and builtins. Each test's call log is written to a file at
teardown. The suite runs plain and recorded, in subprocesses, and every test must have the
same outcome, the same captured stdout and stderr, and leave the same call log.

A fault injected in each path of the recorder (callbacks, encoder, ring buffer, writer)
leaves the test's outcome alone, names the test in the summary, and marks its recording
incomplete or lost; the next test is recorded whole.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.paths import FIXTURES

from pytest_scope.capture.event_path import PURE_PYTHON_VARIABLE, compiled
from pytest_scope.capture.objects import ObjectTable
from pytest_scope.capture.values import ValueEncoder
from replay.reading.references import References

HOSTILE = FIXTURES / "hostile"
# The pure-Python recorder stops at the depth where its own frames no longer fit; those tests
# only. Compiled callbacks take no Python frames: the same tests are recorded whole.
RECURSION_TESTS = {
    "test_runtime.py::test_recursion_error_expected",
    "test_runtime.py::test_recursion_in_project_code",
    "test_runtime.py::test_lowered_recursion_limit",
}


@dataclass
class Run:
    outcomes: dict[str, tuple[str, str]]  # node id: (outcome, failure message)
    output: dict[str, tuple[str, str]]  # node id: (captured stdout, captured stderr)
    effects: dict[str, str]  # call log file: its text
    stdout: str


def _suite(tmp_path: Path) -> Path:
    suite = tmp_path / "hostile"
    shutil.copytree(HOSTILE, suite, ignore=shutil.ignore_patterns(".scope", "__pycache__"))
    return suite


def _run(
    suite: Path,
    *args: str,
    runner: tuple[str, ...] = ("-m", "pytest"),
    env: dict[str, str] | None = None,
) -> Run:
    """Run the suite in a subprocess; its per-test results from JUnit XML, then its call logs."""
    xml = suite / "junit.xml"
    effects = suite / "effects"
    shutil.rmtree(effects, ignore_errors=True)
    command = [sys.executable, *runner, "-p", "no:cacheprovider", "-o", "junit_logging=all"]
    run = subprocess.run(
        [*command, f"--junitxml={xml}", *args],
        cwd=suite,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert run.returncode in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), (
        run.stdout[-3000:] + run.stderr[-3000:]
    )
    outcomes, output = {}, {}
    for case in ET.parse(xml).iter("testcase"):
        nodeid = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome, message = kind, element.get("message", "")
        outcomes[nodeid] = (outcome, message)
        output[nodeid] = (case.findtext("system-out", ""), case.findtext("system-err", ""))
    logs = {path.name: path.read_text() for path in sorted(effects.glob("*.log"))}
    return Run(outcomes, output, logs, run.stdout)


def _recorded_tests(suite: Path) -> dict[str, str | None]:
    (trace,) = (suite / ".scope" / "runs").glob("*.sqlite")
    with closing(sqlite3.connect(trace)) as db:
        return dict(db.execute("SELECT nodeid, incomplete FROM tests"))


def _assert_same(plain: Run, recorded: Run) -> None:
    assert recorded.outcomes == plain.outcomes
    for nodeid, output in plain.output.items():
        assert recorded.output[nodeid] == output, nodeid
    assert recorded.effects == plain.effects


@pytest.mark.slow
def test_hostile_cases_run_the_same_recorded(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    plain = _run(suite)
    recorded = _run(suite, "--scope")
    failed = {nodeid for nodeid, (outcome, _) in plain.outcomes.items() if outcome != "passed"}
    assert failed == {"test_objects.py::test_loud_exception_fails"}
    assert len(plain.outcomes) >= 40
    assert len(plain.effects) == len(plain.outcomes)
    stdout, _ = plain.output["test_runtime.py::test_recursion_error_expected"]
    assert "depth reached in the test file: 9" in stdout  # compared with the recorded run's
    _assert_same(plain, recorded)
    incomplete = _recorded_tests(suite)
    assert set(incomplete) == set(plain.outcomes)
    stopped = set() if compiled() else RECURSION_TESTS
    assert {nodeid for nodeid, why in incomplete.items() if why} == stopped
    for nodeid in stopped:
        assert "RecursionError" in str(incomplete[nodeid])


@pytest.mark.slow
def test_hostile_cases_run_the_same_recorded_under_coverage(tmp_path: Path) -> None:
    """coverage.py (its sys.monitoring core, tool id 1) measures the same lines with us."""
    suite = _suite(tmp_path)
    options = (
        # It takes tool ids 0 and 1 itself, and coverage holds 1.
        "--deselect=test_environment.py::test_own_sys_monitoring_tools",
        # coverage's own callbacks call builtins.id, which it spies on.
        "--deselect=test_environment.py::test_builtins_patched",
    )
    coverage = ("-m", "coverage", "run", "--source=.", "--data-file=.coverage", "-m", "pytest")
    sysmon = {"COVERAGE_CORE": "sysmon"}
    covered = []
    runs = []
    for scope in ((), ("--scope",)):
        runs.append(_run(suite, *options, *scope, runner=coverage, env=sysmon))
        report = suite / "coverage.json"
        subprocess.run(
            [sys.executable, "-m", "coverage", "json", "--data-file=.coverage", "-o", str(report)],
            cwd=suite,
            check=True,
            capture_output=True,
        )
        files = json.loads(report.read_text())["files"]
        covered.append({name: files[name]["executed_lines"] for name in sorted(files)})
    plain, recorded = runs
    assert len(plain.outcomes) >= 38
    _assert_same(plain, recorded)
    assert covered[0]["hostile.py"], "coverage measured nothing"
    assert covered[1] == covered[0]
    assert set(_recorded_tests(suite)) == set(plain.outcomes)


FAULTED_SUITE = """
import faults

def test_faulted():
    faults.ARMED = True
    explode = [1]
    for i in range({passes}):  # past a chunk's 1024 events: a new chunk, a keyframe
        explode.append(i)
    explode.append(2)
    print("still running", explode[-1])
    assert explode[-1] == 2

def test_untouched():
    value = [3]
    assert value == [3]
"""

_FAULT = "recording incomplete: recorder fault at step *: Boom: injected"
FAULTS = {
    # path: (what the conftest wraps, loop passes, the summary's words about the test)
    "callback": ("pytest_scope.capture.recorder.Recorder._record_step", 0, _FAULT),
    "encoder": ("pytest_scope.capture.values.ValueEncoder.encode_shallow", 0, _FAULT),
    "encoder-inner": (
        "pytest_scope.capture.values.ValueEncoder._encode",
        0,
        "recording incomplete: recorder fault: a list value could not be encoded"
        " (Boom: injected); it shows as <unencodable>",
    ),
    "objects": ("pytest_scope.capture.objects.ObjectTable._check", 0, _FAULT),
    "line-names": ("pytest_scope.capture.recorder._Code.names", 0, _FAULT),
    "keyframe": ("pytest_scope.capture.recorder.Recorder.take_keyframe", 1500, _FAULT),
    "buffer-append": ("pytest_scope.capture.buffer.RingBuffer.append", 0, _FAULT),
    "buffer-full": ("pytest_scope.capture.buffer.RingBuffer.close_chunk", 1500, _FAULT),
    "buffer-close": (
        "pytest_scope.capture.buffer.RingBuffer.close_chunk",
        0,
        "recording incomplete: its last steps were lost: buffer fault: Boom: injected",
    ),
    "writer": (
        "pytest_scope.trace.writer.TraceWriter.write_test",
        0,
        "recording lost: Boom: injected",
    ),
    "sqlite": (
        "sqlite_utils.db.Table.insert",
        0,
        "recording lost: *cannot write (disk I/O error)",
    ),
}

FAULTS_CONFTEST = """
import importlib
import sqlite3

import faults

module_name, owner, name = {target!r}.rsplit(".", 2)
cls = getattr(importlib.import_module(module_name), owner)
original = getattr(cls, name)

class Boom(Exception):
    pass

def wrapper(*args, **kwargs):
    if faults.ARMED:
        faults.ARMED = False
        if name == "insert":
            raise sqlite3.OperationalError("disk I/O error")
        raise Boom("injected")
    return original(*args, **kwargs)

setattr(cls, name, wrapper)
"""


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(FAULTS))
def test_a_fault_in_each_recorder_path_leaves_the_test_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Each fault is injected by wrapping a method of the recorder's classes, which their
    compiled build does not allow: the run uses the pure-Python path (the same source)."""
    monkeypatch.setenv(PURE_PYTHON_VARIABLE, "1")
    target, passes, summary = FAULTS[path]
    pytester.makepyfile(faults="ARMED = False", test_fault=FAULTED_SUITE.format(passes=passes))
    pytester.makeconftest(FAULTS_CONFTEST.format(target=target))
    result = pytester.runpytest_subprocess("--scope", "-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*still running 2"])
    (trace,) = (pytester.path / ".scope" / "runs").glob("*.sqlite")
    with closing(sqlite3.connect(trace)) as db:
        rows = dict(db.execute("SELECT nodeid, incomplete FROM tests"))
        untouched_steps = db.execute(
            "SELECT steps FROM tests WHERE nodeid = 'test_fault.py::test_untouched'"
        ).fetchone()[0]
    assert rows["test_fault.py::test_untouched"] is None
    assert untouched_steps >= 3
    if summary is None:
        assert rows["test_fault.py::test_faulted"] is None
        assert "test_faulted: recording" not in result.stdout.str()
        return
    result.stdout.fnmatch_lines([f"pytest-scope: test_fault.py::test_faulted: {summary}"])
    if "recording lost" in summary:
        assert "test_fault.py::test_faulted" not in rows
    else:
        assert rows["test_fault.py::test_faulted"]


def _entries(table: ObjectTable, form: object) -> dict[int, list[Any]]:
    return {entry[0]: entry for entry in table.closure([form])}


class _Logged(type):
    calls: list[str] = []  # noqa: RUF012

    def __eq__(cls, other: object) -> bool:
        _Logged.calls.append("__eq__")
        return True

    def __hash__(cls) -> int:
        _Logged.calls.append("__hash__")
        return 0

    def __instancecheck__(cls, instance: Any) -> bool:
        _Logged.calls.append("__instancecheck__")
        return True


class _Hostile(metaclass=_Logged):
    def __init__(self) -> None:
        self.value = 1


class _HostileTz(datetime.tzinfo):
    def __repr__(self) -> str:
        _Logged.calls.append("tzinfo.__repr__")
        return "tz"

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)


class _Bound:
    def __repr__(self) -> str:
        _Logged.calls.append("slice bound __repr__")
        return "bound"


def test_the_encoder_compares_types_by_identity() -> None:
    """A metaclass's ``__eq__``/``__hash__`` would run on ``cls in a_set``."""
    _Logged.calls.clear()
    encoder = ValueEncoder()
    form = encoder.encode([_Hostile(), _Hostile])
    assert form == [
        {"$type": f"{__name__}._Hostile", "attrs": {"value": 1}},
        {"$type": f"{__name__}._Logged", "repr": f"{__name__}._Hostile"},
    ]
    table = ObjectTable(encoder)
    ref = table.form([_Hostile(), _Hostile])
    assert References(_entries(table, ref)).resolve(ref) == form
    assert _Logged.calls == []


def test_the_encoder_runs_no_repr_of_slice_bounds_or_tzinfo() -> None:
    _Logged.calls.clear()
    moment = datetime.datetime(2024, 1, 2, 3, 4, tzinfo=_HostileTz())
    (when, cut, plain) = ValueEncoder().encode((moment, slice(_Bound(), 3), slice(1, 2)))
    assert when["repr"] == f"datetime.datetime(2024, 1, 2, 3, 4, tzinfo=<{__name__}._HostileTz>)"
    assert cut["repr"] == f"slice(<{__name__}._Bound>, 3, None)"
    assert plain["repr"] == "slice(1, 2, None)"
    assert _Logged.calls == []


def test_the_encoder_takes_any_module_name_and_class_key() -> None:
    with warnings.catch_warnings():  # 3.13 warns of the non-str key
        warnings.simplefilter("ignore", RuntimeWarning)
        strange = type("Strange", (), {"__module__": _Bound(), 7: "a non-str key"})
    strange.__init__ = lambda self: setattr(self, "n", 1)  # type: ignore[misc]
    _Logged.calls.clear()
    form = ValueEncoder().encode([strange(), strange])
    assert form == [{"$type": "Strange", "attrs": {"n": 1}}, {"$type": "type", "repr": "Strange"}]
    assert _Logged.calls == []
