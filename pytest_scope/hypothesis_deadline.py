"""Hypothesis deadlines measure wall time; under recording that time is partly the recorder's.

A ``@given`` test whose examples take 150 ms plainly may take 400 ms recorded and fail
with ``DeadlineExceeded``: recording would change its outcome. So while recording, the
active settings profile is replaced by a child of itself without a deadline, before any
test module is imported (``@settings(...)`` takes its defaults when it decorates). Tests
that set ``deadline=`` themselves keep it; the summary says when deadlines were lifted.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Final

PROFILE: Final = "pytest-scope"


def lift_default_deadline() -> bool:
    """Load a profile like the active one but with ``deadline=None``; True if one was set."""
    if importlib.util.find_spec("hypothesis") is None:
        return False
    settings = importlib.import_module("hypothesis").settings
    current = settings.default
    if current.deadline is None:
        return False
    settings.register_profile(PROFILE, parent=current, deadline=None)
    settings.load_profile(PROFILE)
    return True
