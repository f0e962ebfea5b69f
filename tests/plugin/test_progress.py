"""Live progress of a long recording: shown at a terminal, erased when the test ends, never
shown in a pipe, and never seen by the test (its captured output, its threads)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The slow test records until the harness has seen its progress (the file "seen"), or for
# SECONDS when nothing will look; it checks that no thread of ours is visible to it.
SUITE = """
import pathlib, threading, time

SECONDS = {seconds}

def test_quick():
    assert [1, 2] == [1, 2]

def test_slow():
    deadline = time.monotonic() + SECONDS
    total = 0
    while time.monotonic() < deadline and not pathlib.Path("seen").exists():
        total += 1
    print("the test's own output")
    assert threading.active_count() == 1

def test_after():
    assert True
"""
SLOW = "test_slow.py::test_slow"
PROGRESS = re.compile(rb"recording test_slow\.py::test_slow: ([\d,]+) steps, \d+ s")
WAIT_SECONDS = 120  # only reached on a failure


def _suite(root: Path, seconds: float) -> None:
    (root / "test_slow.py").write_text(SUITE.format(seconds=seconds))


def _command(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:rerunfailures",  # its server thread: the slow test counts threads
        "--scope",
        "-o",
        "scope_progress_after=0",
        "-rP",
        *args,
        "test_slow.py",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_a_terminal_shows_the_test_and_its_steps_then_erases_them(tmp_path: Path) -> None:
    import pty

    _suite(tmp_path, WAIT_SECONDS)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    process = subprocess.Popen(
        _command(),
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "160"},
    )
    os.close(follower)
    output = b""
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(PROGRESS.findall(output)) < 2:  # shown, then updated
            assert process.poll() is None, output
            output += _read(leader, until=deadline)
        (tmp_path / "seen").write_text("")
        while chunk := _read(leader, until=deadline):
            output += chunk
        process.wait(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    steps = [int(found.replace(b",", b"")) for found in PROGRESS.findall(output)]
    assert steps[0] <= steps[-1] and steps[-1] > 0
    # Erased before pytest wrote the test's result: back to the column, line cleared.
    last = output.rindex(b" steps, ")
    column = len("test_slow.py .") + 1  # after the quick test's dot, counted from 1
    erased = output.index(f"\x1b[{column}G\x1b[0K".encode(), last)
    assert output[erased:].lstrip(b"\x1b[0123456789GK;m").startswith(b"."), text
    assert "3 passed" in text
    # Its captured output is its own.
    captured = text.split("Captured stdout call")[1].splitlines()[1:3]
    assert captured[0] == "the test's own output", text
    assert captured[1].startswith(("-", "=")), text  # and nothing more


def _read(fd: int, until: float) -> bytes:
    """What the terminal shows next (waiting for it); b"" once the process has ended."""
    while not select.select([fd], [], [], 0.2)[0]:
        assert time.monotonic() < until, "timed out"
    try:
        return os.read(fd, 65536)
    except OSError:  # the other end closed: the process ended
        return b""


def test_a_pipe_shows_no_progress(tmp_path: Path) -> None:
    _suite(tmp_path, 1.5)  # the progress would show twice or more at a terminal
    result = subprocess.run(_command(), cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recording test_slow" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout


def test_a_bad_delay_is_a_usage_error(tmp_path: Path) -> None:
    _suite(tmp_path, 0)
    result = subprocess.run(
        [*_command()[:-2], "-o", "scope_progress_after=soon", "test_slow.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "scope_progress_after must be a number of seconds or off, not 'soon'" in result.stderr
    assert "Traceback" not in result.stderr
