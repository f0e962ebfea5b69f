"""Which event path records: the compiled one, or the pure-Python one.

The build compiles the modules that run inside the ``sys.monitoring`` callbacks with mypyc
where it can (``setup.py``), and Python imports a compiled module before the source
beside it. Both paths run the same source, so they behave the same; the compiled one is
faster. The sources are loaded instead, by a finder placed first on ``sys.meta_path``,
when ``PYTEST_SCOPE_PURE_PYTHON=1`` asks for them, and when the compiled modules were built
from other sources than those beside them: the build records a hash of each source it
compiled (``compiled-sources.json``), and a checkout whose ``recorder.py`` was edited after
an editable install must run the edited recorder, not the old one.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PURE_PYTHON_VARIABLE = "PYTEST_SCOPE_PURE_PYTHON"
# Written by the build beside the compiled modules of ``capture``: module -> sha256 of the
# source it was compiled from.
COMPILED_SOURCES = "compiled-sources.json"
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


def source_digest(source: Path) -> str:
    """What the build records of a source it compiled, and what is checked against it."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def changed_sources(project_dir: Path) -> list[str]:
    """The sources of ``MODULES`` under ``project_dir`` that differ from those the compiled
    modules beside them were built from (as ``source_path`` names them, without the package):
    all of them when the build left no readable record; none when nothing is compiled."""
    capture_dir = project_dir / _ROOT / "capture"
    if not any(
        (capture_dir / f"recorder{suffix}").is_file()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    ):
        return []
    try:
        recorded = json.loads((capture_dir / COMPILED_SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    if not isinstance(recorded, dict):
        recorded = {}
    changed = []
    for name in MODULES:
        try:
            current = source_digest(project_dir / source_path(name))
        except OSError:
            continue  # no source to fall back on: the compiled module is all there is
        if recorded.get(name) != current:
            changed.append(source_path(name).removeprefix(f"{_ROOT}/"))
    return changed


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


# The event path's sources changed since its compiled modules were built: the reason the
# sources run, for the summary (set by ``choose_event_path``).
_stale: list[str] = []


def choose_event_path() -> None:
    """Load the sources from here on where the environment asks for the pure-Python path,
    or where the compiled modules were built from other sources (hashing them costs about
    half a millisecond, and only where something is compiled)."""
    global _stale
    if any(isinstance(finder, _SourcesFirst) for finder in sys.meta_path):
        return
    _stale = [] if pure_python_requested() else changed_sources(_PROJECT_DIR)
    if pure_python_requested() or _stale:
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
    if _stale:
        return (
            f"recording ran in pure Python: the compiled event path was built from other"
            f" sources than {', '.join(_stale)} (slower; install again to compile them)"
        )
    return (
        "recording ran in pure Python: the compiled event path is not built here"
        " (slower; docs/pages/guide.md, 'The compiled event path')"
    )
