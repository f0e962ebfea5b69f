"""The native unchanged check (``_sameparts.c``): built with the compiled event path only."""

from typing import Any

def same_parts(
    items: list[Any] | tuple[Any, ...] | dict[Any, Any] | None,
    size: int,
    limit: int,
    value: object,
    members: tuple[object, ...],
    unset: object,
    pinned: list[Any] | None,
    ids: tuple[int, ...],
    child_at: tuple[int, ...],
    /,
) -> tuple[Any, ...] | None: ...
