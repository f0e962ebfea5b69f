"""Recorded values as DAP variables, expanded one level per request.

A value's children get a reference only when the editor shows the value, so a large
object costs nothing until it is opened; references last until the next stop, as the
protocol allows (``clear``). Each variable carries the path that ``evaluate`` and the
prompt's ``p`` take back (``stock.levels['pear']``), for the editor's "add to watch".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replay.reading.format_facts import names_without_assertion_temporaries
from replay.views.text_view import format_value

Listing = Callable[[], list[dict[str, Any]]]


def _children(value: Any) -> list[tuple[str, str | None, Any]]:
    """The parts of a recorded value to expand: ``(name, path suffix, value)``; a set's
    items have no path (a set is not subscripted)."""
    if isinstance(value, list | tuple):
        return [(f"[{i}]", f"[{i}]", item) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return []
    if "$type" not in value:
        return [(str(key), f"[{key!r}]", item) for key, item in value.items()]
    if value.get("$depth") or value.get("$cycle") or value.get("$redacted"):
        return []
    attrs, items, kind = value.get("attrs"), value.get("items"), value.get("$kind")
    children: list[tuple[str, str | None, Any]] = []
    if isinstance(items, list):
        if kind == "mapping":
            children = [
                (format_value(item[0], 80), f"[{item[0]!r}]", item[1])
                for item in items
                if isinstance(item, list) and len(item) == 2
            ]
        else:
            positioned = kind != "set"
            children = [
                (f"[{i}]", f"[{i}]" if positioned else None, item) for i, item in enumerate(items)
            ]
    if isinstance(attrs, dict):
        children += [(str(key), f".{key}", item) for key, item in attrs.items()]
    return children


def arrow(old: Any, new: Any) -> str:
    """A change in one line, as a history lists it."""
    return f"{format_value(old, 80)} → {format_value(new, 80)}"


def type_name(value: Any) -> str:
    """The type the editor shows: the recorded ``$type``, or the JSON value's own."""
    if isinstance(value, dict) and "$type" in value:
        return str(value["$type"])
    names = {list: "list", tuple: "tuple", dict: "dict", str: "str", bool: "bool", int: "int"}
    return names.get(type(value), "float" if type(value) is float else "None")


class ValueReferences:
    """The variables references of one stop: each lists a scope's or a value's parts."""

    def __init__(self) -> None:
        self._listings: dict[int, Listing] = {}

    def clear(self) -> None:
        self._listings.clear()

    def listing(self, reference: Any) -> Listing | None:
        return self._listings.get(reference) if type(reference) is int else None

    def remember(self, listing: Listing) -> int:
        reference = len(self._listings) + 1
        self._listings[reference] = listing
        return reference

    def reference(self, value: Any, path: str | None) -> int:
        """0 for a value without parts (as the protocol has it), else a new reference.
        ``path`` reaches the value, if a path can."""
        children = _children(value)
        if not children:
            return 0
        return self.remember(
            lambda: [
                self.variable(name, item, None if path is None or suffix is None else path + suffix)
                for name, suffix, item in children
            ]
        )

    def variable(self, name: str, value: Any, path: str | None) -> dict[str, Any]:
        variable = {
            "name": name,
            "value": format_value(value),
            "type": type_name(value),
            "variablesReference": self.reference(value, path),
        }
        if path is not None:
            variable["evaluateName"] = path
        return variable

    def scope(self, name: str, names: dict[str, Any], hint: str | None) -> dict[str, Any]:
        """A scope of named values (locals, pytest's assertion temporaries left out)."""
        reference = self.remember(
            lambda: [
                self.variable(key, value, key if key.isidentifier() else None)
                for key, value in names_without_assertion_temporaries(names).items()
            ]
        )
        scope: dict[str, Any] = {"name": name, "variablesReference": reference, "expensive": False}
        if hint:
            scope["presentationHint"] = hint
        return scope
