"""The floor of the benchmark: pytest-scope's events and plan with callbacks that record nothing.

Loaded into the measured pytest run with ``-p scope_floor --scope-floor LEVEL``. It is
pytest-scope's own ``Recorder`` with ``_record`` emptied: the same tool id, global and
local events, plan, ``DISABLE`` of unplanned code and of forward jumps, and the same
callback entry (``_getframe``, the recording flag). What it costs is what the interpreter
costs to deliver those events; everything above it is the recorder's own work.
"""

from __future__ import annotations

from collections.abc import Generator
from types import CodeType, FrameType
from typing import Any

import pytest

from pytest_scope.plan import Plan
from pytest_scope.recorder import Recorder
from pytest_scope.values import ValueEncoder

_FLOOR_LEVELS = ("default", "calls", "lines")


class FloorRecorder(Recorder):
    """Receives every planned event and drops it."""

    def _record(self, kind: int, code: CodeType, frame: FrameType, value: object) -> None:
        return None

    def _on_line(self, code: CodeType, line: int, frame: FrameType | None = None) -> None:
        return None


class _Floor:
    def __init__(self, recorder: FloorRecorder) -> None:
        self.recorder = recorder

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        # Any non-None buffer switches recording on; the emptied _record never touches it.
        self.recorder.begin_test(object())  # type: ignore[arg-type]
        try:
            return (yield)
        finally:
            self.recorder.end_test()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scope-floor", dest="scope_floor", choices=_FLOOR_LEVELS)


def pytest_configure(config: pytest.Config) -> None:
    level = config.getoption("scope_floor")
    if level is None:
        return
    plan = Plan(
        config.rootpath,
        list(config.getini("python_files")),
        None if level == "default" else level,
    )
    recorder = FloorRecorder(plan, ValueEncoder(), _ignore_code)
    recorder.start()
    config.pluginmanager.register(_Floor(recorder), "scope-floor-session")
    config.add_cleanup(recorder.stop)


def _ignore_code(code_no: int, code: CodeType) -> Any:
    return None
