"""The native rebinding check (``_rebinding.c``): built with the compiled event path only."""

from types import FrameType

def rebound_names(
    frame: FrameType, ids: dict[str, int], values: dict[str, object], /
) -> tuple[str, ...]: ...
