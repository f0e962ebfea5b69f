"""The ``scope`` marker: a test (or its class or module) recorded at another level, or not.

``plugin`` registers the marker (``MARKER_LINE``) in every run, so that ``--strict-markers``
projects can use it whether or not ``--scope`` is on; ``scope_mark`` reads it, when
recording. Only ``pytest`` is imported here: ``plugin`` imports this in every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pytest

# The levels a user may name: by --scope-level, the scope_level setting or this marker.
LEVELS: Final = ("calls", "lines")
MARKER_LINE: Final = (
    "scope(level=None, off=False): pytest-scope records this test at level 'calls' or"
    " 'lines' (as --scope-level does), or not at all with off=True"
)
_USAGE: Final = "@pytest.mark.scope takes level='calls' or level='lines', or off=True"


@dataclass(frozen=True, slots=True)
class ScopeMark:
    """What the closest ``scope`` marker asks of one test."""

    off: bool
    level: str | None


def scope_mark(item: pytest.Item) -> ScopeMark | None:
    """The closest ``scope`` marker's request (a test's own wins over its class's and
    module's), or None; a marker with other arguments is a usage error naming the test."""
    marker = item.get_closest_marker("scope")
    if marker is None:
        return None

    def bad(problem: str) -> pytest.UsageError:
        return pytest.UsageError(f"{item.nodeid}: {_USAGE}; {problem}")

    if marker.args:
        raise bad(f"got positional arguments {marker.args!r}")
    unknown = sorted(set(marker.kwargs) - {"level", "off"})
    if unknown:
        raise bad(f"got {', '.join(unknown)}")
    level = marker.kwargs.get("level")
    off = marker.kwargs.get("off", False)
    if type(off) is not bool:
        raise bad(f"off must be True or False, not {off!r}")
    if level is not None and level not in LEVELS:
        raise bad(f"not level={level!r}")
    if off and level is not None:
        raise bad("not both")
    if not off and level is None:
        raise bad("got neither")
    return ScopeMark(off, level)
