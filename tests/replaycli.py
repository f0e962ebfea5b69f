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
