"""Which event path records: the compiled one, or the pure-Python one.

The build compiles the modules that run inside the ``sys.monitoring`` callbacks with mypyc
where it can (``setup.py``), and Python imports a compiled module before the source
beside it. Both paths run the same source, so they behave the same; the compiled one is
faster. ``PYTEST_SCOPE_PURE_PYTHON=1`` asks for the sources: a finder placed first on
``sys.meta_path`` loads this package's modules from their ``.py`` files.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PURE_PYTHON_VARIABLE = "PYTEST_SCOPE_PURE_PYTHON"
# What a step runs, named under ``pytest_scope``: the callbacks, the object table, value
# encoding, redaction, the plan (consulted at each new code object) and the ring buffer
# with the trace format's packer.
MODULES = (
    "capture.buffer",
    "capture.linenames",
    "capture.objects",
    "capture.plan",
    "capture.recorder",
    "capture.redaction",
    "capture.values",
    "trace.codec",
)
_ROOT = "pytest_scope"


def source_path(module: str) -> str:
    """The source of one of ``MODULES``, relative to the project: what the build compiles."""
    return f"{_ROOT}/{module.replace('.', '/')}.py"


# This file is pytest_scope/capture/event_path.py.
_PROJECT_DIR = Path(__file__).resolve().parents[2]
_SOURCES = {f"{_ROOT}.{name}": _PROJECT_DIR / source_path(name) for name in MODULES}
_MODULE_FILES = frozenset(_SOURCES.values())
# How compiled code names its own frames in a traceback: by the path it was built from.
_COMPILED_NAMES = frozenset(source_path(name) for name in MODULES)


def in_event_path(filename: str) -> bool:
    """Whether ``filename`` (of a frame, or of a compiled module's traceback entry) is one
    of the modules that run inside the callbacks."""
    if filename in _COMPILED_NAMES:
        return True
    path = Path(filename)
    return path.is_absolute() and path.resolve() in _MODULE_FILES


def pure_python_requested() -> bool:
    return os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0")


class _SourcesFirst:
    """Finds this package's modules as sources, even where a compiled one sits beside."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = _SOURCES.get(name)
        if source is None or not source.is_file():
            return None
        return importlib.util.spec_from_file_location(name, source)


def use_sources_if_requested() -> None:
    """Load the sources from here on, if the environment asks for the pure-Python path."""
    if pure_python_requested() and not any(
        isinstance(finder, _SourcesFirst) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _SourcesFirst())


def compiled() -> bool:
    """Whether the recorder in use is the compiled one."""
    from pytest_scope.capture import recorder

    return not (recorder.__file__ or "").endswith(".py")


def summary_note() -> str | None:
    """One line for the end-of-run summary when recording ran in pure Python."""
    if compiled():
        return None
    if pure_python_requested():
        return f"recording ran in pure Python, as {PURE_PYTHON_VARIABLE} asks (slower)"
    return (
        "recording ran in pure Python: the compiled event path is not built here"
        " (slower; README, 'The compiled event path')"
    )
