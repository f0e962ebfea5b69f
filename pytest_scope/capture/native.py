"""The C extensions of the event path (``setup.py``): the native line and generator steps
(``_steps.c``), the rebinding check (``_rebinding.c``) and the walk of a step's
objects (``_sameparts.c``), each loaded by the module of the event path that uses it."""

from __future__ import annotations

import importlib
from types import ModuleType


def native_extension(name: str, module_file: str | None) -> ModuleType | None:
    """The C extension ``pytest_scope.capture.<name>`` (``setup.py``) for a module of the
    event path whose ``__file__`` is ``module_file``: only where that module runs compiled
    (the pure-Python path stays pure, and the extensions read what the compiled modules
    build), and only where the extension was built."""
    if (module_file or "").endswith(".py"):
        return None
    try:
        return importlib.import_module(f"pytest_scope.capture.{name}")
    except ImportError:
        return None
