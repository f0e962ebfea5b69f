"""MkDocs hook: the trace file page shows the format as ``pytest_scope/trace/schema.py``
states it, so that the contract is written once.

A page marks where a part of the module goes with ``<!-- schema: NAME -->``: ``docstring``
(the module docstring, field by field), or ``SCHEMA`` / ``ORIGINS_SCHEMA`` (the tables, as an
SQL block). The module is read from its file: the docs build installs nothing, and the
module imports only the standard library.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "pytest_scope" / "trace" / "schema.py"
MARKER = re.compile(r"<!-- schema: (\w+) -->")


def load_schema(path: Path = SCHEMA_FILE) -> ModuleType:
    spec = importlib.util.spec_from_file_location("trace_schema", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(markdown: str, schema: ModuleType) -> str:
    """``markdown`` with each marker replaced by the part of ``schema`` it names."""

    def part(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "docstring":
            # reST's "paragraph::" before a literal block reads as "paragraph:" in Markdown.
            return re.sub(r"::\n", ":\n", schema.__doc__ or "")
        text = getattr(schema, name, None)
        if not isinstance(text, str):
            raise ValueError(f"schema.py has no text named {name!r}")
        return f"```sql\n{text}```"

    return MARKER.sub(part, markdown)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER.search(markdown) is None:
        return markdown
    return render(markdown, load_schema())
