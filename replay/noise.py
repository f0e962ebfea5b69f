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

*Redacted values*: a value is redacted where the recorder knew it was secret, and what it
knows grows during a test (``pytest_scope.capture.redaction``), so the same value can be
redacted in one run and not in the other. A secret name's value (``{"$redacted": true}``)
stands for any value, and a text with ``REDACTED_TEXT`` in place of its secrets (a form
marked ``"$redacted"``) for any text that it spells with those places filled.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pytest_scope.trace.schema import REDACTED_TEXT

ADDRESS: Final = "address"
REDACTED: Final = "redacted"
_LOWEST_ADDRESS: Final = 2**32
_ADDRESS_LIMIT: Final = 2**48
_ALIGNMENT: Final = 16
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8,16}")


def why_not_a_difference(this: Any, against: Any) -> str | None:
    """Why two recorded values that differ are the same value as far as a recording can
    tell (``ADDRESS``, ``REDACTED``); None if they are a difference."""
    if _is_address(this) and _is_address(against):
        return ADDRESS
    if _redacted_alike(this, against) or _redacted_alike(against, this):
        return REDACTED
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


def _redacted_alike(redacted: Any, other: Any) -> bool:
    """Whether ``redacted``, a value redacted in one recording, can stand for ``other``."""
    if type(redacted) is not dict or redacted.get("$redacted") is not True:
        return False
    if len(redacted) == 1:  # a secret name's value: nothing of it was recorded
        return True
    shown, text = _text(redacted), _text(other)
    if shown is None or text is None or REDACTED_TEXT not in shown:
        return False
    pattern = ".+?".join(re.escape(part) for part in shown.split(REDACTED_TEXT))
    return re.fullmatch(pattern, text, re.DOTALL) is not None


def _text(value: Any) -> str | None:
    """A recorded value as text: a plain str, or a form shown by its ``repr``."""
    if type(value) is str:
        return value
    if type(value) is dict and "$type" in value:
        shown = value.get("repr")
        return shown if type(shown) is str else None
    return None
