"""File names as recordings store and compare them.

Recordings of one test made in two checkouts (two CI builds, a developer's clone and a
runner's) name its files by two absolute paths; comparing them uses ``project_path``,
the same for both. Kept apart from the writer so that replay, which compares
recordings, imports no SQLite writing machinery.
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import Final

_INSTALL_DIRS: Final = ("site-packages", "dist-packages")


def one_path(filename: str) -> str:
    """One spelling of a file however it was imported.

    A test suite that puts ``tests/..`` on ``sys.path`` imports ``tests/../pkg/mod.py``
    where another run imports ``pkg/mod.py``; recordings of the two must name one file,
    or comparing them sees every call as a different function. Names such as
    ``<string>`` are not paths and stay as they are.
    """
    if filename.startswith("<"):
        return filename
    return os.path.normpath(filename)


def project_path(filename: str, rootdir: str | None) -> str:
    """``filename`` as two checkouts or environments of one project agree on it: relative
    to the recording's rootdir when under it, relative to ``site-packages`` for an
    installed module, else in its one spelling."""
    path = one_path(filename)
    if path.startswith("<"):
        return path
    if rootdir:
        root = one_path(rootdir)
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return path[len(root.rstrip(os.sep)) + 1 :]
    parts = PurePath(path).parts
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in _INSTALL_DIRS:
            return "/".join(parts[index:])
    return path
