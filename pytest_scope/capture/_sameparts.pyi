"""The native unchanged check (``_sameparts.c``): built with the compiled event path only."""

from typing import Any

def same_items(
    container: list[Any] | tuple[Any, ...] | dict[Any, Any],
    size: int,
    limit: int,
    pinned: list[Any] | None,
    ids: tuple[int, ...],
    child_at: tuple[int, ...],
    /,
) -> tuple[Any, ...] | None: ...
