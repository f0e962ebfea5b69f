"""The floor of the benchmark: pytest-scope's events and plan with callbacks that record nothing.

Loaded into the measured pytest run with ``-p scope_floor --scope-floor LEVEL``. It is
pytest-scope's own ``Recorder``, started and never given a test: the same tool id, global
and local events, plan, ``DISABLE`` of unplanned code and of forward jumps, and the same
callbacks (compiled where the event path is built), each returning at its check of the
recording flag. What it costs is what the interpreter costs to deliver those events to
them; everything above it is the recorder's own work.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

import pytest

from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder

_FLOOR_LEVELS = ("default", "calls", "lines")


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
    recorder = Recorder(plan, ValueEncoder(), _ignore_code)
    recorder.start()
    config.add_cleanup(recorder.stop)


def _ignore_code(code_no: int, code: CodeType) -> Any:
    return None
