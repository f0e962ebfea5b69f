"""Recorded forms compared with what replay resolves from the object table's entries."""

from __future__ import annotations

from typing import Any


def as_encoded(resolved: Any) -> Any:
    """A resolved form without the ``"$kind"`` that entries add (a tuple packs as a list)."""
    if isinstance(resolved, list | tuple):
        return [as_encoded(item) for item in resolved]
    if isinstance(resolved, dict):
        return {k: as_encoded(v) for k, v in resolved.items() if k != "$kind"}
    return resolved
