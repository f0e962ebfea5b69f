"""Never lose a trace: a full disk, Ctrl-C, SIGKILL, and two runs sharing a scope directory.

Each scenario runs ``pytest --scope`` in its own process, as CI does, and then checks with
``scope-replay`` that every test finished before the trouble is listed and replayable at
its failure step. Synchronization is by files the suite itself writes, never by sleeping.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.replaycli import replay_json, run_replay

from pytest_scope.trace.scope_dir import ScopeDir

# Each test makes ~600 steps of random (incompressible) text: ~70 KB of trace file.
CHURN_SUITE = """
import secrets

def _churn():
    for _ in range(600):
        noise = secrets.token_hex(90)
    return noise

def test_1_passes():
    _churn()

def test_2_fails():
    value = _churn()
    assert value == "expected"

def test_3_passes():
    _churn()

def test_4_fails():
    _churn()
    assert False

def test_5_passes():
    _churn()

def test_6_passes():
    _churn()
"""
WAIT_SECONDS = 120  # a generous bound for a loaded machine; only reached on a failure


def _pytest(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args]


def _outcomes(stdout: str) -> dict[str, str]:
    """``-rA``'s short summary: node id -> PASSED/FAILED."""
    outcomes = {}
    for line in stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED") and "::" in rest:
            outcomes[rest.split(" - ")[0]] = word
    return outcomes


def _listed(scope_dir: Path, run: Path | None = None) -> dict[str, dict[str, object]]:
    args = ["--list", "--dir", str(scope_dir)]
    if run is not None:
        args += ["--run", str(run)]
    document = replay_json(scope_dir.parent, *args)
    return {test["nodeid"]: test for test in document["tests"]}


def _replays_at_failure(scope_dir: Path, nodeid: str, run: Path | None = None) -> None:
    args = [nodeid, "--dir", str(scope_dir), "--against", "none"]
    if run is not None:
        args += ["--run", str(run)]
    state = replay_json(scope_dir.parent, *args)
    assert state["event"]["kind"] == "exception", state["event"]
    assert state["exception"]["$type"] == "AssertionError"


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    """Poll until ``condition`` holds; fail (not hang) if the process ends or time runs out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"pytest ended early ({process.returncode}):\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("timed out waiting for the suite")
        time.sleep(0.05)


# --- A file size limit ----------------------------------------------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    def limit_file_size() -> None:
        # SIGXFSZ stays as CPython sets it at startup (ignored): writes past the limit
        # fail with EFBIG, which SQLite reports as a full disk.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_file_size


@pytest.mark.slow
def test_a_file_size_limit_loses_recordings_not_outcomes(tmp_path: Path) -> None:
    (tmp_path / "test_churn.py").write_text(CHURN_SUITE)
    limit = 250_000
    plain = subprocess.run(
        _pytest(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    recorded = subprocess.run(
        _pytest(tmp_path, "--scope"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_limit_file_size(limit),
    )
    assert recorded.returncode == plain.returncode == 1, recorded.stdout + recorded.stderr
    assert _outcomes(recorded.stdout) == _outcomes(plain.stdout)
    assert len(_outcomes(plain.stdout)) == 6
    assert "Traceback" not in recorded.stderr, recorded.stderr
    lost = {
        line.split("pytest-scope: ", 1)[1].split(": recording lost")[0]
        for line in recorded.stdout.splitlines()
        if ": recording lost: " in line
    }
    scope_dir = tmp_path / ".scope"
    listed = _listed(scope_dir)
    # Every test is either in the trace file or named as lost, and the limit was reached.
    assert set(listed) | lost == set(_outcomes(plain.stdout))
    assert lost and listed and not set(listed) & lost
    assert "test_churn.py::test_1_passes" in listed
    for nodeid, test in listed.items():
        if test["outcome"] == "failed":
            _replays_at_failure(scope_dir, nodeid)


# --- Ctrl-C and SIGKILL ---------------------------------------------------------------

BLOCKING_SUITE = """
import pathlib, time

def test_1_passes():
    numbers = [1, 2]
    assert sum(numbers) == 3

def test_2_fails():
    numbers = [1, 2]
    assert sum(numbers) == 4

def test_3_passes():
    assert True

def test_4_blocks():
    pathlib.Path("blocking").write_text("")
    deadline = time.monotonic() + 300
    while not pathlib.Path("release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

def test_5_never_runs():
    assert True
"""
FINISHED = (
    "test_block.py::test_1_passes",
    "test_block.py::test_2_fails",
    "test_block.py::test_3_passes",
)


def _interrupted_run(tmp_path: Path, signal_number: int) -> tuple[subprocess.Popen[str], Path]:
    (tmp_path / "test_block.py").write_text(BLOCKING_SUITE)
    process = subprocess.Popen(
        _pytest(tmp_path, "--scope", "test_block.py"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The blocking test starts after the three before it were written.
    _wait_for((tmp_path / "blocking").exists, process)
    process.send_signal(signal_number)
    try:
        process.communicate(timeout=WAIT_SECONDS)
    finally:
        (tmp_path / "release").write_text("")
        if process.poll() is None:
            process.kill()
    return process, tmp_path / ".scope"


def _finished_tests_replay(scope_dir: Path) -> None:
    listed = _listed(scope_dir)
    assert set(FINISHED) <= set(listed)
    assert "test_block.py::test_5_never_runs" not in listed
    _replays_at_failure(scope_dir, "test_block.py::test_2_fails")
    timeline = replay_json(scope_dir.parent, "test_1_passes", "--timeline", "--dir", str(scope_dir))
    assert timeline and timeline[-1]["kind"] == "return"


@pytest.mark.slow
def test_ctrl_c_keeps_every_finished_test(tmp_path: Path) -> None:
    process, scope_dir = _interrupted_run(tmp_path, signal.SIGINT)
    assert process.returncode == pytest.ExitCode.INTERRUPTED
    _finished_tests_replay(scope_dir)
    # The session ended normally: the trace file was finished, WAL folded in.
    assert [path.name for path in (scope_dir / "runs").iterdir()] == [
        path.name for path in (scope_dir / "runs").glob("*.sqlite")
    ]


# The marker appears by a rename, a C call: once it is there, the test is back in its own
# loop, and the interrupt cannot land in pathlib's writing of the file.
SPINNING_SUITE = """
import os
import pathlib

def test_1_passes():
    assert [1, 2] == [1, 2]

def test_2_spins():
    total = 0
    for n in range(10**9):
        total += n
        if n == 1000:
            pathlib.Path("spinning.tmp").write_text("")
            os.replace("spinning.tmp", "spinning")
"""


@pytest.mark.slow
def test_ctrl_c_in_a_recorded_loop_is_reported_at_the_test(tmp_path: Path) -> None:
    """A recorded loop spends most of its time in the recorder's callbacks, where the
    interrupt lands: pytest shows the test's line, and the summary names the test, whose
    recording up to the interrupt is kept."""
    (tmp_path / "test_spin.py").write_text(SPINNING_SUITE)
    process = subprocess.Popen(
        _pytest(tmp_path, "--scope", "test_spin.py"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for((tmp_path / "spinning").exists, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out + err
    lines = out.splitlines()
    banner = next(i for i, line in enumerate(lines) if line.strip("! ") == "KeyboardInterrupt")
    assert lines[banner + 1].startswith(f"{tmp_path / 'test_spin.py'}:"), out
    assert "pytest_scope" not in lines[banner + 1]
    summary = next(line for line in lines if line.startswith("interrupted in "))
    assert summary.startswith("interrupted in test_spin.py::test_2_spins at step "), summary
    assert summary.endswith(
        "its recording up to there is kept: scope-replay test_spin.py::test_2_spins"
    )
    listed = _listed(tmp_path / ".scope")
    assert listed["test_spin.py::test_1_passes"]["outcome"] == "passed"
    spun = listed["test_spin.py::test_2_spins"]
    assert spun["outcome"] == "interrupted"
    step = int(summary.split(" at step ")[1].split(";")[0].replace(",", ""))
    assert spun["steps"] == step > 1000
    state = replay_json(tmp_path, "test_2_spins", "--against", "none")
    assert state["stack"][-1]["function"] == "test_2_spins"
    assert state["stack"][-1]["locals"]["n"] > 1000


def test_an_interrupted_recording_is_cut_at_its_first_missing_step() -> None:
    """Ctrl-C between the recorder counting step 5 and storing it: the steps after the gap
    (the frame unwinding) are left out, and what is kept is a recording readers accept."""
    from pytest_scope.interrupt import intact_steps
    from pytest_scope.trace.codec import pack_chunk, unpack_chunk
    from pytest_scope.trace.records import Chunk

    def chunk(after: int, steps: list[int]) -> Chunk:
        keyframe = {"step": after, "threads": [], "suspended": [], "objects": []}
        events = [[step, 1, 1, 0, 1, 10, None] for step in steps]
        return Chunk(after + 1, after + len(steps), pack_chunk(keyframe, events))

    whole = chunk(0, [1, 2, 3])
    kept = intact_steps([whole, chunk(3, [4, 6, 7]), chunk(7, [8])])
    assert kept[0] == whole
    assert [(c.first_step, c.last_step) for c in kept] == [(1, 3), (4, 4)]
    assert [event[0] for event in unpack_chunk(kept[1].data)[1]] == [4]
    assert intact_steps([chunk(0, [2])]) == []


@pytest.mark.slow
def test_sigkill_keeps_every_finished_test(tmp_path: Path) -> None:
    process, scope_dir = _interrupted_run(tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    (run,) = (scope_dir / "runs").glob("*.sqlite")
    assert run.with_name(run.name + "-wal").exists()  # killed before it could finish
    _finished_tests_replay(scope_dir)
    result = run_replay(tmp_path, "--runs", "--dir", str(scope_dir))
    assert result.returncode == 0 and "unreadable" not in result.stdout, result.stdout


# --- Two runs in one scope directory at once ------------------------------------------


@pytest.mark.slow
def test_two_runs_at_once_keep_each_other(tmp_path: Path) -> None:
    """Run A finishes and prunes (keeping 1 run) while run B is still recording: B's run
    survives, both files are complete, and the index lists the passes of both."""
    for project in ("a", "b"):
        (tmp_path / project).mkdir()
        (tmp_path / project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir
    (tmp_path / "a" / "test_a.py").write_text(
        "def test_a_passes():\n    assert True\n\ndef test_a_fails():\n    assert 1 == 2\n"
    )
    # No test of B passes before A prunes: no index entry could keep B's run.
    (tmp_path / "b" / "test_b.py").write_text(
        BLOCKING_SUITE.replace("test_1_passes", "test_1_fails")
        .replace("== 3", "== 0")
        .replace("test_3_passes():\n    assert True", "test_3_fails():\n    assert False")
        .replace("test_5_never_runs", "test_5_passes")
    )
    scope_dir = tmp_path / "shared"
    # "--scope-dir=DIR" in one word: pytest takes an existing path in the arguments for a
    # test path when it finds the rootdir.
    options = ("--scope", f"--scope-dir={scope_dir}", "--scope-keep-runs=1")
    b = subprocess.Popen(
        _pytest(tmp_path, *options),
        cwd=tmp_path / "b",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for((tmp_path / "b" / "blocking").exists, b)
        a = subprocess.run(
            _pytest(tmp_path, *options),
            cwd=tmp_path / "a",
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert a.returncode == 1, a.stdout + a.stderr
        assert "runs not pruned" not in a.stdout
    finally:
        (tmp_path / "b" / "release").write_text("")
    out, err = b.communicate(timeout=WAIT_SECONDS)
    assert b.returncode == 1, out + err
    runs = sorted((scope_dir / "runs").glob("*.sqlite"))
    assert len(runs) == 2, [path.name for path in runs]
    tests = {nodeid: run for run in runs for nodeid in _listed(scope_dir, run)}
    outcomes = {**_outcomes(a.stdout), **_outcomes(out)}
    assert set(tests) == set(outcomes) and len(outcomes) == 7
    assert list(outcomes.values()).count("PASSED") == 3
    for nodeid, outcome in outcomes.items():
        if outcome == "FAILED":
            _replays_at_failure(scope_dir, nodeid, tests[nodeid])
    index = json.loads(ScopeDir(scope_dir).index.read_text())["tests"]
    assert index == {
        nodeid: tests[nodeid].stem for nodeid, outcome in outcomes.items() if outcome == "PASSED"
    }
    # Both finished: no WAL, no lock left; nothing but the two trace files.
    assert sorted(os.listdir(scope_dir / "runs")) == [path.name for path in runs]


# Ninety frames, each holding its own lists of lists: more objects than a reader takes in
# one array of a keyframe.
WIDE_STATE_SUITE = """
def tree():
    return [[[i, j] for j in range(20)] for i in range(24)]


def hold(depth):
    mine = tree()
    if depth:
        return hold(depth - 1)
    x = 0
    for _ in range(3000):
        x += 1
    return x + len(mine)


def test_many_objects():
    assert hold(90) == 0
"""


@pytest.mark.slow
def test_a_keyframe_of_more_objects_than_one_array_takes_replays_at_every_chunk(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_wide.py").write_text(WIDE_STATE_SUITE)
    scope_dir = tmp_path / "sd"
    run = subprocess.run(
        _pytest(tmp_path, "--scope", f"--scope-dir={scope_dir}"), cwd=tmp_path, capture_output=True
    )
    assert run.returncode == 1, run.stdout
    steps = _listed(scope_dir)["test_wide.py::test_many_objects"]["steps"]
    _replays_at_failure(scope_dir, "test_wide.py::test_many_objects")
    for step in range(1000, int(str(steps)), 5000):
        state = replay_json(
            tmp_path, "test_many_objects", "--dir", str(scope_dir), "--step", str(step)
        )
        assert state["step"] == step
