"""The places the path options name, checked before the run creates or records anything.

A scope directory or an artifacts directory that cannot be made (``/proc/foo``, a path
under a regular file) would otherwise fail deep inside the run, as pytest's INTERNALERROR
or after the whole suite ran; a baseline that can never hold a trace file would hold
nothing, silently. Each is a usage error naming the option (or ini setting) instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from pytest_scope.trace.scope_dir import is_run_file


def check_directory(path: Path, name: str) -> None:
    """``path`` is a directory, or one can be made there: a trial directory is made in the
    nearest part of it that exists, and removed."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise pytest.UsageError(_not_a_directory(path, existing, name))
    try:
        Path(tempfile.mkdtemp(prefix=".pytest-scope-", dir=existing)).rmdir()
    except OSError as exc:
        raise pytest.UsageError(
            f"{name} {path}: cannot make a directory there ({exc.strerror})"
        ) from None


def check_baseline(path: Path, name: str) -> None:
    """``path`` is, or may later be, a place of trace files: a directory or a ``.sqlite``
    file. One that does not exist yet is fine (the first build has no CI cache yet), unless
    a part of it is a file."""
    existing = _nearest_existing(path)
    if existing == path:
        if not (path.is_dir() or is_run_file(path)):
            raise pytest.UsageError(f"{name} {path}: not a directory nor a trace file (.sqlite)")
    elif not existing.is_dir():
        raise pytest.UsageError(_not_a_directory(path, existing, name))


def _not_a_directory(path: Path, existing: Path, name: str) -> str:
    if existing == path:
        return f"{name} {path}: not a directory"
    return f"{name} {path}: {existing} is not a directory"


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest parent that exists (the root always does)."""
    while not os.path.exists(path) and path != path.parent:  # False where it cannot look
        path = path.parent
    return path
