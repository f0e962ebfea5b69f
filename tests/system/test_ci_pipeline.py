"""A CI pipeline played end to end: on a fresh runner the last pass comes from a baseline.

Build 1 runs on "main" in its own checkout, all green; a later commit there (its tests file
changed) fails ``test_restock``. The export of that scope directory (what a CI cache saves)
is one trace file holding each test's latest pass, from two runs. Build 2 runs in a fresh
checkout with an empty scope directory, restores the baseline and fails a test. Its
summary, its artifacts' index and viewer, and ``scope-replay --dir`` on the artifacts all
show the diff with build 1's pass and say which build that pass came from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.recordings import run_pytest
from support.replaycli import replay_json, run_replay
from support.viewer_pages import embedded

from replay.export.bundle import viewer_name

pytestmark = pytest.mark.slow

STOCK = """
def restock(levels, sku, count):
    levels[sku] = levels.get(sku, 0) + count
    if BROKEN:
        levels[sku] -= 1
    return levels[sku]

BROKEN = False
"""

SUITE = """
import os

import stock


def test_restock():
    stock.BROKEN = os.environ.get("STOCK_BROKEN") == "1"
    levels = {"plum": 2}
    after = stock.restock(levels, "plum", 3)
    assert after == 5


def test_unrelated():
    assert sorted([3, 1, 2]) == [1, 2, 3]
"""

TEST = "test_stock.py::test_restock"


def _checkout(root: Path, branch: str) -> str:
    """A git checkout of the project on ``branch``; its commit."""
    root.mkdir()
    (root / "stock.py").write_text(STOCK)
    (root / "test_stock.py").write_text(SUITE)
    subprocess.run(["git", "init", "-q", "-b", branch], cwd=root, check=True)
    return _commit(root)


def _commit(root: Path) -> str:
    """Commit what changed in the checkout at ``root``; the commit."""
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    for command in (["add", "."], ["commit", "-qm", "build"]):
        subprocess.run([*git, *command], cwd=root, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    )
    return head.stdout.strip()


def _pytest(root: Path, *args: str, broken: bool) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "CI_COMMIT"))
    }
    env["STOCK_BROKEN"] = "1" if broken else "0"
    return run_pytest(root, *args, env=env)


def test_a_fresh_runner_compares_with_the_baseline_of_main(tmp_path: Path) -> None:
    commit = _checkout(tmp_path / "build1", "main")
    green = _pytest(tmp_path / "build1", broken=False)
    assert green.returncode == 0, green.stdout + green.stderr
    (run1,) = [path.stem for path in (tmp_path / "build1" / ".scope" / "runs").glob("*.sqlite")]
    suite = tmp_path / "build1" / "test_stock.py"
    suite.write_text("# the suite, moved down a line\n" + SUITE)
    later = _commit(tmp_path / "build1")
    red_on_main = _pytest(tmp_path / "build1", broken=True)
    assert red_on_main.returncode == 1, red_on_main.stdout + red_on_main.stderr
    runs = {path.stem for path in (tmp_path / "build1" / ".scope" / "runs").glob("*.sqlite")}
    (run2,) = runs - {run1}
    exported = run_replay(tmp_path / "build1", "--export-baseline", str(tmp_path / "cache"))
    assert exported.returncode == 0, exported.stderr
    assert "2 passing recording(s)" in exported.stdout
    # One file, named and ordered as the newest run; each pass keeps its own build.
    assert [path.name for path in (tmp_path / "cache" / "runs").iterdir()] == [f"{run2}.sqlite"]
    listed = replay_json(tmp_path, "--list", "--dir", str(tmp_path / "cache"))
    assert sorted(test["nodeid"] for test in listed["tests"]) == [
        TEST,
        "test_stock.py::test_unrelated",
    ]
    unrelated = run_replay(tmp_path, "test_unrelated", "--dir", str(tmp_path / "cache"))
    assert f"run {run2}" in unrelated.stdout, unrelated.stdout
    restock = run_replay(tmp_path, TEST, "--dir", str(tmp_path / "cache"))
    assert f"run {run1}" in restock.stdout, restock.stdout
    # Its source as its run had it: the line shown is the line that ran.
    (current,) = [line for line in restock.stdout.splitlines() if line.startswith("❱")]
    assert "assert after == 5" in current, restock.stdout

    _checkout(tmp_path / "build2", "feature")
    shutil.copytree(tmp_path / "cache", tmp_path / "build2" / "ci-baseline")  # restored
    red = _pytest(
        tmp_path / "build2",
        "--scope-baseline=ci-baseline",  # one word, as the documented workflows write it
        "--scope-artifacts=art",
        broken=True,
    )
    assert red.returncode == 1, red.stdout + red.stderr
    build1 = f"run {run1} attempt 1 (commit {commit[:12]} on main)"
    assert f"compared with its last pass (baseline): {build1}" in red.stdout

    art = tmp_path / "build2" / "art"
    index = (art / "index.html").read_text()
    assert f"{build1}, runs/{run2}.sqlite" in index
    assert later[:12] not in index
    report = replay_json(art, TEST, "--dir", ".", "--diverge")
    assert (report["by"], report["against"]["run"]) == ("value", run1)
    first = f"step {report['this']['step']}, by value: test_restock: levels[&#x27;plum&#x27;] 4"
    assert f"{first} (was 5)" in index
    data = embedded(art / viewer_name(TEST))
    assert data["diff"]["against"] == run1
    assert data["against_build"] == f"{build1}, {run2}.sqlite"
    assert data["divergence"]["by"] == "value"
    after = [change for change in data["diff"]["changes"] if change["path"] == "after"]
    assert [(change["this"], change["against"]) for change in after] == [(4, 5)]
    here = replay_json(tmp_path / "build2", TEST)  # in the project: the baseline it was given
    assert here["diff"]["against"] == run1
    text = run_replay(tmp_path / "build2", TEST)
    assert f"(that recording: {build1}," in " ".join(text.stdout.split()), text.stdout
    state = replay_json(art, TEST, "--dir", ".")
    assert state["diff"]["against"] == run1
    assert any(change["path"] == "after" for change in state["diff"]["changes"])


def test_without_a_baseline_the_summary_says_so(tmp_path: Path) -> None:
    _checkout(tmp_path / "build", "feature")
    (tmp_path / "build" / "pytest.ini").write_text("[pytest]\nscope_baseline = not-restored\n")
    red = _pytest(tmp_path / "build", broken=True)
    assert red.returncode == 1, red.stdout + red.stderr
    assert "no last pass to compare with in .scope or the 0 baseline trace file(s)" in red.stdout
