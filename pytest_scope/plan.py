"""The recording plan: what to record of each code object, decided once per file.

Test files and conftests are recorded line by line (they are short, and the failure is
there); the project's own code (files under the rootdir, and the packages of the
distribution defined at the rootdir wherever they are installed) records calls, returns,
yields and exceptions with values; everything else is left to run at full speed.
"""

from __future__ import annotations

import enum
import fnmatch
import importlib.metadata
import os
import tomllib
from pathlib import Path
from types import CodeType

_OWN_PACKAGES = tuple(
    str(Path(__file__).resolve().parent.parent / name) + os.sep
    for name in ("pytest_scope", "replay")
)
# Directories under a rootdir that hold other people's code (virtualenvs, tox, caches).
_FOREIGN_DIR_NAMES = frozenset(
    {
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        "site-packages",
        "dist-packages",
        "node_modules",
        ".git",
    }
)


class Level(enum.IntEnum):
    SKIP = 0
    CALLS = 1
    LINES = 2


class Plan:
    """Classifies code objects by their file; the result is cached per file name."""

    def __init__(
        self,
        rootdir: Path,
        test_file_patterns: list[str],
        level: str | None = None,
    ) -> None:
        self.rootdir = str(rootdir.resolve()) + os.sep
        self._test_file_patterns = [*test_file_patterns, "conftest.py"]
        self._forced = {"calls": Level.CALLS, "lines": Level.LINES}.get(level or "")
        self._installed_dirs = tuple(_installed_package_dirs(rootdir))
        self._by_file: dict[str, Level] = {}

    def level_for(self, code: CodeType) -> Level:
        if code.co_name == "<module>":
            return Level.SKIP  # module bodies run at import; their locals are the globals
        return self.level_for_file(code.co_filename)

    def level_for_file(self, filename: str) -> Level:
        level = self._by_file.get(filename)
        if level is None:
            level = self._by_file[filename] = self._classify(filename)
        return level

    def in_project(self, filename: str) -> bool:
        """Whether the file is the project's: its objects are worth showing in depth."""
        return self.level_for_file(filename) is not Level.SKIP

    def _classify(self, filename: str) -> Level:
        if not os.path.isabs(filename) or filename.startswith(_OWN_PACKAGES):
            return Level.SKIP
        if filename.startswith(self._installed_dirs):
            return self._forced or Level.CALLS
        if not filename.startswith(self.rootdir):
            return Level.SKIP
        relative_parts = Path(filename[len(self.rootdir) :]).parts
        if _FOREIGN_DIR_NAMES.intersection(relative_parts[:-1]):
            return Level.SKIP
        if any(
            fnmatch.fnmatch(relative_parts[-1], pattern) for pattern in self._test_file_patterns
        ):
            return self._forced or Level.LINES
        return self._forced or Level.CALLS


def _installed_package_dirs(rootdir: Path) -> list[str]:
    """Where the distribution defined at the rootdir is installed, outside the rootdir.

    tox and pip install the project into site-packages, so its code runs from there;
    like coverage.py's ``--source``, follow the distribution to wherever it lives.
    """
    try:
        with open(rootdir / "pyproject.toml", "rb") as pyproject:
            name = tomllib.load(pyproject)["project"]["name"]
        files = importlib.metadata.distribution(name).files or []
    except (OSError, KeyError, TypeError, ValueError, importlib.metadata.PackageNotFoundError):
        return []
    root = str(rootdir.resolve()) + os.sep
    dirs: set[str] = set()
    for file in files:
        if file.suffix != ".py" or ".." in file.parts:
            continue
        location = Path(str(file.locate())).resolve()
        if len(file.parts) == 1:
            top = str(location)  # a single-module distribution
        else:
            top = str(location.parents[len(file.parts) - 2]) + os.sep
        if not top.startswith(root) and not top.startswith(_OWN_PACKAGES):
            dirs.add(top)
    return sorted(dirs)
