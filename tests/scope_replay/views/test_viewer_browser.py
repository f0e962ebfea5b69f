"""The HTML viewer in a real browser: Debian's Chromium, driven by Playwright.

``.ci/run`` installs ``/usr/bin/chromium``; on a machine without it these tests skip and
say why. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import CHROMIUM, Viewer
from support.cart_project import make_project, pytest_run
from support.recordings import FIXTURES, record, record_history
from support.replaycli import replay_json, run_replay
from support.viewer_pages import embedded

from pytest_scope.trace.schema import MARKS
from replay.export.bundle import viewer_name
from replay.reading.references import References
from replay.reading.value_history import seen_text
from replay.views.html_view import STEP_DIFFS

PREVIEW_ITEMS = 8

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium; "
        ".ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("viewer"))
    first = pytest_run(root, ok=True)
    assert first.returncode == 1, first.stdout
    second = pytest_run(root, "--scope-artifacts", "art")
    assert second.returncode == 1, second.stdout + second.stderr
    return root


def scalar_text(value: Any) -> str:
    """The viewer's text of a scalar (JavaScript's number and JSON string spelling)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def short_text(value: Any) -> str:
    """The viewer's one-line text of a recorded value (viewer.js shortText)."""
    if not isinstance(value, list | dict):
        return scalar_text(value)
    if isinstance(value, list):
        if len(value) <= PREVIEW_ITEMS and all(not isinstance(v, list | dict) for v in value):
            return "[" + ", ".join(scalar_text(v) for v in value) + "]"
        return f"[{len(value)} items]"
    for mark, text in (("$redacted", "<redacted>"), ("$cycle", "<cycle>")):
        if mark in value:
            return text
    if "$depth" in value:
        return "<nested too deep>"
    truncated = f" (of {value['$truncated']})" if "$truncated" in value else ""
    if "$type" not in value:
        keys = [key for key in value if key not in MARKS]
        if len(keys) <= PREVIEW_ITEMS and all(not isinstance(value[k], list | dict) for k in keys):
            inner = ", ".join(
                f"{json.dumps(k, ensure_ascii=False)}: {scalar_text(value[k])}" for k in keys
            )
            return "{" + inner + "}" + truncated
        return f"{{{len(keys)} keys}}" + truncated
    if value["$type"] == "str" and isinstance(value.get("repr"), str):
        return json.dumps(value["repr"], ensure_ascii=False) + "\u2026" + truncated
    text = str(value["$type"])
    if "repr" in value:
        text += " " + str(value["repr"])
    if isinstance(value.get("attrs"), dict):
        text += f" {{{len(value['attrs'])} attrs}}"
    items = value.get("items")
    if isinstance(items, list):
        if len(items) <= PREVIEW_ITEMS and all(not isinstance(v, list | dict) for v in items):
            text += " [" + ", ".join(scalar_text(v) for v in items) + "]"
        else:
            text += f" [{len(items)} items]"
    return text + truncated


def test_locals_shown_at_each_step_equal_scope_replay(
    browser: Any, project: Path, tmp_path: Path
) -> None:
    viewer = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    visited = [viewer.step]
    failure = replay_json(project, "test_total", "--step", str(visited[0]))
    assert failure["event"]["kind"] == "exception"  # opens at the failure point
    for key in ("Home", "ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowRight"):
        visited.append(viewer.press(key))
    for key in ("ArrowRight",) * 4 + ("Shift+ArrowDown", "End", "f", "ArrowLeft"):
        visited.append(viewer.press(key))
    assert visited[1] == 1
    assert visited[2:5] == [2, 3, 4]
    assert len(set(visited)) >= 8
    for position, step in enumerate(visited):
        if position in (0, 3, 5, 9, len(visited) - 1) or position == len(visited) - 3:
            viewer.page.evaluate(f"window.scopeViewer.go({step})")
            expected = replay_json(project, "test_total", "--step", str(step))
            state = viewer.state()
            assert state["step"] == step
            assert state["event"] == expected["event"]
            assert state["stack"] == expected["stack"]
            assert state["exception"] == expected["exception"]
            assert state["return_value"] == expected["return_value"]
            shown = viewer.shown_locals()
            frame_locals = expected["stack"][-1]["locals"]
            assert shown == [(name, short_text(value)) for name, value in frame_locals.items()]
    viewer.page.screenshot(path=str(tmp_path / "viewer.png"))
    assert (tmp_path / "viewer.png").stat().st_size > 10_000
    assert viewer.dialogs == [] and viewer.errors == []


def test_the_failure_reads_as_pytest_prints_it(browser: Any, project: Path) -> None:
    viewer = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    assert viewer.page.text_content("#event-value .exception-line") == (
        "AssertionError: assert 14 == 99"
    )
    names = [name for name, _ in viewer.shown_locals()]
    assert names and not any(name.startswith("@py_") for name in names)
    assert "assertion temporaries hidden" in (viewer.page.text_content("#locals") or "")
    viewer.page.check("#show-temporaries")
    assert any(name.startswith("@py_assert") for name, _ in viewer.shown_locals())
    assert any(name.startswith("@py_assert") for name in viewer.state()["stack"][-1]["locals"])
    title = viewer.page.text_content("#compare-title") or ""
    assert title.startswith("Compared with the last passing run: run "), title
    for step in (3, viewer.step - 2):  # the comparison follows the step on screen
        viewer.page.evaluate(f"window.scopeViewer.go({step})")
        diff = replay_json(project, "test_total", "--step", str(step))["diff"]
        match = "the same step" if diff["exact"] else "the last step both did alike"
        assert viewer.page.text_content("#aligned-now") == (
            f"Step {step} on screen is step {diff['step']} of run {diff['against']} ({match})"
        )
        _assert_the_diff_shown_is(viewer, diff, step)
    assert viewer.dialogs == [] and viewer.errors == []


def _assert_the_diff_shown_is(viewer: Viewer, diff: dict[str, Any], step: int) -> None:
    """The comparison panel shows ``diff`` (``scope-replay --step STEP``'s) for ``step``."""
    match = "the same step" if diff["exact"] else "the last step both did alike"
    header = viewer.page.text_content("#diff-now > div:first-child")
    assert header == f"At step {step} against run {diff['against']} attempt 1, " + (
        f"step {diff['step']}:" if diff["exact"] else f"step {diff['step']} ({match}):"
    )
    where = viewer.page.eval_on_selector_all(
        "#diff-now .change-row:not(.change-head) > .name",
        "rows => rows.map(r => r.textContent)",
    )
    assert where == [
        change["path"] if change["frame"] is None else f"{change['frame']}: {change['path']}"
        for change in diff["changes"]
    ]


def test_step_over_and_out_follow_the_stack(browser: Any, project: Path) -> None:
    viewer = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    timeline = replay_json(project, "test_total", "--timeline")
    calls = [
        row["step"] for row in timeline if row["kind"] == "call" and row["function"] == "Cart.add"
    ]
    viewer.page.evaluate(f"window.scopeViewer.go({calls[0] - 1})")  # the line that calls add
    over = viewer.press("Shift+ArrowRight")
    assert timeline[over - 1]["function"] == "test_total"
    assert over > calls[0]
    viewer.page.evaluate(f"window.scopeViewer.go({calls[0] + 1})")  # inside Cart.add
    out = viewer.press("Shift+ArrowDown")
    assert timeline[out - 1]["function"] == "test_total"
    back = viewer.press("Shift+ArrowUp")  # back to the line that called
    assert timeline[back - 1]["function"] != "Cart.add" or back < calls[0]


def test_changed_values_are_highlighted(browser: Any, project: Path) -> None:
    viewer = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    viewer.page.keyboard.press("Home")
    for _ in range(40):
        changed = viewer.page.eval_on_selector_all(
            "#locals > .value-row.changed > .name", "rows => rows.map(row => row.textContent)"
        )
        if "prices" in changed:
            break
        viewer.press("ArrowRight")
    assert changed == ["prices"]


def test_recorded_html_and_script_are_shown_as_text(browser: Any, project: Path) -> None:
    path = project / "art" / viewer_name("test_cart.py::test_hostile")
    page_text = path.read_text()
    assert "</script><script>window.__pwned" not in page_text
    assert "<img src=x" not in page_text
    viewer = Viewer(browser, path)
    shown = dict(viewer.shown_locals())
    assert shown["script"] == json.dumps("</script><script>window.__pwned = 1</script>")
    assert shown["image"] == json.dumps('<img src=x onerror="window.__pwned = 2; alert(1)">')
    viewer.page.click("#locals .value-row:has(> .name:text-is('nested')) > .toggle")
    viewer.page.click("#locals .value-row .children .value-row > .toggle")
    nested_text = viewer.page.text_content("#locals")
    assert "<b>key</b>" in nested_text
    assert "{{script}}" in nested_text
    exception = viewer.page.text_content("#event-value")
    assert "AssertionError" in exception
    assert viewer.page.evaluate("typeof window.__pwned") == "undefined"
    assert viewer.page.evaluate("document.querySelectorAll('img, b, iframe').length") == 0
    assert viewer.page.evaluate("document.scripts.length") == 2
    viewer.page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert viewer.dialogs == []
    assert viewer.errors == []
    assert viewer.page.evaluate("typeof window.__pwned") == "undefined"


def test_index_links_to_the_viewers(browser: Any, project: Path) -> None:
    page = browser.new_page()
    page.goto((project / "art" / "index.html").as_uri())
    links = page.eval_on_selector_all("a", "links => links.map(link => link.textContent)")
    assert sorted(links) == ["test_cart.py::test_hostile", "test_cart.py::test_total"]
    with page.expect_navigation():  # polling the index, whose policy forbids scripts, fails
        page.click("text=test_cart.py::test_total")
    page.wait_for_selector("body.ready", state="attached")
    assert page.text_content("#test-id") == "test_cart.py::test_total"
    assert "against run" in page.text_content("#compare")


WATCHING_LIBRARY = """
REGISTRY = {}


def fill(name, count):
    REGISTRY[name] = count
"""

WATCHING_CONFTEST = """
import sys
from pathlib import Path

# A library from outside the project: under site-packages, which the plan leaves alone.
sys.path.insert(0, str(Path(__file__).parent / "site-packages"))
"""

WATCHING_SUITE = """
import os

import pytest_scope

import extlib


def test_watch():
    pytest_scope.watch(extlib.REGISTRY, "registry")
    extlib.fill("apple", 3)
    extlib.fill("pear", 1 if os.environ.get("CART_OK") else 2)
    for _ in range(600):
        # past the first chunk: later steps start from a keyframe
        pass
    assert sum(extlib.REGISTRY.values()) == 4
"""


@pytest.fixture(scope="module")
def watching(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test that watches a registry only unrecorded code fills: passes, then fails."""
    root = tmp_path_factory.mktemp("watching")
    (root / "site-packages").mkdir()
    (root / "site-packages" / "extlib.py").write_text(WATCHING_LIBRARY)
    (root / "conftest.py").write_text(WATCHING_CONFTEST)
    (root / "test_watching.py").write_text(WATCHING_SUITE)
    first = pytest_run(root, ok=True)
    assert first.returncode == 0, first.stdout + first.stderr
    second = pytest_run(root, "--scope-artifacts", "art")
    assert second.returncode == 1, second.stdout + second.stderr
    return root


def test_watched_objects_changed_by_unrecorded_code_are_shown_at_their_step(
    browser: Any, watching: Path, project: Path
) -> None:
    viewer = Viewer(browser, watching / "art" / viewer_name("test_watching.py::test_watch"))
    assert viewer.page.is_visible("#watched-title") and viewer.page.is_visible("#watched")
    timeline = replay_json(watching, "test_watch", "--timeline")
    loop_line = WATCHING_SUITE.splitlines().index("    for _ in range(600):") + 1
    after_pear = next(  # the first step after unrecorded code filled "pear"
        row["step"] for row in timeline if row["kind"] == "line" and row["line"] == loop_line
    )
    assert after_pear < 10
    chunks = json.loads(gzip.decompress(base64.b64decode(embedded(viewer.path)["chunks"])))
    assert len(chunks) > 1
    keyframe = chunks[-1][1]
    objects = References({entry[0]: entry for entry in keyframe["objects"]})
    assert objects.resolve(keyframe["watched"]) == {"registry": {"apple": 3, "pear": 2}}
    seen = []
    for row in timeline[:after_pear] + timeline[-3:]:
        viewer.page.evaluate(f"window.scopeViewer.go({row['step']})")
        expected = replay_json(watching, "test_watch", "--step", str(row["step"]))
        watched = expected.get("watched", {})
        assert viewer.state()["watched"] == watched
        rows = viewer.page.eval_on_selector_all(
            "#watched > .value-row",
            "rows => rows.map(row => [row.querySelector(':scope > .name').textContent,"
            " row.querySelector(':scope > .value').textContent,"
            " row.classList.contains('changed')])",
        )
        assert [(name, text) for name, text, _ in rows] == [
            (name, short_text(value)) for name, value in watched.items()
        ]
        seen.append((row["step"], [changed for _, _, changed in rows]))
    viewer.page.evaluate(f"window.scopeViewer.go({after_pear})")
    assert viewer.state()["watched"] == {"registry": {"apple": 3, "pear": 2}}
    assert (after_pear, [True]) in seen  # marked where unrecorded code changed it
    assert viewer.page.text_content("#watched") == '▸registry = {"apple": 3, "pear": 2}'
    viewer.page.evaluate(f"window.scopeViewer.go({after_pear - 1})")
    assert viewer.state()["watched"] == {"registry": {"apple": 3}}
    assert "(watched) registry['pear']" in viewer.page.text_content("#compare")
    assert viewer.dialogs == [] and viewer.errors == []
    unwatched = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    assert not unwatched.page.is_visible("#watched-title")
    assert not unwatched.page.is_visible("#watched")


def test_the_history_of_a_value_lists_the_steps_that_changed_it(
    browser: Any, project: Path
) -> None:
    """The viewer's "history" action on a local changed by its callees: the steps that
    scope-replay --history lists."""
    viewer = Viewer(browser, project / "art" / viewer_name("test_cart.py::test_total"))
    expected = replay_json(project, "test_total", "--history", "cart")
    assert len(expected["changes"]) >= 2
    assert _history_rows(viewer, "cart") == _expected_rows(expected)
    title = viewer.page.text_content("#history-title")
    assert title == (
        f"History of cart ({len(expected['changes'])} changes;"
        " the object, in every frame that holds it)"
    )
    last = expected["changes"][-1]["step"]
    viewer.page.click(f"#history > .history-row[data-step='{last}']")
    assert viewer.step == last
    assert viewer.dialogs == [] and viewer.errors == []


def test_the_history_follows_the_object_into_callees_as_the_cli_does(
    browser: Any, tmp_path: Path
) -> None:
    """fixtures/history's items, appended to in fill() as acc and in Box.put as things,
    and its ledger, changed in tally() as book: the viewer's rows are --history's, with
    the same callee, name and line at each change."""
    record_history(tmp_path)
    test = "test_items_are_filled_elsewhere"
    page = tmp_path / "viewer.html"
    assert run_replay(tmp_path, test, "--html", str(page)).returncode == 0
    viewer = Viewer(browser, page)
    for name in ("items", "ledger", "box"):
        expected = replay_json(tmp_path, test, "--history", name)
        assert _history_rows(viewer, name) == _expected_rows(expected), name
    rows = _history_rows(viewer, "items")
    source = (FIXTURES / "history" / "test_history.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "acc.append(number)" in text)
    assert rows[1][1:] == ("as acc in fill", f"fill:{line}")
    assert viewer.dialogs == [] and viewer.errors == []


def _history_rows(viewer: Viewer, name: str) -> list[tuple[int, str | None, str | None]]:
    """Each row the history action on the local ``name`` lists: its step, where the object
    was seen and what ran before (``function:line``)."""
    viewer.page.click(f"#locals > .value-row:has(> .name:text-is('{name}')) > .history-action")
    assert viewer.page.is_visible("#history-title")
    rows: list[list[Any]] = viewer.page.eval_on_selector_all(
        "#history > .history-row",
        "rows => rows.map(row => [Number(row.dataset.step), row.dataset.seen ?? null,"
        " row.dataset.by ?? null])",
    )
    return [(step, seen, by) for step, seen, by in rows]


def _expected_rows(document: dict[str, Any]) -> list[tuple[int, str | None, str | None]]:
    following = document["follows"] == "object"
    return [
        (
            change["step"],
            seen_text(change["seen"]) if following else None,
            None if change["by"] is None else f"{change['by']['function']}:{change['by']['line']}",
        )
        for change in document["changes"]
    ]


LONG_SUITE = """
import os

BROKEN = os.environ.get("LONG_BROKEN") == "1"


class Cart:
    def __init__(self):
        self.lines = []
        self.total = 0

    def add(self, sku, count, price):
        self.lines.append((sku, count))
        self.total += count * price
        return self.total


def discount(total, rate):
    return total * (1 - rate)


class TestListNested:
    def test_list_nested_partial_propagated_to_nested(self):
        cart = Cart()
        for i in range(300):
            count = i % 5 + (1 if BROKEN and i == 150 else 0)
            cart.add(f"sku-{i % 17}", count, 3)
        final = discount(cart.total, 0.1)
        assert final == 1620.0
"""
LONG_TEST = "test_list_nested_partial_propagated_to_nested"
LONG_FUNCTION = "TestListNested." + LONG_TEST


@pytest.fixture(scope="module")
def long_test(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A test of some 2,500 steps with a long qualified name, passing then failing (one
    more item at its 150th round); its project and its viewer."""
    root = tmp_path_factory.mktemp("long")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_long.py").write_text(LONG_SUITE)
    assert record(root) == 0
    assert record(root, env={"LONG_BROKEN": "1"}) == 1
    page = root / "viewer.html"
    assert run_replay(root, LONG_TEST, "--html", str(page)).returncode == 0
    return root, page


def test_the_comparison_follows_the_step_on_screen_in_a_long_test(
    browser: Any, long_test: tuple[Path, Path]
) -> None:
    """The page carries the diffs of STEP_DIFFS steps; at each the panel shows the one
    scope-replay --step shows; elsewhere it says there is none and links the nearest."""
    root, page = long_test
    data = embedded(page)
    viewer = Viewer(browser, page)
    divergence = data["divergence"]["step"]
    for step in (data["failure_step"], data["failure_step"] - 100, divergence):
        viewer.page.evaluate(f"window.scopeViewer.go({step})")
        diff = replay_json(root, LONG_TEST, "--step", str(step))["diff"]
        _assert_the_diff_shown_is(viewer, diff, step)
    held = sorted(map(int, json.loads(gzip.decompress(base64.b64decode(data["step_diffs"])))))
    assert data["steps"] > 2 * STEP_DIFFS and len(held) <= STEP_DIFFS
    spread = next(step for step in held if held[0] + 10 < step < divergence - STEP_DIFFS)
    viewer.page.evaluate(f"window.scopeViewer.go({spread})")
    diff = replay_json(root, LONG_TEST, "--step", str(spread))["diff"]
    _assert_the_diff_shown_is(viewer, diff, spread)
    missing = spread + 3
    assert missing not in held
    nearest = min(held, key=lambda step: (abs(step - missing), -step))
    viewer.page.evaluate(f"window.scopeViewer.go({missing})")
    assert viewer.page.text_content("#diff-now") == (
        f"No comparison computed for step {missing} (this page holds the diffs of {len(held)}"
        f" of its {data['steps']} steps); nearest: step {nearest}"
    )
    viewer.page.click("#diff-now a.step-link")
    assert viewer.step == nearest
    diff = replay_json(root, LONG_TEST, "--step", str(nearest))["diff"]
    _assert_the_diff_shown_is(viewer, diff, nearest)
    assert viewer.dialogs == [] and viewer.errors == []
    # Opened at step 1000 (--step): past the last step diffed, the nearest is that one.
    early = root / "early.html"
    assert run_replay(root, LONG_TEST, "--step", "1000", "--html", str(early)).returncode == 0
    held = sorted(
        map(int, json.loads(gzip.decompress(base64.b64decode(embedded(early)["step_diffs"]))))
    )
    assert held[-1] < data["steps"]
    viewer = Viewer(browser, early)
    viewer.page.evaluate(f"window.scopeViewer.go({data['steps']})")
    assert (viewer.page.text_content("#diff-now") or "").endswith(f"; nearest: step {held[-1]}")


# For each [container, children] pair: the children's boxes of each container matched, which
# must not overlap; and the text of the boxes matched by ``spilling`` whose content is wider
# than the box (it runs over what is next to it, or is cut).
_BOXES = """
([groups, spilling]) => {
  const box = (node) => { const r = node.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height, text: node.textContent}; };
  return {
    groups: groups.flatMap(([container, children]) => [...document.querySelectorAll(container)]
      .map((node) => [...node.querySelectorAll(children)].map(box))),
    spilling: [...document.querySelectorAll(spilling)]
      .filter((node) => node.scrollWidth > node.clientWidth + 1).map((node) => node.textContent),
  };
}
"""


# Each row of the timeline on screen: its text, its tooltip, and whether the text fits
# the row (a mark after it may be cut, not the text).
_TIMELINE_ROWS = """
rows => rows.map((row) => {
  const text = document.createRange();
  text.selectNodeContents(row.firstChild);
  const room = row.clientWidth - parseFloat(getComputedStyle(row).paddingLeft)
    - parseFloat(getComputedStyle(row).paddingRight);
  return [row.firstChild.textContent, row.title, text.getBoundingClientRect().width <= room + 0.5];
})
"""


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of boxes that share some area (touching edges do not count)."""
    found = []
    for index, one in enumerate(boxes):
        for other in boxes[index + 1 :]:
            across = min(one["x"] + one["width"], other["x"] + other["width"])
            down = min(one["y"] + one["height"], other["y"] + other["height"])
            if across - max(one["x"], other["x"]) > 0.5 and down - max(one["y"], other["y"]) > 0.5:
                found.append((one["text"][:40], other["text"][:40]))
    return found


@pytest.mark.parametrize("size", [(1400, 1000), (1920, 1080), (1280, 800)])
def test_nothing_overlaps_and_the_timeline_shows_function_names(
    browser: Any, long_test: tuple[Path, Path], size: tuple[int, int]
) -> None:
    """At the failure and at the first divergence: the panels, the controls and the cells of
    the comparison tables keep to their boxes (a long frame name wraps in its cell), and
    the timeline's rows show the whole qualified name of their function, which their
    tooltip holds too."""
    _, page = long_test
    viewer = Viewer(browser, page, size)
    data = embedded(page)
    groups = [
        ["main", ":scope > section"],
        ["#controls", ":scope > *"],
        [".change-row", ":scope > span"],
    ]
    spilling = ".change-row > span, #stack li, main > section"
    for step in (data["failure_step"], data["divergence"]["step"]):
        viewer.page.evaluate(f"window.scopeViewer.go({step})")
        found = viewer.page.evaluate(_BOXES, [groups, spilling])
        assert [_overlapping(boxes) for boxes in found["groups"] if _overlapping(boxes)] == []
        assert found["spilling"] == [], (step, size)
        panels = found["groups"][0]
        assert all(panel["x"] + panel["width"] <= size[0] for panel in panels)
        names = viewer.page.eval_on_selector_all(
            "#diff-now .change-row > .name", "cells => cells.map(cell => cell.textContent)"
        )
        assert any(name.startswith(LONG_FUNCTION + ": ") for name in names)
        shown = viewer.page.eval_on_selector_all("#timeline .row", _TIMELINE_ROWS)
        assert any(LONG_FUNCTION + ":" in text for text, _, _ in shown)
        assert [text for text, title, whole in shown if not whole or title != text] == []
    assert viewer.dialogs == [] and viewer.errors == []
