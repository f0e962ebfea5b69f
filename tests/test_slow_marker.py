"""The rule of the ``slow`` marker (tests/conftest.py): a test without the mark that starts
a process fails and says to mark it slow, whichever way it starts the process; a test
with the mark is let through. The tests without the mark here run in ``./dev fast``, so
that the rule is checked wherever the fast tests run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.paths import TESTS

REFUSED = "but is not marked slow: mark it slow"


def refused_once(refused_starts: list[str], what: str) -> None:
    """The rule refused one start, of ``what``; cleared, so that this test's report is its
    own and not the rule's."""
    assert len(refused_starts) == 1
    assert f"starts {what} {REFUSED}" in refused_starts[0]
    refused_starts.clear()


def test_a_subprocess_fails_a_test_not_marked_slow(refused_starts: list[str]) -> None:
    with pytest.raises(pytest.fail.Exception, match=REFUSED):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    refused_once(refused_starts, "a process (subprocess)")


def test_a_fork_fails_a_test_not_marked_slow(refused_starts: list[str]) -> None:
    with pytest.raises(pytest.fail.Exception, match=REFUSED):
        child = os.fork()
        if child == 0:  # only if the rule let the fork through
            os._exit(0)
        os.waitpid(child, 0)
    refused_once(refused_starts, "a process (os.fork)")


def test_a_pytester_run_in_this_process_fails_a_test_not_marked_slow(
    pytester: pytest.Pytester, refused_starts: list[str]
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    with pytest.raises(pytest.fail.Exception, match=REFUSED):
        pytester.runpytest()
    refused_once(refused_starts, "pytest (pytester's run in this process)")


SUITE = """
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def started():
    return subprocess.run([sys.executable, "-c", "pass"]).returncode


def test_unmarked_starts_one():
    subprocess.run([sys.executable, "-c", "pass"])


def test_unmarked_uses_a_fixture_that_starts_one(started):
    pass


@pytest.mark.slow
def test_marked_starts_one():
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
"""


@pytest.mark.slow
def test_a_suite_under_the_rule_fails_only_its_unmarked_starts(pytester: pytest.Pytester) -> None:
    """The module fixture is set up by its first test, unmarked: the rule covers setup."""
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makeini(f"[pytest]\npythonpath = {TESTS}\nmarkers = slow: starts a process\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    for unmarked in ("test_unmarked_starts_one", "test_unmarked_uses_a_fixture_that_starts_one"):
        result.stdout.fnmatch_lines([f"*{unmarked} starts a process (subprocess) {REFUSED}*"])
