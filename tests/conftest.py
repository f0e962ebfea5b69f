"""Fixtures that several test modules share, and the rule of the ``slow`` marker.

A test that starts a process (pytest in any form, pytester's in-process runs included,
``scope-replay``, a browser) is marked ``slow``, so that ``./dev fast`` (``-m "not slow"``)
stays fast. The rule checks itself: while a test without the mark is set up, runs and is
torn down, starting a process or a pytester run fails it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from support.recordings import record_demo

# The properties here are about what the code computes, not how fast: on a shared machine
# with the suite spread over its cores, an example can take longer than Hypothesis's
# default deadline of 200 ms without anything being wrong.
settings.register_profile("pytest-scope", deadline=None)
settings.load_profile("pytest-scope")

# Every way a test here could start a process: subprocess (asyncio's subprocesses and
# Playwright's browser included) ends in Popen._execute_child; pty and multiprocessing
# fork through os. Pytester's in-process runs start pytest without a process.
_PROCESS_STARTS: list[tuple[object, str, str]] = [
    (subprocess.Popen, "_execute_child", "a process (subprocess)"),
    *(
        (os, name, f"a process (os.{name})")
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system")
    ),
    (pytest.Pytester, "inline_run", "pytest (pytester's run in this process)"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/demo recorded once per module: ``test_ship_takes_every_line`` fails."""
    root = tmp_path_factory.mktemp("demo")
    record_demo(root)
    return root


# What the rule refused during the current phase of a test: library code may catch or
# turn the failure into another error (Playwright does), so the report says it again.
_REFUSALS = pytest.StashKey[list[str]]()


@pytest.fixture
def refused_starts(request: pytest.FixtureRequest) -> list[str]:
    """The rule's messages so far in this phase of a test not marked slow; the rule's own
    tests clear it once they have checked the refusal they caused."""
    return request.node.stash[_REFUSALS]


def _refused(item: pytest.Item, what: str) -> Callable[..., Any]:
    def refuse(*args: object, **kwargs: object) -> Any:
        message = (
            f"{item.nodeid} starts {what} but is not marked slow: mark it slow "
            "(@pytest.mark.slow, or pytestmark = pytest.mark.slow for the whole module) "
            "so that ./dev fast leaves it out"
        )
        item.stash[_REFUSALS].append(message)
        pytest.fail(message, pytrace=False)

    return refuse


@contextmanager
def processes_refused(item: pytest.Item) -> Iterator[None]:
    """Starting a process fails ``item`` inside this block."""
    item.stash[_REFUSALS] = []
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, what in _PROCESS_STARTS:
            if hasattr(owner, name):
                patch.setattr(owner, name, _refused(item, what))
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Setup too: a module's fixture that records is set up by its first test."""
    if item.get_closest_marker("slow") is not None:
        return (yield)
    with processes_refused(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, object]:
    """A phase in which a process start was refused fails with the rule's message, whatever
    became of the failure raised in the test."""
    report = yield
    refusals = item.stash.get(_REFUSALS, [])
    if refusals:
        report.outcome = "failed"
        report.longrepr = "\n".join(dict.fromkeys(refusals))
        refusals.clear()
    return report
