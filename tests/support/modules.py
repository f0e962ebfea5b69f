"""Test code written to a file and imported from it: the recorder plans code by its file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def module_from_source(path: Path, source: str) -> ModuleType:
    """Write ``source`` to ``path`` and import it as a module named after the file."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
