"""Live progress of a long recording: the test and its step count, on the terminal.

A test that records for minutes otherwise gives no sign of it. Once a test has recorded
for ``scope_progress_after`` seconds (3 by default), a thread of ours writes its id, step
count and time after what pytest wrote on the current line, about twice a second, and
erases it when the test ends, before pytest writes the test's result: pytest's output is
the same as without it.

Nothing of it reaches a test: it writes to its own duplicate of the terminal's file
descriptor, taken before any test runs, so never into a test's captured output; its thread
is a bare ``_thread`` one, absent from ``threading.enumerate()`` and
``threading.active_count()``, so a test that counts threads counts the same; and it only
reads the recorder's step counter.

It is shown only where it cannot garble anything: standard output is a terminal (not a
pipe or a file, not TERM=dumb), the run is not an xdist worker (whose output is not a
terminal), and pytest does not write to the terminal while a test runs (``-s``,
``--capture=tee-sys``, live logging with ``log_cli``) nor is asked to be very quiet (``-qq``).
"""

from __future__ import annotations

import _thread
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

import pytest
from rich.console import Console
from rich.control import Control
from rich.segment import ControlType
from rich.text import Text

if TYPE_CHECKING:
    from _pytest._io import TerminalWriter

_INTERVAL: Final = 0.5  # seconds between updates
_MIN_ROOM: Final = 20  # columns left on the line below which nothing is shown
_JOIN_SECONDS: Final = 2.0


def progress_delay(config: pytest.Config) -> float | None:
    """The ``scope_progress_after`` setting: seconds before progress shows, None for off."""
    text = str(config.getini("scope_progress_after")).strip()
    if text == "off":
        return None
    try:
        delay = float(text)
    except ValueError:
        delay = math.nan
    if not (math.isfinite(delay) and delay >= 0):
        raise pytest.UsageError(
            f"scope_progress_after must be a number of seconds or off, not {text!r}"
        )
    return delay


def live_progress(
    config: pytest.Config, delay: float | None, steps: Callable[[], int]
) -> LiveProgress | None:
    """Live progress for this run, if it is on and the terminal can show it (see above)."""
    log_cli = config.getoption("log_cli_level", None) is not None or config.getini("log_cli")
    if (
        delay is None
        or config.option.capture in ("no", "tee-sys")
        or log_cli
        or config.get_verbosity() < -1
    ):
        return None
    try:
        if not sys.stdout.isatty():
            return None
        terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    except (OSError, ValueError):  # no file descriptor (an in-process pytester run)
        return None
    console = Console(file=terminal, highlight=False)
    if not console.is_terminal or console.is_dumb_terminal:
        terminal.close()
        return None
    return LiveProgress(console, terminal, config.get_terminal_writer(), delay, steps)


class LiveProgress:
    """Shows the test being recorded once it has recorded for ``delay`` seconds."""

    def __init__(
        self,
        console: Console,
        terminal: TextIO,
        pytest_writer: TerminalWriter,
        delay: float,
        steps: Callable[[], int],
    ) -> None:
        self._console = console
        self._terminal = terminal
        self._pytest_writer = pytest_writer
        self._delay = delay
        self._steps = steps
        self._lock = _thread.allocate_lock()  # the test's state and the terminal
        self._nodeid: str | None = None
        self._started = 0.0
        self._column: int | None = None  # where the shown progress starts, if shown
        self._stop = _thread.allocate_lock()
        self._stop.acquire()  # released by close: the thread's signal to end
        self._ended = _thread.allocate_lock()
        self._ended.acquire()  # released by the thread as it ends
        _thread.start_new_thread(self._run, ())

    def test_started(self, nodeid: str) -> None:
        with self._lock:
            self._nodeid = nodeid
            self._started = time.monotonic()

    def test_ended(self) -> None:
        """Erase the progress, before pytest writes the test's result."""
        with self._lock:
            self._nodeid = None
            self._erase()

    def close(self) -> None:
        """End the thread (at the session's end, or after Ctrl-C) and leave the line clean."""
        if self._terminal.closed:
            return
        self._stop.release()
        self._ended.acquire(timeout=_JOIN_SECONDS)
        with self._lock:
            self._nodeid = None
            self._erase()
            self._terminal.close()

    def _run(self) -> None:
        try:
            while not self._stop.acquire(timeout=_INTERVAL):
                with self._lock:
                    if self._nodeid is not None and not self._terminal.closed:
                        self._show(self._nodeid, time.monotonic() - self._started)
        except (OSError, ValueError):
            pass  # the terminal went away: progress is not worth a traceback
        finally:
            self._ended.release()

    def _show(self, nodeid: str, elapsed: float) -> None:
        if elapsed < self._delay:
            return
        column = self._pytest_writer.width_of_current_line
        room = os.get_terminal_size(self._terminal.fileno()).columns - column - 1
        if room < _MIN_ROOM:
            return
        line = Text(
            f" recording {nodeid}: {self._steps():,} steps, {elapsed:.0f} s",
            style="cyan",
        )
        line.truncate(room, overflow="ellipsis")
        self._clear_from(column)
        self._console.print(line, end="", soft_wrap=True)
        self._column = column

    def _erase(self) -> None:
        if self._column is None or self._terminal.closed:
            return
        column, self._column = self._column, None
        with contextlib.suppress(OSError, ValueError):  # the terminal went away
            self._clear_from(column)

    def _clear_from(self, column: int) -> None:
        """Back to ``column`` of the current line, and clear what follows it."""
        self._console.control(
            Control.move_to_column(column), Control((ControlType.ERASE_IN_LINE, 0))
        )
