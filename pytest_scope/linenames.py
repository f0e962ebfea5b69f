"""Which locals each line of a code object names, read once from its bytecode.

A line can change only what it names: the locals it loads, stores or deletes (and, through
them, the objects they hold, which it may mutate by an attribute or item store or a method
call). The recorder checks those at the step after the line ran, and nothing else of the
frame (see docs/design.md, "What a step checks").
"""

from __future__ import annotations

import dis
from types import CodeType
from typing import Final

# Instructions whose argument is a local's name (a tuple of two for 3.13's pairs).
_NAMING_OPS: Final = frozenset(
    {
        "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "STORE_FAST", "DELETE_FAST",
        "LOAD_FAST_LOAD_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST",
        "LOAD_DEREF", "STORE_DEREF", "DELETE_DEREF", "LOAD_CLOSURE",
        "LOAD_FROM_DICT_OR_DEREF", "LOAD_NAME", "STORE_NAME", "DELETE_NAME",
    }
)  # fmt: skip
_NONE: Final[tuple[str, ...]] = ()

LineNames = dict[int, tuple[str, ...]]


def line_names(code: CodeType) -> LineNames:
    """``{line: (name, ...)}`` for every line of ``code`` that names a local."""
    found: dict[int, dict[str, None]] = {}
    for instruction in dis.get_instructions(code):
        if instruction.opname not in _NAMING_OPS:
            continue
        line = instruction.positions.lineno if instruction.positions else None
        if line is None:
            continue
        names = instruction.argval
        ordered = found.setdefault(line, {})
        if type(names) is tuple:
            for name in names:
                ordered[name] = None
        elif type(names) is str:
            ordered[names] = None
    return {line: tuple(names) for line, names in found.items()}


def names_at(table: LineNames, line: int) -> tuple[str, ...]:
    return table.get(line, _NONE)
