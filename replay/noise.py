"""Differences between two recordings that say nothing about the code: set aside, not counted.

Two runs of the same code differ in values no run can reproduce. *Addresses*: ``id()``
results and the ``0x...`` in default reprs change with every process (``copy.deepcopy``
keys its memo by ``id()``). The recording keeps plain ints, so an address is known by its
look: an int in the range where 64-bit platforms put their heap (from ``2**32`` to below
``2**48``) that is a multiple of 16 (CPython aligns every object to 16 bytes). Two such
ints that differ are taken as addresses, and so are two texts equal once their
hexadecimal numbers of 8 to 16 digits after ``0x`` are blanked. A real value is set aside
wrongly only if *both* of its values fall in that range on that alignment (1 in 256 for
two millisecond timestamps); a 32-bit platform's addresses are below the range and stay
differences.
"""

from __future__ import annotations

import re
from typing import Any, Final

ADDRESS: Final = "address"
_LOWEST_ADDRESS: Final = 2**32
_ADDRESS_LIMIT: Final = 2**48
_ALIGNMENT: Final = 16
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8,16}")


def why_not_a_difference(this: Any, against: Any) -> str | None:
    """Why two recorded values that differ are the same value as far as a recording can
    tell (``ADDRESS``); None if they are a difference."""
    if _is_address(this) and _is_address(against):
        return ADDRESS
    mine, theirs = _text(this), _text(against)
    if (
        mine is not None
        and theirs is not None
        and _HEX_ADDRESS.search(mine)
        and _HEX_ADDRESS.sub("0x", mine) == _HEX_ADDRESS.sub("0x", theirs)
    ):
        return ADDRESS
    return None


def _is_address(value: Any) -> bool:
    return (
        type(value) is int and _LOWEST_ADDRESS <= value < _ADDRESS_LIMIT and value % _ALIGNMENT == 0
    )


def _text(value: Any) -> str | None:
    """A recorded value as text: a plain str, or a form shown by its ``repr``."""
    if type(value) is str:
        return value
    if type(value) is dict and "$type" in value:
        shown = value.get("repr")
        return shown if type(shown) is str else None
    return None
