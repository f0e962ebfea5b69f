"""What a test may call to steer its recording: watch an object, pause recording.

Both work whether or not anything records: without ``--scope`` (and on Python 3.11,
which has no ``sys.monitoring``) they do nothing, so a test behaves the same either way.
The recorder attaches itself here while it holds its ``sys.monitoring`` tool id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Controls(Protocol):
    """What the recorder offers this API."""

    def watch(self, name: str, value: object) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


_controls: Controls | None = None


def attach(controls: Controls) -> None:
    global _controls
    _controls = controls


def detach(controls: Controls) -> None:
    global _controls
    if _controls is controls:
        _controls = None


def watch(obj: object, name: str) -> None:
    """Show ``obj`` as ``name`` at every step of the current test, however it changes.

    Its state is checked at each step, so a change made by a library, by C code or by
    another thread shows at the next step. The watch lasts until the test ends; called
    while a fixture is set up, it applies to the test being set up. Watching another
    object under the same name replaces the first.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"pytest_scope.watch() needs a non-empty str name, not {type(name).__name__}"
        )
    controls = _controls
    if controls is not None:
        controls.watch(name, obj)


@contextmanager
def paused() -> Iterator[None]:
    """Record no step, in any thread, inside the ``with`` block.

    What changed meanwhile (locals, objects, watched objects) shows at the next step.
    """
    controls = _controls
    if controls is None:
        yield
        return
    controls.pause()
    try:
        yield
    finally:
        controls.resume()
