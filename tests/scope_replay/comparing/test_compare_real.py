"""Comparisons of small projects shaped like the real code where the comparison misled:
each is recorded with ``pytest --scope`` in a process of its own, as a user records it,
and read back with ``scope-replay``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.recordings import run_pytest
from support.replaycli import replay_json, run_replay

pytestmark = pytest.mark.slow

COPIES = """
import copy


class Field:
    def __init__(self, name):
        self.name = name
        self.tags = ["a"]

    def __deepcopy__(self, memo):
        new = Field(self.name)
        new.tags = copy.deepcopy(self.tags, memo)
        return new


def test_copy():
    field = Field("x")
    copied = copy.deepcopy(field)
    assert copied.tags == ["a"]
"""


def _project(root: Path, **files: str) -> Path:
    for name, text in files.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def _record(root: Path, *args: str, env: dict[str, str] | None = None) -> int:
    run = run_pytest(root, *args, env={**os.environ, **(env or {})})
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return run.returncode


def _step(root: Path, test: str, kind: str, function: str) -> int:
    """The last step of ``test`` in its newest run that is a ``kind`` event in ``function``."""
    rows: list[dict[str, Any]] = replay_json(root, test, "--timeline")
    return max(r["step"] for r in rows if r["kind"] == kind and r["function"] == function)


def test_addresses_in_a_deepcopy_memo_are_set_aside_and_said_so(tmp_path: Path) -> None:
    root = _project(tmp_path, test_copies=COPIES)
    assert _record(root) == 0
    assert _record(root) == 0
    step = _step(root, "test_copy", "return", "Field.__deepcopy__")
    diff = replay_json(root, "test_copy", "--step", str(step))["diff"]
    assert diff["exact"] is True
    assert diff["changes"] == []
    memo = [record for record in diff["set_aside"] if record["path"].startswith("memo")]
    assert memo and {record["reason"] for record in memo} == {"address"}


BLOG = """
import os


def make_blog(owner):
    return {"title": f"{owner}'s blog"}


def test_blog():
    blog = make_blog("Monty")
    if os.environ.get("BLOG_ACCOUNT") == "1":
        account = {"password": "Monty"}  # the recorder learns "Monty" as a secret
    assert os.environ.get("BLOG_BROKEN") != "1"
"""


def test_a_value_redacted_in_the_passing_run_only_is_no_difference(tmp_path: Path) -> None:
    root = _project(tmp_path, test_blog=BLOG)
    assert _record(root, env={"BLOG_ACCOUNT": "1"}) == 0
    assert _record(root, env={"BLOG_BROKEN": "1"}) == 1
    diff = replay_json(root, "test_blog")["diff"]
    assert [change["path"] for change in diff["changes"]] == ["account", "(exception)"]
    assert [(record["path"], record["reason"]) for record in diff["set_aside"]] == [
        ("blog['title']", "redacted")
    ]


LOADS = """
import os

import pytest


def load(text):
    if text == "bad" or (os.environ.get("LOAD_BROKEN") == "1" and text == "good"):
        raise ValueError(text)
    return text


def test_load():
    first = load("good")
    with pytest.raises(ValueError):
        load("bad")
"""


def test_a_raise_in_another_call_is_not_the_same_step(tmp_path: Path) -> None:
    """The failing run raises in the test's first ``load()``; the passing run raises only
    in its second, inside ``pytest.raises``: the two raises are not the same step."""
    root = _project(tmp_path, test_loads=LOADS)
    assert _record(root) == 0
    assert _record(root, env={"LOAD_BROKEN": "1"}) == 1
    state = replay_json(root, "test_load")
    assert (state["event"]["kind"], state["event"]["function"]) == ("exception", "load")
    diff = state["diff"]
    assert diff["exact"] is False
    # The last step alike is the check of the first load(); from there this run raised
    # and the passing run returned.
    assert (diff["parted"]["this"]["line"], diff["parted"]["against"]["line"]) == (9, 10)
    assert diff["parted"]["this"]["function"] == diff["parted"]["against"]["function"] == "load"
    text = " ".join(run_replay(root, "test_load").stdout.split())
    assert "the same step" not in text
    assert "the last step both runs did alike" in text


def _runs(root: Path) -> list[str]:
    """The run ids of the scope directory, oldest first."""
    return sorted(path.stem for path in (root / ".scope" / "runs").glob("*.sqlite"))


def test_two_green_runs_of_unchanged_code_never_diverge(tmp_path: Path) -> None:
    """Their recorded payloads differ (deepcopy's memo is keyed by addresses), but no state
    differs in what a view shows."""
    root = _project(tmp_path, test_copies=COPIES)
    assert _record(root) == 0
    assert _record(root) == 0
    first, second = _runs(root)
    report = replay_json(root, "test_copy", "--run", second, "--against", first, "--diverge")
    assert (report["by"], report["changes"]) == (None, [])
    assert report["this"]["step"] is None and report["against"]["step"] is None


def test_a_last_pass_recorded_under_another_rootdir_is_found(tmp_path: Path) -> None:
    """pytest's rootdir moved up a directory between the runs: the test's node id gained
    a path in front, and it is still the same test."""
    (tmp_path / "proj").mkdir()
    root = _project(tmp_path / "proj", test_loads=LOADS)
    scope = f"--scope-dir={root / '.scope'}"
    assert _record(root, scope, f"--rootdir={root}") == 0
    assert _record(root, scope, f"--rootdir={tmp_path}", env={"LOAD_BROKEN": "1"}) == 1
    first, second = _runs(root)
    state = replay_json(root, "test_load", "--run", second)
    assert state["test"] == "proj/test_loads.py::test_load"
    assert state["diff"]["against"] == first


def test_the_last_pass_is_taken_from_a_run_of_the_same_plan(tmp_path: Path) -> None:
    root = _project(tmp_path, test_loads=LOADS)
    assert _record(root) == 0
    assert _record(root, "--scope-level", "calls") == 0  # the newest pass, another plan
    assert _record(root, env={"LOAD_BROKEN": "1"}) == 1
    same_plan, _, broken = _runs(root)
    diff = replay_json(root, "test_load", "--run", broken)["diff"]
    assert diff["against"] == same_plan
    assert diff["plans"] is None


def test_a_last_pass_of_another_plan_is_compared_on_what_both_record(tmp_path: Path) -> None:
    """Only a pass recorded at ``--scope-level calls`` is kept: the test file has no line
    steps there. The comparison says the plans differ and reads calls, returns and
    exceptions: the runs part ways in ``load``, where the broken run raised."""
    root = _project(tmp_path, test_loads=LOADS)
    assert _record(root, "--scope-level", "calls") == 0
    broken = run_pytest(root, env={**os.environ, "LOAD_BROKEN": "1"})
    assert broken.returncode == 1
    assert "the plans differ" in " ".join(broken.stdout.split())
    report = replay_json(root, "test_load", "--diverge")
    assert "the plans differ" in report["plans"] and "level calls" in report["plans"]
    assert report["by"] == "control flow"
    assert report["this"]["event"]["function"] == report["against"]["event"]["function"] == "load"
    assert (report["this"]["event"]["kind"], report["against"]["event"]["kind"]) == (
        "exception",
        "return",
    )
    assert replay_json(root, "test_load")["diff"]["plans"] == report["plans"]
    text = " ".join(run_replay(root, "test_load", "--diverge").stdout.split())
    assert f"Note: {report['plans']}" in text
