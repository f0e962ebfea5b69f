"""``scope-replay`` run as a user runs it: a separate process, in a directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_replay(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replay.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def replay_json(cwd: Path, *args: str) -> Any:
    """The JSON that ``scope-replay ARGS --format json`` prints; it must succeed."""
    result = run_replay(cwd, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def prompt_session(cwd: Path, test: str, *commands: str, args: tuple[str, ...] = ()) -> list[str]:
    """The output lines of a ``scope-replay TEST -i`` session that runs ``commands``, then
    ends (EOF); it must succeed and say nothing on stderr."""
    run = subprocess.run(
        [sys.executable, "-m", "replay.cli", test, "-i", *args],
        cwd=cwd,
        input="".join(command + "\n" for command in commands),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    return run.stdout.splitlines()
