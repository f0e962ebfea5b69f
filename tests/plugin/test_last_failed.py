"""``--scope-last-failed``: every test runs, only those that failed last time are recorded."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SUITE = """
import os

def test_passes():
    assert True

def test_fails_once():
    assert os.path.exists("fixed"), "not fixed yet"

def test_always_fails():
    assert 1 == 2
"""


def _recorded(root: Path) -> list[set[str]]:
    """The node ids in each run's trace file, oldest run first."""
    runs = []
    for path in sorted((root / ".scope" / "runs").glob("*.sqlite")):
        with closing(sqlite3.connect(path)) as db:
            runs.append({nodeid for (nodeid,) in db.execute("SELECT nodeid FROM tests")})
    return runs


def test_only_the_tests_that_failed_last_time_are_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lf=SUITE)
    pytester.runpytest_subprocess().assert_outcomes(passed=1, failed=2)
    (pytester.path / "fixed").touch()
    result = pytester.runpytest_subprocess("--scope", "--scope-last-failed")
    result.assert_outcomes(passed=2, failed=1)  # every test ran
    assert _recorded(pytester.path) == [
        {"test_lf.py::test_fails_once", "test_lf.py::test_always_fails"}
    ]
    result.stdout.fnmatch_lines(
        [
            "recorded 2 tests, * steps *",
            "--scope-last-failed: recorded only the tests that failed last time (2 in *cache)",
        ]
    )
    pytester.makeini("[pytest]\nscope = true\nscope_last_failed = true\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=2, failed=1)
    assert _recorded(pytester.path)[-1] == {"test_lf.py::test_always_fails"}


def test_no_failures_last_time_records_none_and_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("--scope", "--scope-last-failed")
    result.assert_outcomes(passed=1)
    assert _recorded(pytester.path) == [set()]
    result.stdout.fnmatch_lines(
        [
            "recorded 0 tests, 0 steps *",
            "--scope-last-failed: no test failed last time (pytest's cache), none recorded",
        ]
    )


def test_without_the_cache_provider_it_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--scope", "--scope-last-failed", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--scope-last-failed needs pytest's cache provider*"])
    assert not (pytester.path / ".scope").exists()
