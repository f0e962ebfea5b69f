"""Ctrl-C while a test records: the interrupt is the test's, not the recorder's.

A recorded test spends most of its time in the recorder's ``sys.monitoring`` callbacks, so
that is where SIGINT's ``KeyboardInterrupt`` is usually raised. pytest reports the place
it was raised (``pytest_scope/values.py:305: KeyboardInterrupt``); the user wants to know
where their test was. The recorder's frames are taken out of the traceback pytest shows,
which leaves the test's own code as the innermost frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest._code.code import TracebackEntry

_OWN_CODE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Interruption:
    """The test that was recording when Ctrl-C came, and the last step it recorded."""

    nodeid: str
    step: int


def hide_own_frames(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Leave pytest-scope's frames out of ``excinfo``'s traceback (all of them, or none if
    nothing else would be left)."""
    kept = excinfo.traceback.filter(_not_own)
    if len(kept):
        excinfo.traceback = kept


def _not_own(entry: TracebackEntry) -> bool:
    return not Path(entry.frame.code.raw.co_filename).resolve().is_relative_to(_OWN_CODE)


def summary_line(interruption: Interruption, command: str) -> str:
    return (
        f"interrupted in {interruption.nodeid} at step {interruption.step:,};"
        f" its recording up to there is kept: {command}"
    )
