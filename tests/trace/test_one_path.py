"""One file, however its path is spelled: recordings of it compare as one file.

A suite whose ``tests/context.py`` puts ``tests/..`` on ``sys.path`` imports
``tests/../pkg/mod.py`` when one test file runs and ``pkg/mod.py`` otherwise. Both runs
must record ``pkg/mod.py``, and comparing them must find the real difference, not a call
to ``SortedList.__new__`` against ``SortedList.__new__``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from support.replaycli import replay_json, run_replay

from pytest_scope.trace.paths import project_path

MODULE = """
class Bag:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        if BROKEN:
            self.items.append(item)
        return len(self.items)

BROKEN = False
"""

TEST = """
import os
import sys

sys.path.insert(0, os.environ["SPELLING"])
import pkg.mod

def test_add():
    pkg.mod.BROKEN = os.environ.get("BROKEN") == "1"
    bag = pkg.mod.Bag()
    count = bag.add(3)
    assert count == 1
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, spelling: str, broken: bool
) -> pytest.RunResult:
    monkeypatch.setenv("SPELLING", spelling)
    monkeypatch.setenv("BROKEN", "1" if broken else "0")
    return pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")


@pytest.mark.slow
def test_two_spellings_of_a_path_are_one_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.mkpydir("pkg").joinpath("mod.py").write_text(MODULE)
    pytester.mkdir("tests").joinpath("test_bag.py").write_text(TEST)
    root = pytester.path
    _run(pytester, monkeypatch, str(root / "tests" / ".."), broken=False).assert_outcomes(passed=1)
    _run(pytester, monkeypatch, str(root), broken=True).assert_outcomes(failed=1)
    for trace in (root / ".scope" / "runs").glob("*.sqlite"):
        with closing(sqlite3.connect(trace)) as db:
            names = {
                row[0]
                for table in ("codes", "sources")
                for row in db.execute(f"SELECT filename FROM {table}")
            }
        assert str(root / "pkg" / "mod.py") in names
        assert not any(".." in Path(name).parts for name in names), names

    report = replay_json(root, "test_add", "--diverge")
    assert report["by"] == "value", report
    assert report["this"]["stack"][-1]["function"] == "Bag.add"
    state = replay_json(root, "test_add")
    paths = [change["path"] for change in state["diff"]["changes"]]
    assert "(function)" not in paths, state["diff"]
    text = run_replay(root, "test_add", "--diverge")
    assert "part ways by value" in text.stdout, text.stdout + text.stderr


def test_a_project_file_is_one_file_in_two_checkouts() -> None:
    assert project_path("/ci/b1/pkg/../pkg/mod.py", "/ci/b1") == "pkg/mod.py"
    assert project_path("/ci/b2/pkg/mod.py", "/ci/b2/") == "pkg/mod.py"
    assert project_path("/v/lib/python3.13/site-packages/x/y.py", "/ci/b1") == (
        "site-packages/x/y.py"
    )
    assert project_path("/elsewhere/z.py", "/ci/b1") == "/elsewhere/z.py"
    assert project_path("<string>", "/ci/b1") == "<string>"
