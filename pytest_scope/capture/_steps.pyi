"""The native line, call, generator, return and handled steps (``_steps.c``): built with
the compiled event path only."""

from collections.abc import Callable
from types import CodeType, FrameType

class NativeSteps:
    line_steps: int
    call_steps: int
    generator_steps: int
    return_steps: int
    handled_steps: int
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
        returned_key: str,
        exception_key: str,
        other_frames_key: str,
        call_kind: int,
        resume_kind: int,
        yield_kind: int,
        return_kind: int,
        handled_kind: int,
        own_refs: int,
        max_suspended: int,
        frame_class: type,
        on_start: Callable[[CodeType, int], object],
        on_resume: Callable[[CodeType, int], object],
        on_yield: Callable[[CodeType, int, object], object],
        on_return: Callable[[CodeType, int, object], object],
        on_handled: Callable[[CodeType, int, object], object],
    ) -> None: ...
    def start(self, code: CodeType, offset: int, /) -> object: ...
    def resume(self, code: CodeType, offset: int, /) -> None: ...
    def yield_(self, code: CodeType, offset: int, value: object, /) -> None: ...
    def return_(self, code: CodeType, offset: int, value: object, /) -> None: ...
    def handled(self, code: CodeType, offset: int, exception: object, /) -> None: ...
    def forget(self) -> None: ...
    def __call__(self, code: CodeType, line: int, frame: FrameType | None = ..., /) -> None: ...
