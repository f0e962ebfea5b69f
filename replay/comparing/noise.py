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

*Hashes*: ``hash()`` of a str or bytes (and of anything holding one) is randomized per
process unless ``PYTHONHASHSEED`` fixes it, so cached hashes and hash-ordered values differ
between runs. A random 64-bit hash is at least ``2**40`` in magnitude but for 1 in 2**23,
so two differing ints (or int-like reprs, an int subclass) of magnitude from ``2**40`` to
below ``2**63`` are taken as hashes, and so are two texts equal once their numbers of 13
to 19 digits are blanked (code generated with a hash in it). A real value of that size
that differs (a large computed number) is set aside too: every view lists what it set
aside, so it still shows.

*Truncated sets*: the recorder keeps the first elements of a large set in its iteration
order, which follows the elements' hashes (randomized for texts) and the set's history, so
two runs keep other elements of the same set. Two sets cut short at the same size whose
kept elements differ are not known to differ; a different size is a difference.

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
HASH: Final = "hash"
REDACTED: Final = "redacted"
TRUNCATED_SET: Final = "truncated set"
_LOWEST_ADDRESS: Final = 2**32
_ADDRESS_LIMIT: Final = 2**48
_ALIGNMENT: Final = 16
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8,16}")
_LOWEST_HASH: Final = 2**40
_HASH_LIMIT: Final = 2**63
_INT_TEXT = re.compile(r"-?[0-9]{13,19}")
_HASH_IN_TEXT = re.compile(r"(?<![0-9])-?[0-9]{13,19}(?![0-9])")


def why_not_a_difference(this: Any, against: Any) -> str | None:
    """Why two recorded values that differ are the same value as far as a recording can
    tell (``ADDRESS``, ``HASH``, ``REDACTED``, ``TRUNCATED_SET``); None if they are a
    difference."""
    if _is_address(this) and _is_address(against):
        return ADDRESS
    if _is_hash(_as_int(this)) and _is_hash(_as_int(against)):
        return HASH
    if _redacted_alike(this, against) or _redacted_alike(against, this):
        return REDACTED
    if _truncated_sets_alike(this, against):
        return TRUNCATED_SET
    mine, theirs = _text(this), _text(against)
    if mine is None or theirs is None:
        return None
    if _HEX_ADDRESS.search(mine) and _HEX_ADDRESS.sub("0x", mine) == _HEX_ADDRESS.sub("0x", theirs):
        return ADDRESS
    if _HASH_IN_TEXT.search(mine) and _HASH_IN_TEXT.sub("#", mine) == _HASH_IN_TEXT.sub(
        "#", theirs
    ):
        return HASH
    return None


def _is_address(value: Any) -> bool:
    return (
        type(value) is int and _LOWEST_ADDRESS <= value < _ADDRESS_LIMIT and value % _ALIGNMENT == 0
    )


def _is_hash(value: int | None) -> bool:
    return value is not None and _LOWEST_HASH <= abs(value) < _HASH_LIMIT


def _as_int(value: Any) -> int | None:
    """A recorded int, or the int a form's repr spells (an int subclass); else None."""
    if type(value) is int:
        return value
    text = _text(value) if type(value) is dict else None
    return int(text) if text is not None and _INT_TEXT.fullmatch(text) else None


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


def _truncated_sets_alike(this: Any, against: Any) -> bool:
    """Whether two recorded sets were cut short at the same size: which elements each kept
    depends on its iteration order, not on what it holds."""
    if type(this) is not dict or type(against) is not dict:
        return False
    return (
        this.get("$kind") == against.get("$kind") == "set"
        and "$truncated" in this
        and this.get("$truncated") == against.get("$truncated")
        and this.get("$type") == against.get("$type")
    )


def _text(value: Any) -> str | None:
    """A recorded value as text: a plain str, or a form shown by its ``repr``."""
    if type(value) is str:
        return value
    if type(value) is dict and "$type" in value:
        shown = value.get("repr")
        return shown if type(shown) is str else None
    return None
