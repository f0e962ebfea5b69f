"""Ctrl-C at the prompt, acted on at once, however fast the keys before it came.

CPython's readline waits for a key in ``select()`` and looks at signals only when a signal
interrupts that wait. A Ctrl-C that comes while readline is busy with the keys typed just
before it (typing fast, a paste) arrives outside the wait: Python notes it and readline
waits on, until the next key; the next Enter then ends a line that the interrupt drops, so
the command typed after Ctrl-C is lost. While the prompt runs, a watcher thread sees each
SIGINT (through ``signal.set_wakeup_fd``) and pokes the main thread with a signal whose
handler does nothing, until the SIGINT handler has run: a poke that lands in the wait
interrupts it, and readline drops the line there and then. The terminal keeps what was
typed before a Ctrl-C (``NOFLSH``): flushed, it could leave readline blocked in ``read()``
for a key that select had announced, where no signal reaches it.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

_POKE: Final = getattr(signal, "SIGUSR1", None)  # a signal nothing else in scope-replay uses
_POKE_EVERY: Final = 0.02  # seconds
_POKE_FOR: Final = 1.0  # seconds at most per Ctrl-C: the handler may have run already


@contextmanager
def immediate_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt in the main thread at once, even
    while readline waits for a key on stdin, a terminal. Elsewhere than POSIX (no
    ``pthread_kill``) or off the main thread it changes nothing."""
    if (
        _POKE is None
        or not hasattr(signal, "pthread_kill")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    with _keeping_typed_keys(), _poking_on_interrupt():
        yield


@contextmanager
def _keeping_typed_keys() -> Iterator[None]:
    """The terminal's ``NOFLSH`` on stdin within the block, its settings restored after."""
    import termios

    stdin = sys.stdin.fileno()
    try:
        saved = termios.tcgetattr(stdin)
    except termios.error:  # not a terminal
        yield
        return
    kept = list(saved)
    kept[3] |= termios.NOFLSH
    termios.tcsetattr(stdin, termios.TCSANOW, kept)
    try:
        yield
    finally:
        termios.tcsetattr(stdin, termios.TCSANOW, saved)


@contextmanager
def _poking_on_interrupt() -> Iterator[None]:
    """The watcher thread: after each SIGINT, pokes until its handler has run."""
    assert _POKE is not None
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    handled = [0.0]  # when the SIGINT handler last ran (monotonic seconds)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        handled[0] = time.monotonic()
        raise KeyboardInterrupt

    stop = threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        while not stop.is_set():
            if not select.select([read_end], [], [], 0.2)[0]:
                continue
            if signal.SIGINT not in os.read(read_end, 512):
                continue  # only pokes
            seen = time.monotonic()
            while handled[0] < seen and time.monotonic() - seen < _POKE_FOR:
                signal.pthread_kill(main, _POKE)
                if stop.wait(_POKE_EVERY):
                    return

    previous_interrupt = signal.signal(signal.SIGINT, interrupted)
    previous_poke = signal.signal(_POKE, lambda signum, frame: None)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, name="scope-replay interrupts", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(_POKE, previous_poke)
        signal.signal(signal.SIGINT, previous_interrupt)
        os.close(read_end)
        os.close(write_end)
