"""The text views of a comparison: both runs side by side, at 100 columns."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support.tracebuilder import SOURCES, Recording, close_traces, open_trace, write_trace

import replay.comparing.compare
import replay.views.html_view
from pytest_scope.trace.schema import Kind
from replay.comparing.align import align
from replay.comparing.compare import Comparer, Recorded, compare_at, diverge
from replay.reading.state import state_at
from replay.views.html_view import STEP_DIFFS, diffed_steps, export_viewer
from replay.views.json_view import divergence_document
from replay.views.text_view import render_diff, render_divergence


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_traces()


def _text(render: Any, *args: Any) -> list[str]:
    console = Console(width=100, file=StringIO(), color_system=None)
    render(console, *args)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]


def _recording(rate: float, fail: bool) -> Recording:
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(Kind.LINE, line=11, l={"total": 100})
    rec.event(Kind.CALL, code_no=2, line=1, l={"n": 100})
    rec.event(Kind.RETURN, code_no=2, line=2, l={"rate": rate}, r=rate)
    rec.event(Kind.LINE, line=12, l={"due": 100 * (1 - rate)})
    if fail:
        rec.event(Kind.EXCEPTION, line=12, x={"$type": "AssertionError", "attrs": {"args": []}})
    return rec


@pytest.fixture
def sides(tmp_path: Path) -> tuple[Recorded, Recorded]:
    passing = write_trace(
        tmp_path / "20250101-000000-1.sqlite", {"test_sample.py::test_main": _recording(0.1, False)}
    )
    failing = write_trace(
        tmp_path / "20250102-000000-1.sqlite",
        {"test_sample.py::test_main": _recording(0.2, True)},
        outcomes={"test_sample.py::test_main": "failed"},
    )
    this, against = open_trace(failing), open_trace(passing)
    return Recorded(this, this.tests()[0]), Recorded(against, against.tests()[0])


def test_the_diff_beside_a_state(sides: tuple[Recorded, Recorded]) -> None:
    this, against = sides
    state = state_at(this.trace, this.test, 6)
    lines = _text(render_diff, state, compare_at(state, this, against), None)
    assert (
        lines.pop(2) == f"(that recording: run 20250101-000000-1 attempt 1, {against.trace.path})"
    )
    assert lines == [
        "",
        "Compared with run 20250101-000000-1 (attempt 1), step 5:"
        " the last step both runs did alike",
        "there: line in test_main at test_sample.py:12",
        "from there, the runs went different ways:",
        "  run 20250102-000000-1: step 6: exception in test_main at test_sample.py:12",
        "  run 20250101-000000-1: (had ended)",
        "Differences",
        "",
        "  where            run 20250102-000000-1   run 20250101-000000-1",
        " " + "─" * 64,
        "  test_main: due   80.0                    90.0",
        "  (exception)      AssertionError()        (absent)",
        "",
    ]


def test_the_divergence_side_by_side(sides: tuple[Recorded, Recorded]) -> None:
    this, against = sides
    report = diverge(this, against)
    source = SOURCES["sample.py"]
    lines = _text(
        render_divergence,
        "test_sample.py::test_main",
        ("20250102-000000-1", 1),
        ("20250101-000000-1", 1),
        report,
        (source, source),
    )
    assert lines == [
        "test_sample.py::test_main",
        "The runs part ways by value:",
        "",
        "           run 20250102-000000-1 (attempt 1)   run 20250101-000000-1 (attempt 1)",
        " " + "─" * 80,
        "  step     4 of 6                              4 of 5",
        "  event    return in helper at sample.py:2     return in helper at sample.py:2",
        "  source   # sample line 2                     # sample line 2",
        "  stack    test_main → helper                  test_main → helper",
        "",
        "Differences",
        "",
        "  where            run 20250102-000000-1   run 20250101-000000-1",
        " " + "─" * 64,
        "  helper: rate     0.2                     0.1",
        "  (return value)   0.2                     0.1",
        "",
    ]


def _watching(registry: dict[str, int]) -> Recording:
    rec = Recording()
    rec.event(Kind.CALL, line=10, w={"registry": {}})
    rec.event(Kind.LINE, line=11, w={"registry": registry})  # changed by unrecorded code
    rec.event(Kind.LINE, line=12)
    return rec


def test_a_watched_object_differs_in_the_diff_and_the_divergence(tmp_path: Path) -> None:
    passing = write_trace(
        tmp_path / "20250101-000000-1.sqlite", {"test_sample.py::test_main": _watching({"a": 1})}
    )
    failing = write_trace(
        tmp_path / "20250102-000000-1.sqlite",
        {"test_sample.py::test_main": _watching({"a": 2})},
        outcomes={"test_sample.py::test_main": "failed"},
    )
    mine, theirs = open_trace(failing), open_trace(passing)
    this, against = Recorded(mine, mine.tests()[0]), Recorded(theirs, theirs.tests()[0])
    state = state_at(mine, this.test, 3)
    lines = _text(render_diff, state, compare_at(state, this, against), None)
    assert lines[-2:] == ["  (watched) registry['a']   2                       1", ""]
    report = diverge(this, against)
    assert (report.by, report.this and report.this.step) == ("value", 2)
    document = divergence_document(
        "test_sample.py::test_main", ("20250102-000000-1", 1), ("20250101-000000-1", 1), report
    )
    assert document["changes"] == [
        {
            "frame": None,
            "depth": None,
            "path": "(watched) registry['a']",
            "change": "changed",
            "this": 2,
            "against": 1,
        }
    ]
    assert document["this"]["watched"] == {"registry": {"a": 2}}
    assert document["against"]["watched"] == {"registry": {"a": 1}}


@pytest.fixture
def alignments(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each alignment ``replay.comparing.compare`` computes from now on."""
    computed: list[object] = []

    def counted(*steps: Any) -> Any:
        computed.append(steps)
        return align(*steps)

    monkeypatch.setattr(replay.comparing.compare, "align", counted)
    return computed


def test_a_viewer_aligns_the_two_recordings_once(
    sides: tuple[Recorded, Recorded], tmp_path: Path, alignments: list[object]
) -> None:
    """Every step's diff and the divergence the page carries read one alignment."""
    this, against = sides
    _, comparison = export_viewer(tmp_path / "viewer.html", this.trace, this.test, None, against)
    assert comparison.step_diffs is not None and len(comparison.step_diffs) == this.test.steps
    assert comparison.divergence is not None and comparison.divergence.by == "value"
    assert len(alignments) == 1


@pytest.mark.parametrize(
    ("first", "last", "open_step", "divergence"),
    [
        (1, STEP_DIFFS - 1, STEP_DIFFS - 1, 5),
        (1, 3015, 3014, 1511),
        (1, 100_000, 100_000, None),
        (501, 20_000, 19_990, 600),  # the ring buffer dropped steps 1 to 500
        (1, 5_000, 10, 4_990),  # opened near the start (--step), diverged near the end
    ],
)
def test_the_page_carries_the_diffs_around_where_people_look_and_spread_between(
    first: int, last: int, open_step: int, divergence: int | None
) -> None:
    """A short test: every step's diff. A long one: at most STEP_DIFFS of them, every step
    just before the one the page opens at (people step back from the failure), the steps
    around the first divergence, and the rest spread so no step is far from a diff."""
    wanted = diffed_steps(first, last, open_step, divergence)
    assert wanted[0] == open_step  # the most wanted first: the page may get only some
    assert len(set(wanted)) == len(wanted)
    steps = sorted(wanted)
    assert first <= steps[0] and steps[-1] <= last
    if last - first < STEP_DIFFS:
        assert steps == list(range(first, last + 1))
        return
    assert len(steps) <= STEP_DIFFS
    held = set(steps)
    just_before = set(range(max(first, open_step - STEP_DIFFS // 2), open_step + 1))
    far = next(at for at, step in enumerate(wanted) if abs(step - open_step) > STEP_DIFFS)
    assert just_before <= set(wanted[:far])  # wanted before any step far from it
    if divergence is not None:
        near = range(divergence - STEP_DIFFS // 10, min(last, divergence + STEP_DIFFS // 10))
        assert set(near) <= held
    gaps = [after - before for before, after in zip([first, *steps], [*steps, last], strict=True)]
    assert max(gaps) <= (last - first) // (STEP_DIFFS // 6)


def test_the_page_gets_as_many_step_diffs_as_time_allows(
    sides: tuple[Recorded, Recorded], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing a viewer stays bounded however costly each diff: past the deadline, the page
    carries the diffs computed so far, the one at the step it opens at always."""
    this, against = sides
    monkeypatch.setattr(replay.views.html_view, "STEP_DIFFS_SECONDS", 0.0)
    _, comparison = export_viewer(tmp_path / "viewer.html", this.trace, this.test, 2, against)
    assert comparison.step_diffs is not None and list(comparison.step_diffs) == ["2"]
    monkeypatch.setattr(replay.views.html_view, "STEP_DIFFS_SECONDS", 60.0)
    _, comparison = export_viewer(tmp_path / "viewer.html", this.trace, this.test, 2, against)
    assert comparison.step_diffs is not None and len(comparison.step_diffs) == this.test.steps


def test_a_comparer_aligns_once_for_every_step_it_diffs(
    sides: tuple[Recorded, Recorded], alignments: list[object]
) -> None:
    """The prompt and the debug adapter diff step after step against one alignment."""
    this, against = sides
    states = [state_at(this.trace, this.test, step) for step in range(1, this.test.steps + 1)]
    expected = [compare_at(state, this, against) for state in states]
    alignments.clear()
    compared = Comparer(this, against)
    assert [compared.at(state) for state in states] == expected
    assert [compared.at(state) for state in reversed(states)] == expected[::-1]
    assert len(alignments) == 1
