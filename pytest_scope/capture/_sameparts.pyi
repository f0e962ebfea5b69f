"""The native walk of a step's objects (``_sameparts.c``): built with the compiled event
path only."""

from collections.abc import Callable
from typing import Any

class Walker:
    unchanged: int
    def __init__(
        self,
        *,
        pending: list[Any],
        reached: dict[int, int],
        held: list[object],
        unset: object,
        check: Callable[[object, Any, int], int],
        reach: Callable[[object, Any, int], Any],
        spent: Callable[[Any], None],
        max_depth: int,
        max_items: int,
        max_nodes: int,
    ) -> None: ...
    def run(self, records: dict[int, tuple[Any, ...]], deep: bool, /) -> None: ...
    def walk_known(self, records: dict[int, tuple[Any, ...]], value: object, /) -> Any: ...
    def confirm_known(self, records: dict[int, tuple[Any, ...]], value: object, /) -> Any: ...
    def release(self) -> None: ...
