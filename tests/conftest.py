"""Fixtures that several test modules share."""

from __future__ import annotations

from pathlib import Path

import pytest
from recordings import record_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/demo recorded once per module: ``test_ship_takes_every_line`` fails."""
    root = tmp_path_factory.mktemp("demo")
    record_demo(root)
    return root
