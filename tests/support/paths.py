"""Where the repository's parts are, for the tests that read or run them: the one place
that knows how deep tests/ sits in the checkout."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
FIXTURES = REPO / "fixtures"
