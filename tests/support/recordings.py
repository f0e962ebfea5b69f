"""Fixture projects recorded with ``pytest --scope`` in a subprocess, as a user records them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.paths import FIXTURES

# What a run in the fixture itself leaves there (./dev demo records in fixtures/demo).
_LEFT_BY_RUNS = shutil.ignore_patterns(".scope", "__pycache__")


def run_pytest(
    root: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pytest --scope ARGS`` in ``root``, in a process of its own with ``env`` (default:
    this one's environment), as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope", *args],
        cwd=root,
        env=os.environ if env is None else env,
        capture_output=True,
        text=True,
    )


def python_path(*directories: Path) -> str:
    """A PYTHONPATH of ``directories`` ahead of the one this process has, which may name
    the code under test (a checkout other than the installed one): a recording made with
    the installed recorder would not be the code under test's format."""
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*map(str, directories), *([inherited] if inherited else [])])


def record(root: Path, *args: str, env: dict[str, str] | None = None) -> int:
    """Run ``pytest --scope ARGS`` in ``root``; its exit code (0 or 1, else the test fails)."""
    run = run_pytest(root, *args, env={**os.environ, **(env or {})})
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return run.returncode


def copy_fixture(name: str, root: Path) -> None:
    """fixtures/NAME into ``root``, without what runs in it left behind."""
    shutil.copytree(FIXTURES / name, root, dirs_exist_ok=True, ignore=_LEFT_BY_RUNS)


def record_demo(root: Path) -> None:
    """fixtures/demo in ``root``, recorded: ``test_ship_takes_every_line`` fails."""
    shutil.copytree(FIXTURES / "demo", root, dirs_exist_ok=True, ignore=_LEFT_BY_RUNS)
    assert record(root, env={"PYTHONPATH": python_path(root / "src")}) == 1


def record_compare(root: Path) -> None:
    """fixtures/compare's test_price in ``root``, recorded passing, then broken."""
    shutil.copytree(FIXTURES / "compare", root, dirs_exist_ok=True, ignore=_LEFT_BY_RUNS)
    assert record(root, "-k", "price", env={"COMPARE_BROKEN": "0"}) == 0
    assert record(root, "-k", "price", env={"COMPARE_BROKEN": "1"}) == 1


def record_history(root: Path) -> None:
    """fixtures/history in ``root``, recorded: its one test fails, after callees changed its
    list and dict under their own names."""
    shutil.copytree(FIXTURES / "history", root, dirs_exist_ok=True, ignore=_LEFT_BY_RUNS)
    assert record(root) == 1


def record_containers(root: Path) -> None:
    """fixtures/containers in ``root``, recorded: its one test fails with every kind of
    container in its locals."""
    copy_fixture("containers", root)
    assert record(root) == 1


def record_caught(root: Path) -> None:
    """fixtures/caught in ``root``, recorded: its test catches three exceptions, then calls
    ``total`` and fails."""
    copy_fixture("caught", root)
    assert record(root) == 1
