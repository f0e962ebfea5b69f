"""Which names hold secrets: their values are replaced before they reach the buffer."""

from __future__ import annotations

import re

# A private reference: a test may replace this builtin (with a spy that counts calls).
from builtins import len
from collections.abc import Iterable
from typing import Final

DEFAULT_PATTERNS: Final = (
    "passw(or)?d",
    "pwd",
    "secret",
    "token",
    "api_?key",
    "auth",
    "cookie",
    "session_?(id|key)",
    "private_?key",
    "credential",
    "signature",
)


class Redaction:
    """Matches names (locals, str dict keys, attributes) against secret patterns."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        patterns = [*DEFAULT_PATTERNS, *extra_patterns]
        self._search = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE).search
        self._known: dict[str, bool] = {}

    def is_secret(self, name: str) -> bool:
        known = self._known.get(name)
        if known is None:
            if len(self._known) > 100_000:
                self._known.clear()
            known = self._known[name] = self._search(name) is not None
        return known
