"""The native rebinding check (``_rebinding.c``): built with the compiled event path only."""

from types import FrameType

def rebound_names(
    frame: FrameType,
    ids: dict[str, int],
    values: dict[str, object],
    leaves: dict[str, bytes],
    /,
) -> tuple[str, ...]: ...
def leaf_key(value: object, form: object, opaque: bool, /) -> bytes | None: ...
def is_leaf(value: object, key: bytes, /) -> bool: ...
