"""The JSON documents of ``scope-replay --format json`` (DESIGN.md's contract).

Kept apart from the text view so that JSON output never imports rich.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from replay.state import State
from replay.tracefile import RecordedTest


def state_document(state: State) -> dict[str, Any]:
    """``{"test","run","step","steps","event","stack","exception","return_value","diff"}``."""
    return {
        "test": state.test,
        "run": state.run,
        "step": state.step,
        "steps": state.steps,
        "event": state.event,
        "stack": state.stack,
        "exception": state.exception,
        "return_value": state.return_value,
        "diff": None,  # filled in once diffing against the last passing run exists
    }


def tests_document(run: str, tests: list[RecordedTest]) -> dict[str, Any]:
    return {"run": run, "tests": [asdict(test) for test in tests]}


def runs_document(runs: list[tuple[Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"run": path.stem, "path": str(path), **facts} for path, facts in runs]


def dumps(document: Any) -> str:
    """Serialize; a value msgpack decoded that JSON lacks (bytes, ext) becomes a ``$type`` form."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=_foreign)


def _foreign(value: object) -> dict[str, str]:
    return {"$type": type(value).__name__, "repr": repr(value)[:200]}
