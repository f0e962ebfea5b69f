"""pytest-xdist: what the controller and its workers tell each other about a recording run.

The controller runs no test. It hands each worker the run id and a worker number through
``workerinput`` (the worker's file is ``<run_id>-<worker id>.sqlite``, its code numbers
start at the number's ``code_base``), and gathers through ``workeroutput`` what each
worker has to say in the summary. The roles that use this are in ``roles``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pytest

_RUN_ID_KEY: Final = "scope_run_id"
_NUMBER_KEY: Final = "scope_worker_number"
_OUTPUT_KEY: Final = "scope"


@dataclass(frozen=True, slots=True)
class WorkerPart:
    """Who this worker is in the run it records a part of."""

    run_id: str
    worker_id: str
    number: int


def worker_part(config: pytest.Config) -> WorkerPart | None:
    """This process's part of an xdist run, or None outside a worker of a recording run."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None or _RUN_ID_KEY not in workerinput:
        return None
    return WorkerPart(
        str(workerinput[_RUN_ID_KEY]), str(workerinput["workerid"]), int(workerinput[_NUMBER_KEY])
    )


def is_controller(config: pytest.Config) -> bool:
    """True in xdist's controller, which hands the tests to workers (``-n N``, ``--dist``).

    xdist's own test (it registers its ``dsession`` plugin in a ``pytest_configure`` that
    may run after ours): a distribution mode, not only collecting, not in a worker.
    """
    return (
        config.pluginmanager.has_plugin("xdist")
        and config.getoption("dist", "no") != "no"
        and not config.getoption("collectonly", False)
        and not hasattr(config, "workerinput")
    )


def hand_out_part(node: Any, run_id: str, number: int) -> None:
    """Tell a starting worker which run it records a part of, as which number."""
    node.workerinput[_RUN_ID_KEY] = run_id
    node.workerinput[_NUMBER_KEY] = number


def report_to_controller(config: pytest.Config, report: dict[str, object]) -> None:
    """Leave what this worker has to say in the summary, for the controller to gather."""
    workeroutput: dict[str, object] = getattr(config, "workeroutput", {})
    workeroutput[_OUTPUT_KEY] = report


def worker_report(node: Any) -> dict[str, Any] | None:
    """What a finished worker left for the controller, if it said anything."""
    report = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY)
    return report if isinstance(report, dict) else None
