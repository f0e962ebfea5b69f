"""The compiled event path and the pure-Python one: which one runs, and that they agree."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO
from support.recordings import copy_fixture, record

from pytest_scope.capture import event_path
from pytest_scope.capture.event_path import PURE_PYTHON_VARIABLE, in_event_path
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.scope_dir import ScopeDir
from replay.reading.cursor import Cursor

_WHICH_RECORDER = "import pytest_scope.capture.recorder as recorder; print(recorder.__file__)"


def _environment(pure: bool) -> dict[str, str]:
    """This environment, asking for the pure-Python path or not."""
    env = {key: value for key, value in os.environ.items() if key != PURE_PYTHON_VARIABLE}
    if pure:
        env[PURE_PYTHON_VARIABLE] = "1"
    return env


def _recorder_file(pure: bool) -> str:
    """The file the recorder is loaded from in a fresh interpreter (started elsewhere than
    in the checkout, whose sources ``-c`` would put first on ``sys.path``)."""
    run = subprocess.run(
        [sys.executable, "-c", _WHICH_RECORDER],
        cwd=tempfile.gettempdir(),
        env=_environment(pure),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@pytest.mark.slow
def test_the_environment_gets_the_path_it_expects() -> None:
    """tox runs the suite on both paths: each env must be on the one it names."""
    compiled = not _recorder_file(pure=False).endswith(".py")
    if os.environ.get("PYTEST_SCOPE_EXPECT_COMPILED"):
        assert compiled, "the compiled event path was expected to be built"
    if os.environ.get(PURE_PYTHON_VARIABLE):
        from pytest_scope.capture import recorder

        assert recorder.__file__.endswith(".py")


def test_the_compiled_recorder_steps_lines_natively(tmp_path: Path) -> None:
    """The compiled build puts the native line step in front of the fast line callback; the
    pure one has none (it would read a recorder other than the one it was built with)."""
    recorder = Recorder(Plan(tmp_path, ["test_*.py"]), ValueEncoder(), lambda *_: None)
    native = type(recorder._fast_line).__name__ == "NativeSteps"
    assert native == event_path.compiled()
    if os.environ.get("PYTEST_SCOPE_EXPECT_COMPILED"):
        assert native, "the native line step was expected to be built"


@pytest.mark.slow
def test_the_pure_python_path_on_request() -> None:
    assert _recorder_file(pure=True).endswith("recorder.py")


def _summary(tmp_path: Path, pure: bool) -> str:
    (tmp_path / "test_one.py").write_text("def test_one():\n    x = 1\n    assert x\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope", "test_one.py"],
        cwd=tmp_path,
        env=_environment(pure),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.mark.slow
def test_the_summary_says_when_recording_ran_in_pure_python(tmp_path: Path) -> None:
    assert f"recording ran in pure Python, as {PURE_PYTHON_VARIABLE} asks" in _summary(
        tmp_path, pure=True
    )
    built = not _recorder_file(pure=False).endswith(".py")
    not_built = "the compiled event path is not built here"
    assert (not_built in _summary(tmp_path, pure=False)) is not built


def _replayed_tests(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every test's state at each of its steps, as replay shows it, in the newest run of
    ``root`` (the run id aside)."""
    with TraceFile(ScopeDir(root / ".scope").newest()) as trace:
        replayed = {}
        for test in trace.tests():
            with Cursor(trace, test) as cursor:
                states = [asdict(cursor.state(row["step"])) for row in cursor.rows]
            replayed[test.nodeid] = [{**state, "run": None} for state in states]
        return replayed


@pytest.mark.slow
def test_both_paths_record_the_same_steps(tmp_path: Path) -> None:
    """The fidelity samples (callees, C methods, closures, generators, threads), recorded on
    each path: the same steps, and at each the same stack, locals, values and exception.
    (Object numbers may differ: an object's number follows its id, which the allocator
    may give again to a new object of the same type, differently on each path.)"""
    if _recorder_file(pure=False).endswith(".py"):
        pytest.skip("the compiled event path is not built in this environment")
    copy_fixture("fidelity", tmp_path)  # one place for both: the same file names
    recordings = []
    for pure in (False, True):
        shutil.rmtree(tmp_path / ".scope", ignore_errors=True)
        record(tmp_path, env={PURE_PYTHON_VARIABLE: "1" if pure else "0"})
        recordings.append(_replayed_tests(tmp_path))
    compiled, pure = recordings
    assert compiled.keys() == pure.keys()
    assert len(compiled) > 10
    for nodeid, states in compiled.items():
        assert len(states) > 1
        assert states == pure[nodeid], nodeid


def test_the_recorders_frames_are_told_on_both_paths() -> None:
    """Ctrl-C's traceback is cut at the recorder's first frame (``interrupt.py``): a source
    file of the event path, or the name compiled code gives its own traceback entries."""
    package = Path(event_path.__file__).resolve().parent
    assert in_event_path(str(package / "recorder.py"))
    assert in_event_path("pytest_scope/capture/values.py")
    assert not in_event_path(str(package / "session.py"))
    assert not in_event_path("<string>")
    assert not in_event_path("values.py")


def _package_copy(root: Path) -> Path:
    """This checkout's packages in ``root``, where a test may put compiled modules."""
    for package in ("pytest_scope", "replay"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.so")
        )
    (root / "pytest_scope" / "capture" / event_path.COMPILED_SOURCES).unlink(missing_ok=True)
    return root


def _compiled_beside(root: Path, record: dict[str, str] | None) -> None:
    """A compiled recorder beside the sources (a file Python would load first, and fail
    to: it is no extension), and what the build recorded of the sources, if anything."""
    capture = root / "pytest_scope" / "capture"
    (capture / f"recorder{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"stale")
    if record is not None:
        (capture / event_path.COMPILED_SOURCES).write_text(json.dumps(record))


def _digests(root: Path) -> dict[str, str]:
    return {
        name: event_path.source_digest(root / event_path.source_path(name))
        for name in event_path.MODULES
    }


@pytest.mark.slow
def test_compiled_modules_built_from_other_sources_are_not_used(tmp_path: Path) -> None:
    """An editable install compiled, then recorder.py edited: the edited source runs, and the
    summary says why in one line."""
    root = _package_copy(tmp_path / "checkout")
    record = _digests(root)
    with (root / "pytest_scope" / "capture" / "recorder.py").open("a") as source:
        source.write("\n# edited after the build\n")
    _compiled_beside(root, record)
    assert event_path.changed_sources(root) == ["capture/recorder.py"]
    env = {**_environment(pure=False), "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-c", _WHICH_RECORDER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(root / "pytest_scope" / "capture" / "recorder.py")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_one.py").write_text("def test_one():\n    x = 1\n    assert x\n")
    summary = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert (
        "recording ran in pure Python: the compiled event path was built from other sources"
        " than capture/recorder.py (slower; install again to compile them)"
    ) in summary.splitlines()


def test_the_staleness_rule(tmp_path: Path) -> None:
    root = _package_copy(tmp_path)
    assert event_path.changed_sources(root) == [], "nothing compiled: nothing to compare"
    _compiled_beside(root, _digests(root))
    assert event_path.changed_sources(root) == [], "built from these very sources"
    codec = root / "pytest_scope" / "trace" / "codec.py"
    codec.write_text(codec.read_text() + "\n")
    assert event_path.changed_sources(root) == ["trace/codec.py"]
    _compiled_beside(root, None)
    (root / "pytest_scope" / "capture" / event_path.COMPILED_SOURCES).unlink()
    assert len(event_path.changed_sources(root)) == len(event_path.MODULES), "no record: unknown"
    (root / "pytest_scope" / "capture" / event_path.COMPILED_SOURCES).write_text("[damaged")
    assert len(event_path.changed_sources(root)) == len(event_path.MODULES)
