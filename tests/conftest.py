"""Fixtures that several test modules share."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings
from recordings import record_demo

# The properties here are about what the code computes, not how fast: on a shared machine
# with the suite spread over its cores, an example can take longer than Hypothesis's
# default deadline of 200 ms without anything being wrong.
settings.register_profile("pytest-scope", deadline=None)
settings.load_profile("pytest-scope")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/demo recorded once per module: ``test_ship_takes_every_line`` fails."""
    root = tmp_path_factory.mktemp("demo")
    record_demo(root)
    return root
