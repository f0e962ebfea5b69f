"""The demo tells the whole story, as ``./dev demo`` runs it, in under a minute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import FIXTURES
from support.recordings import python_path
from support.viewer_pages import embedded

pytestmark = pytest.mark.slow

DEMO = FIXTURES / "demo"


def test_the_demo_shows_the_failure_its_diff_the_divergence_and_a_viewer(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo, ignore=shutil.ignore_patterns(".scope", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": python_path(demo / "src")}
    env.pop("INVENTORY_VERSION", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "demo.py"], cwd=demo, env=env, capture_output=True, text=True
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "5 passed" in out  # version 1.0
    assert "1 failed, 4 passed" in out  # version 1.1
    assert "exception in test_ship_takes_every_line" in out  # the failure point
    assert "Compared with run" in out  # the diff with the last pass
    assert "The runs part ways by value" in out
    viewer = demo / ".scope" / "demo-viewer.html"
    assert f"The viewer is at {viewer}" in out
    data = embedded(viewer)
    assert data["outcome"] == "failed"
    assert data["diff"]["changes"] and data["divergence"]["by"] == "value"
