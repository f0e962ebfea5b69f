"""The native line step (``_linestep.c``): built with the compiled event path only."""

from collections.abc import Callable
from types import CodeType, FrameType

class LineStepper:
    def __init__(
        self,
        *,
        recorder: object,
        fallback: Callable[..., object],
        locked: Callable[[], bool],
        is_tracing: Callable[[], bool],
        line_names: Callable[[CodeType], object],
        names_secret: Callable[[str], bool],
        redaction: object,
        max_str: int,
        chunk_target_bytes: int,
        line_kind: int,
        locals_key: str,
    ) -> None: ...
    def forget(self) -> None: ...
    def __call__(self, code: CodeType, line: int, frame: FrameType | None = ..., /) -> None: ...
