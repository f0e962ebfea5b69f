"""Comparisons of small projects shaped like the real code where the comparison misled:
each is recorded with ``pytest --scope`` in a process of its own, as a user records it,
and read back with ``scope-replay``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from recordings import run_pytest
from replaycli import replay_json

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
