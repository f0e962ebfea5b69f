"""The recording plan: what to record of each code object, decided once per file.

Test files and conftests are recorded line by line (they are short, and the failure is
there); the project's own code (files under the rootdir, and the packages of the
distribution defined at the rootdir wherever they are installed) records calls, returns,
yields and exceptions with values; everything else is left to run at full speed. The
user's include patterns widen that to other code (a library, at the calls level), and
exclude patterns narrow it; exclusion wins.
"""

from __future__ import annotations

import enum
import fnmatch
import importlib.metadata
import os
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePath
from types import CodeType

# The tool's packages sit beside its own, found from its __init__: the compiled build names
# this module's __file__ by the shared library of the whole event path, one folder up.
_OWN_PACKAGES = tuple(
    str(Path(sys.modules["pytest_scope"].__file__ or "").resolve().parent.parent / name) + os.sep
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
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
    ) -> None:
        self.rootdir = str(rootdir.resolve()) + os.sep
        self._test_file_patterns = [*test_file_patterns, "conftest.py"]
        self._forced = {"calls": Level.CALLS, "lines": Level.LINES}.get(level or "")
        self._include = FilePatterns(include, self.rootdir)
        self._exclude = FilePatterns(exclude, self.rootdir)
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
        if self._exclude.match(filename):
            return Level.SKIP
        level = self._default_level(filename)
        if level is Level.SKIP and self._include.match(filename):
            return self._forced or Level.CALLS
        return level

    def _default_level(self, filename: str) -> Level:
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


class FilePatterns:
    """``--scope-include``/``--scope-exclude`` patterns, matched against one file.

    A pattern with a ``/`` or ending in ``.py`` is a path glob, relative to the rootdir
    unless absolute; it also matches everything under a directory it names. Any other
    pattern is a module-name glob (``mypkg.core*``) that also matches submodules.
    """

    def __init__(self, patterns: Iterable[str], rootdir: str) -> None:
        self._rootdir = rootdir
        self._paths: list[str] = []
        self._modules: list[str] = []
        for pattern in patterns:
            if "/" in pattern or "\\" in pattern or pattern.endswith(".py"):
                self._paths.append(PurePath(pattern).as_posix().rstrip("/"))
            else:
                self._modules.append(pattern)

    def __bool__(self) -> bool:
        return bool(self._paths or self._modules)

    def match(self, filename: str) -> bool:
        if self._paths:
            paths = [PurePath(filename).as_posix()]
            if filename.startswith(self._rootdir):
                paths.append(PurePath(filename[len(self._rootdir) :]).as_posix())
            for pattern in self._paths:
                for path in paths:
                    if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(
                        path, pattern + "/*"
                    ):
                        return True
        if self._modules:
            module = module_name(filename, self._rootdir)
            for pattern in self._modules:
                if module is not None and (
                    fnmatch.fnmatchcase(module, pattern)
                    or fnmatch.fnmatchcase(module, pattern + ".*")
                ):
                    return True
        return False


def module_name(filename: str, rootdir: str) -> str | None:
    """The dotted name a file is imported by: its path below the longest ``sys.path`` entry
    that holds it (the rootdir if none does), without ``.py`` and ``__init__``."""
    if not filename.endswith(".py"):
        return None
    bases = [os.path.abspath(entry or os.curdir) for entry in sys.path if isinstance(entry, str)]
    holding = [
        base for base in [*bases, rootdir] if filename.startswith(base.rstrip(os.sep) + os.sep)
    ]
    if not holding:
        return None
    base = max(holding, key=len).rstrip(os.sep) + os.sep
    parts = list(PurePath(filename[len(base) : -len(".py")]).parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or None


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
