"""File names as recordings store and compare them.

Kept apart from the writer so that replay, which compares recordings, imports no SQLite
writing machinery.
"""

from __future__ import annotations

import os


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
