"""The JSON documents of ``scope-replay --format json``: the contract scripts read,
described in docs/pages/replay.md.

``JsonView`` prints them; ``replay.views.text_view.TextView`` has the same methods for people.
Kept apart from the text view so that JSON output never imports rich.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pytest_scope.trace.reader import RecordedTest
from replay.comparing.compare import DivergenceReport, StateDiff
from replay.reading.format_facts import without_assertion_temporaries
from replay.reading.state import State


def state_document(state: State, diff: StateDiff | None = None) -> dict[str, Any]:
    """``{"test","run","step","steps","event","stack","exception","return_value","diff"}``,
    and ``"watched"`` when the test watches objects."""
    document = {
        "test": state.test,
        "run": state.run,
        "step": state.step,
        "steps": state.steps,
        "event": state.event,
        "stack": state.stack,
        "exception": state.exception,
        "return_value": state.return_value,
        "diff": None if diff is None else diff_document(diff),
    }
    if state.watched:
        document["watched"] = state.watched
    return document


def diff_document(diff: StateDiff) -> dict[str, Any]:
    """``{"against","attempt","step","exact","parted","plans","changes","omitted","cut",
    "set_aside"}``: see ``replay.comparing.compare``."""
    return {
        "against": diff.against.trace.run_id_of(diff.against.test),
        "attempt": diff.against.test.attempt,
        "step": diff.state.step,
        "exact": diff.exact,
        "parted": (
            None if diff.parted is None else {"this": diff.parted[0], "against": diff.parted[1]}
        ),
        "plans": diff.plans,
        "changes": diff.changes,
        "omitted": diff.omitted,
        "cut": diff.cut,
        "set_aside": diff.set_aside,
    }


def divergence_document(
    nodeid: str, this: tuple[str, int], against: tuple[str, int], report: DivergenceReport
) -> dict[str, Any]:
    """``{"test","by","plans","this","against","changes","omitted","cut","set_aside"}``;
    each side
    names its run, attempt and step (null once that run had ended) and its state there
    (with ``"watched"`` when the test watches objects)."""
    return {
        "test": nodeid,
        "by": report.by,
        "plans": report.plans,
        "this": _side(this, report.this),
        "against": _side(against, report.against),
        "changes": report.changes,
        "omitted": report.omitted,
        "cut": report.cut,
        "set_aside": report.set_aside,
    }


def _side(recording: tuple[str, int], state: State | None) -> dict[str, Any]:
    run, attempt = recording
    side: dict[str, Any] = {"run": run, "attempt": attempt, "step": None}
    if state is not None:
        side.update(
            step=state.step,
            event=state.event,
            stack=state.stack,
            exception=state.exception,
            return_value=state.return_value,
        )
        if state.watched:
            side["watched"] = state.watched
    return side


def tests_document(run: str, tests: list[RecordedTest]) -> dict[str, Any]:
    return {"run": run, "tests": [asdict(test) for test in tests]}


def runs_document(runs: list[tuple[Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"run": path.stem, "path": str(path), **facts} for path, facts in runs]


def dumps(document: Any) -> str:
    """Serialize; a value msgpack decoded that JSON lacks (bytes, ext) becomes a ``$type`` form."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=_foreign)


def _foreign(value: object) -> dict[str, str]:
    return {"$type": type(value).__name__, "repr": repr(value)[:200]}


class JsonView:
    """``scope-replay --format json``: each method prints one document on stdout.

    Its methods take what ``TextView``'s do; what only people read (the source, the
    rootdir, a note, the timeline's marks) is left out of the documents."""

    def runs(self, runs: list[tuple[Path, dict[str, Any]]]) -> None:
        print(dumps(runs_document(runs)))

    def tests(self, run: str, tests: list[RecordedTest]) -> None:
        print(dumps(tests_document(run, tests)))

    def timeline(
        self,
        nodeid: str,
        rows: list[dict[str, Any]],
        rootdir: str | None,
        marks: dict[int, str],
    ) -> None:
        print(dumps(rows))

    def state(
        self,
        state: State,
        source: str | None,
        rootdir: str | None,
        diff: StateDiff | None,
        note: str | None,
        assertion_temporaries: bool,
    ) -> None:
        shown = state if assertion_temporaries else without_assertion_temporaries(state)
        print(dumps(state_document(shown, diff)))

    def divergence(
        self,
        nodeid: str,
        this: tuple[str, int],
        against: tuple[str, int],
        report: DivergenceReport,
        sources: tuple[str | None, str | None],
        rootdir: str | None,
    ) -> None:
        print(dumps(divergence_document(nodeid, this, against, report)))

    def history(self, document: dict[str, Any], rootdir: str | None) -> None:
        print(dumps(document))
