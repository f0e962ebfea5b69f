"""A small shop project (a cart and its suite) recorded with ``pytest --scope`` in a process
of its own: its ``test_total`` passes with CART_OK=1 and fails without, ``test_hostile``
always fails with markup in its values. The artifact, viewer and browser tests record it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.recordings import run_pytest

CART = """
class Cart:
    def __init__(self):
        self.items = {}

    def add(self, sku, count):
        self.items[sku] = self.items.get(sku, 0) + count
        return len(self.items)


def total(cart, prices):
    amount = 0
    for sku, count in cart.items.items():
        amount += prices[sku] * count
    return amount
"""

SUITE = r"""
import os

from cart import Cart, total


def test_total():
    cart = Cart()
    prices = {"apple": 3, "pear": 5}
    cart.add("apple", 2)
    cart.add("pear", 1)
    cart.add("apple", 1)
    amount = total(cart, prices)
    expected = 14 if os.environ.get("CART_OK") else 99
    assert amount == expected


def test_hostile():
    script = "</script><script>window.__pwned = 1</script>"
    image = '<img src=x onerror="window.__pwned = 2; alert(1)">'
    nested = {"<b>key</b>": [script, image], "{{script}}": "{{data}}"}
    marker = "\u2028</SCRIPT >&amp;<!-- {{csp}}"
    assert not nested, image


def test_passes():
    assert Cart().add("plum", 1) == 1
"""


def pytest_run(root: Path, *args: str, ok: bool = False) -> subprocess.CompletedProcess[str]:
    """``pytest --scope ARGS`` in the project: ``test_total`` passes if ``ok``, else fails."""
    env = {name: value for name, value in os.environ.items() if name != "CART_OK"}
    if ok:
        env["CART_OK"] = "1"
    return run_pytest(root, *args, env=env)


def make_project(root: Path) -> Path:
    """The project written into ``root``; ``root``."""
    (root / "cart.py").write_text(CART)
    (root / "test_cart.py").write_text(SUITE)
    return root
