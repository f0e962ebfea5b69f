"""Which locals each line of a code object names, and how, read once from its bytecode.

A line can change only what it reaches: the locals it loads, stores or deletes, and the
objects they hold. How far it can reach depends on what the line does:

- a line that calls (a function, a method, ``__enter__``), stores into an attribute or
  an item, deletes one, updates in place (``+=``), subscripts (``__missing__``) or
  iterates may change anything reachable from what it names: those names are *deep*,
  and the recorder walks their objects within the bounds at the next step;
- any other line only reads: what it names cannot have changed through it, so those
  names are *shallow*: the recorder compares their bindings and their objects' own
  contents, not what lies below.

A local that a line stores is deep either way: its object may be new. A local that a line
stores or deletes before it loads it *drops* the object it held (``x = [i]``, ``del x``,
``for x in ...``, not ``x = [x]``): if that name alone held it, the object dies on that
line (the recorder forgets its number, see ``objects``).
See docs/pages/design.md, "What a step checks".
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
_STORING_OPS: Final = frozenset(
    {"STORE_FAST", "STORE_FAST_STORE_FAST", "STORE_DEREF", "STORE_NAME"}
)
# Instructions that let go of what a function's own local (not a cell) held.
_DROPPING_OPS: Final = frozenset({"STORE_FAST", "STORE_FAST_STORE_FAST", "DELETE_FAST"})
# Instructions that may run code which changes what the line reaches.
_REACHING_OPS: Final = frozenset(
    {
        "CALL", "CALL_KW", "CALL_FUNCTION_EX", "CALL_INTRINSIC_1", "CALL_INTRINSIC_2",
        "STORE_ATTR", "STORE_SUBSCR", "STORE_SLICE", "DELETE_ATTR", "DELETE_SUBSCR",
        "BINARY_SUBSCR", "BINARY_SLICE", "GET_ITER", "FOR_ITER", "SEND", "UNPACK_SEQUENCE",
        "UNPACK_EX", "BEFORE_WITH", "BEFORE_ASYNC_WITH", "WITH_EXCEPT_START",
        "GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "DICT_MERGE", "DICT_UPDATE",
        "LIST_EXTEND", "SET_UPDATE",
    }
)  # fmt: skip
# Instructions that name a global or a class body's name (``co_names``), and 3.13's pairs.
_NAME_OPS: Final = frozenset({"LOAD_NAME", "STORE_NAME", "DELETE_NAME"})
_PAIR_OPS: Final = frozenset(
    {"LOAD_FAST_LOAD_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST"}
)
_FIRST_INPLACE_OP: Final = 13  # BINARY_OP's argument for += and the other in-place forms
_OPNAMES: Final = tuple(dis.opname)
_CACHE: Final = dis.opmap["CACHE"]
_EXTENDED_ARG: Final = dis.EXTENDED_ARG
_NONE: Final[tuple[str, ...]] = ()


class LineNames:
    """The deep and the shallow names of one line, and the locals it drops."""

    __slots__ = ("deep", "drops", "shallow")

    def __init__(
        self, deep: tuple[str, ...], shallow: tuple[str, ...], drops: tuple[str, ...] = _NONE
    ) -> None:
        self.deep = deep
        self.shallow = shallow
        self.drops = drops


NO_NAMES: Final = LineNames(_NONE, _NONE)


def line_names(code: CodeType) -> dict[int, LineNames]:
    """``{line: LineNames}`` for every line of ``code`` that names a local."""
    named: dict[int, dict[str, None]] = {}
    stored: dict[int, dict[str, None]] = {}
    first_drops: dict[int, dict[str, bool]] = {}  # whether a name's first use drops it
    reaching: set[int] = set()
    for line, opname, arg in _instructions(code):
        if opname in _REACHING_OPS or (opname == "BINARY_OP" and arg >= _FIRST_INPLACE_OP):
            reaching.add(line)
        if opname not in _NAMING_OPS:
            continue
        found = _names(code, opname, arg)
        named.setdefault(line, {}).update(dict.fromkeys(found))
        if opname in _STORING_OPS:
            stored.setdefault(line, {}).update(dict.fromkeys(found))
        elif opname == "STORE_FAST_LOAD_FAST":
            stored.setdefault(line, {})[found[0]] = None
        uses = first_drops.setdefault(line, {})
        for position, name in enumerate(found):
            drop = opname in _DROPPING_OPS or (opname == "STORE_FAST_LOAD_FAST" and not position)
            uses.setdefault(name, drop)
    table = {}
    for line, names in named.items():
        drops = tuple(name for name, drop in first_drops.get(line, {}).items() if drop)
        if line in reaching:
            table[line] = LineNames(tuple(names), _NONE, drops)
        else:
            deep = stored.get(line, {})
            shallow = tuple(name for name in names if name not in deep)
            table[line] = LineNames(tuple(deep), shallow, drops)
    return table


def _instructions(code: CodeType) -> list[tuple[int, str, int]]:
    """(line, operation, argument) of each instruction of ``code`` that has a line.

    Read from the bytecode directly rather than through ``dis.get_instructions``, which
    also builds each instruction's description (the repr of its constant, its jump
    target...): about 1.8 ms per function of the test suites measured, at the first step
    of each. ``co_code`` is the bytecode as compiled (no specialization, nor
    instrumentation), its inline caches zeroed: a code unit whose operation is ``CACHE``
    (0) belongs to the instruction before it. Each unit has a position
    (``co_positions``); an ``EXTENDED_ARG`` prefix carries the high bits of the next
    instruction's argument."""
    found: list[tuple[int, str, int]] = []
    units = code.co_code
    extended = 0
    for index, position in enumerate(code.co_positions()):
        operation = units[2 * index]
        if operation == _CACHE:
            continue
        arg = units[2 * index + 1] | extended
        if operation == _EXTENDED_ARG:
            extended = arg << 8
            continue
        extended = 0
        line = position[0]
        if line is not None:
            found.append((line, _OPNAMES[operation], arg))
    return found


def _names(code: CodeType, opname: str, arg: int) -> tuple[str, ...]:
    """The local (or two) that an instruction of ``_NAMING_OPS`` names, by its argument."""
    if opname in _NAME_OPS:
        return (code.co_names[arg],)
    local = code._varname_from_oparg  # type: ignore[attr-defined]
    if opname in _PAIR_OPS:  # 3.13: two locals' indices, 4 bits each
        return (local(arg >> 4), local(arg & 15))
    return (local(arg),)
