"""The fixture suites have the same outcome for every test with and without ``--scope``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import FIXTURES

pytestmark = pytest.mark.slow


def _outcomes(suite: Path, *options: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(suite / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *options],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), run.stderr
    outcomes = {}
    for line in run.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "SKIPPED", "XFAIL", "XPASS", "ERROR"):
            outcomes[rest.split(" - ")[0]] = word
    return outcomes


@pytest.mark.parametrize("name", ["demo", "fidelity"])
def test_outcomes_are_the_same_under_scope(tmp_path: Path, name: str) -> None:
    suite = tmp_path / name
    shutil.copytree(FIXTURES / name, suite, ignore=shutil.ignore_patterns(".scope", "__pycache__"))
    plain = _outcomes(suite)
    recorded = _outcomes(suite, "--scope")
    assert plain, "the suite ran no tests"
    assert recorded == plain
    assert len(list((suite / ".scope" / "runs").glob("*.sqlite"))) == 1
