"""``--scope-artifacts``, the HTML viewer's data and the CI bundle, without a browser.

The browser tests (tests/scope_replay/views/test_viewer_browser.py) open what these runs
leave behind.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from support.cart_project import make_project, pytest_run
from support.replaycli import replay_json, run_replay
from support.tracebuilder import Recording, close_traces, open_trace, write_trace
from support.viewer_pages import embedded

from pytest_scope.trace.reader import RecordedTest
from pytest_scope.trace.records import Chunk
from pytest_scope.trace.schema import (
    CONTAINER_NAMES,
    KIND_NAMES,
    LEAVING_KINDS,
    MARKS,
    RESOLVE_DEPTH,
    RESOLVE_NODES,
    Kind,
)
from replay.export.bundle import viewer_name
from replay.export.copy_tests import _within
from replay.views.html_view import render_viewer, script_json, viewer_data


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project recorded twice: test_total passes, then fails with artifacts written."""
    root = make_project(tmp_path_factory.mktemp("cart"))
    first = pytest_run(root, ok=True)
    assert first.returncode == 1, first.stdout  # test_hostile fails in both runs
    second = pytest_run(root, "--scope-artifacts", "art", "--junitxml", "junit.xml")
    assert second.returncode == 1, second.stdout + second.stderr
    (root / "summary.txt").write_text(second.stdout)
    return root


@pytest.mark.slow
def test_bundle_holds_a_viewer_per_failure_an_index_and_trimmed_traces(bundle: Path) -> None:
    art = bundle / "art"
    viewers = sorted(path.name for path in art.glob("*.html") if path.name != "index.html")
    assert viewers == sorted(
        [viewer_name("test_cart.py::test_total"), viewer_name("test_cart.py::test_hostile")]
    )
    index = (art / "index.html").read_text()
    for name in viewers:
        assert f'href="{name}"' in index
    assert "&lt;img src=x" in index  # the exception message, escaped
    assert "<img" not in index
    assert "<script" not in index
    runs = sorted((art / "runs").glob("*.sqlite"))
    assert len(runs) == 2  # this run's failures, and the run holding test_total's last pass


@pytest.mark.slow
def test_trimmed_traces_replay_with_the_diff(bundle: Path) -> None:
    art = bundle / "art"
    tests = replay_json(bundle, "--list", "--dir", str(art))["tests"]
    assert {test["nodeid"] for test in tests} == {
        "test_cart.py::test_total",
        "test_cart.py::test_hostile",
    }
    assert {test["outcome"] for test in tests} == {"failed"}
    state = replay_json(bundle, "test_total", "--dir", str(art))
    assert state["diff"] is not None
    assert any(change["path"] == "expected" for change in state["diff"]["changes"])


@pytest.mark.slow
def test_viewer_embeds_the_diff_and_divergence(bundle: Path) -> None:
    data = embedded(bundle / "art" / viewer_name("test_cart.py::test_total"))
    assert data["test"] == "test_cart.py::test_total"
    assert data["open_step"] == data["failure_step"]
    assert data["diff"] is not None and data["diff"]["changes"]
    assert data["divergence"]["by"] == "value"
    hostile = embedded(bundle / "art" / viewer_name("test_cart.py::test_hostile"))
    assert hostile["diff"] is None
    assert "no passing recording" in hostile["note"]


@pytest.mark.slow
def test_summary_names_the_directory_and_its_size(bundle: Path) -> None:
    summary = (bundle / "summary.txt").read_text()
    assert re.search(r"artifacts: art \(\d+\.\d MB\): 2 viewer\(s\)", summary), summary


@pytest.mark.slow
def test_junit_xml_names_each_failed_tests_viewer(bundle: Path) -> None:
    junit = (bundle / "junit.xml").read_text()
    for nodeid in ("test_cart.py::test_total", "test_cart.py::test_hostile"):
        assert f'<property name="scope_viewer" value="art/{viewer_name(nodeid)}" />' in junit
    assert junit.count("scope_viewer") == 2


@pytest.mark.slow
def test_a_green_run_leaves_no_artifacts_and_removes_the_last_ones(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    red = pytest_run(root, "--scope-artifacts", "art", "-k", "test_total")
    assert red.returncode == 1
    assert (root / "art" / "index.html").is_file()
    (root / "art" / "notes.txt").write_text("mine")  # not ours: stays
    green = pytest_run(root, "--scope-artifacts", "art", "-k", "test_total", ok=True)
    assert green.returncode == 0, green.stdout
    assert "artifacts: none in art (no recorded test failed)" in green.stdout
    assert sorted(path.name for path in (root / "art").iterdir()) == ["notes.txt"]
    (root / "art" / "notes.txt").unlink()
    again = pytest_run(root, "--scope-artifacts", "art", "-k", "test_passes")
    assert again.returncode == 0
    assert not (root / "art").exists()


@pytest.mark.slow
def test_ini_setting_and_budget(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "pytest.ini").write_text("[pytest]\nscope_artifacts = ci-art\nscope_artifacts_mb = 1\n")
    result = pytest_run(root, "-k", "test_total")
    assert result.returncode == 1
    assert (root / "ci-art" / viewer_name("test_cart.py::test_total")).is_file()
    (root / "pytest.ini").write_text("[pytest]\nscope_artifacts = ci-art\nscope_artifacts_mb = x\n")
    result = pytest_run(root, "-k", "test_total")
    assert result.returncode == 4
    assert "scope_artifacts_mb must be a positive whole number, not 'x'" in result.stderr


def _test(first_step: int = 1, failure_step: int | None = None) -> RecordedTest:
    return RecordedTest(1, "t", 1, "failed", 100, first_step, first_step - 1, failure_step, None)


def test_the_budget_keeps_the_newest_chunks_and_the_failure() -> None:
    stored = [Chunk(n * 10 + 1, n * 10 + 10, b"x" * 100) for n in range(10)]
    kept = _within(stored, _test(failure_step=100), 350)
    assert [chunk.first_step for chunk in kept] == [71, 81, 91]
    assert _within(stored, _test(failure_step=55), 350)[0].first_step == 51
    assert len(_within(stored, _test(), 10)) == 1  # at least the last chunk


def test_embedded_json_cannot_end_its_script_element() -> None:
    hostile = "</script><script>alert(1)</script><!-- & \u2028\u2029"
    text = script_json({"value": hostile})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"value": hostile}


def test_embedded_json_holds_a_lone_surrogate_as_its_escape() -> None:
    """A recorded str may hold a lone surrogate, which UTF-8 (the page's encoding) cannot:
    the page's JSON escapes it, and reads back the same str."""
    document = {"name": "caf\udce9.txt"}
    text = script_json(document)
    text.encode("utf-8")
    assert json.loads(text) == document


def test_viewer_page_has_one_script_and_a_strict_policy(tmp_path: Path) -> None:
    rec = Recording()
    rec.event(Kind.CALL, line=10, l={"x": "</script><script>{{script}}"})
    rec.event(Kind.EXCEPTION, line=11, x={"$type": "AssertionError", "attrs": {"args": []}})
    path = write_trace(tmp_path / "run.sqlite", {"t": rec}, outcomes={"t": "failed"})
    try:
        trace = open_trace(path)
        (test,) = trace.tests()
        page = render_viewer(viewer_data(trace, test))
    finally:
        close_traces()
    assert page.count("<script") == 2  # the data (JSON, inert) and the viewer
    assert page.count("</script>") == 2
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    assert "default-src 'none'" in policy.group(1)
    assert "unsafe-inline" not in policy.group(1)
    assert "connect-src 'none'" in policy.group(1)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched


def test_the_viewer_reads_the_trace_format_from_the_schema(tmp_path: Path) -> None:
    """The page carries the kinds, marks, containers and resolution bounds of
    ``pytest_scope.trace.schema``, and viewer.js holds no copy of them to drift."""
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    path = write_trace(tmp_path / "run.sqlite", {"t": rec})
    try:
        trace = open_trace(path)
        (test,) = trace.tests()
        data = viewer_data(trace, test)
    finally:
        close_traces()
    assert data["trace_format"] == {
        "kinds": list(KIND_NAMES),
        "leaving": sorted(LEAVING_KINDS),
        "marks": list(MARKS),
        "containers": list(CONTAINER_NAMES),
        "resolve_depth": RESOLVE_DEPTH,
        "resolve_nodes": RESOLVE_NODES,
    }
    # The script finds a kind's number by its name.
    assert [getattr(Kind, name.upper()) for name in KIND_NAMES] == list(range(len(KIND_NAMES)))
    script = (
        resources.files("replay.views.viewer").joinpath("viewer.js").read_text(encoding="utf-8")
    )
    listed = (*KIND_NAMES, *MARKS, *filter(None, CONTAINER_NAMES))
    names = "|".join(re.escape(json.dumps(name)) for name in listed)
    assert not re.search(rf"\[\s*({names})\s*,", script)  # no list of kinds, marks, containers
    constants = "|".join(name.upper() for name in (*KIND_NAMES, "resolve_depth", "resolve_nodes"))
    assert not re.search(rf"\b({constants})\s*=\s*\d", script)


@pytest.mark.slow
def test_scope_replay_html_writes_a_viewer_at_a_step(bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "view.html"
    result = run_replay(bundle, "test_total", "--html", str(target), "--step", "3")
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    data = embedded(target)
    assert data["open_step"] == 3
    assert data["diff"]["step"] >= 1
    result = run_replay(bundle, "test_total", "--html", str(target), "--step", "99999")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "out of range" in result.stderr


@pytest.mark.slow
def test_writing_the_viewers_shows_progress(bundle: Path, tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console
    from rich.progress import Progress

    from replay.export.bundle import write_bundle

    runs = sorted((bundle / ".scope" / "runs").glob("*.sqlite"), key=lambda p: p.stat().st_mtime)
    run = runs[-1]  # the second run: both tests failed
    shown = StringIO()
    console = Console(file=shown, force_terminal=True, width=100)
    with Progress(console=console) as progress:
        written = write_bundle(run, [run], tmp_path / "again", 10**7, progress)
    assert len(written.failures) == 2
    (task,) = progress.tasks
    assert (task.completed, task.total) == (2, 2)
    assert "pytest-scope: viewers" in shown.getvalue()
