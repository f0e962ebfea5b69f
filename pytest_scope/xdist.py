"""pytest-xdist: the workers record, the controller combines their files and reports.

The controller runs no test. It hands each worker the run id and a worker number through
``workerinput`` (the worker's file is ``<run_id>-<worker id>.sqlite``, its code numbers
start at the number's ``code_base``), and gathers through ``workeroutput`` what each
worker has to say in the summary. Like pytest-randomly, these hooks are registered only
where xdist is: ``pytest_configure_node`` is not a hook without it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from pytest_scope.session import ScopeSession

PLUGIN_NAME: Final = "scope-xdist"
_RUN_ID_KEY: Final = "scope_run_id"
_NUMBER_KEY: Final = "scope_worker_number"
OUTPUT_KEY: Final = "scope"


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


class XdistController:
    """Hooks of the controller, feeding the ``scope-session`` that will combine and report."""

    def __init__(self, session: ScopeSession) -> None:
        self.session = session
        self._numbers = itertools.count()

    def pytest_configure_node(self, node: Any) -> None:
        # A worker that crashed is replaced by one with a new id: it gets a new number too.
        node.workerinput[_RUN_ID_KEY] = self.session.run_id
        node.workerinput[_NUMBER_KEY] = next(self._numbers)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        report = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
        if isinstance(report, dict):
            self.session.add_worker_report(report)
