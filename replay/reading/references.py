"""Values as a step shows them: object references resolved into whole forms, within bounds.

The recorder records each object once, by number, with ``{"$ref": N}`` wherever a local,
a return value, an exception, a watched object or another object holds it
(``pytest_scope.trace.schema``). A state shows values whole, so the references are followed
here, down to the same bounds the recorder keeps (``RESOLVE_DEPTH`` levels,
``RESOLVE_NODES`` values per top-level value), with an object inside itself marked
``"$cycle"`` and one past the depth limit ``"$depth"``. The result has the forms of a
recording without references, which every view and the comparison read, with what each
object is as a container (its entry's ``Container``) kept: a tuple resolves to a Python
tuple (an array in JSON, as a list), and any other container shown as a ``$type`` form
carries ``"$kind"`` (``"mapping"``, ``"sequence"``, ``"tuple"`` or ``"set"``), so that a
``dict`` subclass is indexed by key and a ``list`` subclass by position, whatever their
names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from pytest_scope.trace.schema import (
    CONTAINER_NAMES,
    MARKS,
    RESOLVE_DEPTH,
    RESOLVE_NODES,
    Container,
)

Entry = list[Any]  # [number, type name, shallow form or None, foreign, container]


class References:
    """Resolves the forms of one state against its object table."""

    def __init__(self, objects: dict[int, Entry]) -> None:
        self._objects = objects
        self._budget = 0
        self._path: set[int] = set()

    def resolve(self, form: Any) -> Any:
        """``form`` with every reference in it replaced by the object's form."""
        if type(form) is not dict and type(form) is not list:
            return form
        self._budget = RESOLVE_NODES
        self._path.clear()
        return self._resolve(form, 0)

    def _resolve(self, form: Any, depth: int) -> Any:
        self._budget -= 1
        kind = type(form)
        if kind is list:
            return self._sequence(form, depth, "list", "sequence")
        if kind is not dict:
            return form
        number = form.get("$ref")
        if number is not None and len(form) == 1:
            return self._object(number, depth)
        if "$type" not in form:
            return self._mapping(form, depth)
        resolved = dict(form)
        attrs = form.get("attrs")
        if type(attrs) is dict:
            resolved["attrs"], cut = self._values(attrs, depth)
            if cut:
                resolved["$truncated"] = form.get("$truncated", len(attrs))
        items = form.get("items")
        if type(items) is list:
            kept = self._kept(len(items))
            resolved["items"] = [self._item(item, depth + 1) for item in items[:kept]]
            if kept < len(items):
                resolved["$truncated"] = form.get("$truncated", len(items))
        return resolved

    def _item(self, item: Any, depth: int) -> Any:
        """An element of an ``"items"`` array. There an array is a dict's ``[key, value]``
        pair (any other list or tuple is an object of its own): both at the pair's depth."""
        if type(item) is list and len(item) == 2:
            return [self._resolve(item[0], depth), self._resolve(item[1], depth)]
        return self._resolve(item, depth)

    def _object(self, number: Any, depth: int) -> Any:
        entry = self._objects.get(number) if type(number) is int else None
        if entry is None:
            raise ValueError(f"a reference to object {number!r}, which the chunk lacks")
        _, name, form, foreign, container = entry
        kind = CONTAINER_NAMES[container]
        if form is None:
            return _with_kind({"$type": name, "$depth": True}, kind)
        if number in self._path:
            return _with_kind({"$type": name, "$cycle": True}, kind)
        if _expandable(form) and (depth >= RESOLVE_DEPTH or (depth and foreign)):
            return _with_kind({"$type": name, "$depth": True}, kind)
        self._path.add(number)
        try:
            if type(form) is list:
                return self._sequence(form, depth, name, kind)
            self._budget += 1  # the reference and the object are one node
            return _with_kind(self._resolve(form, depth), kind)
        finally:
            self._path.discard(number)

    def _sequence(self, items: list[Any], depth: int, name: str, kind: str | None) -> Any:
        """An array form: a list, or a tuple's elements (a Python tuple when whole)."""
        kept = self._kept(len(items))
        resolved = [self._resolve(item, depth + 1) for item in items[:kept]]
        if kept == len(items):
            return tuple(resolved) if kind == "tuple" else resolved
        return {"$type": name, "$kind": kind, "items": resolved, "$truncated": len(items)}

    def _mapping(self, form: dict[str, Any], depth: int) -> Any:
        resolved, cut = self._values(form, depth)
        if not cut:
            return resolved
        return {
            "$type": "dict",
            "$kind": "mapping",
            "items": [[key, value] for key, value in resolved.items()],
            "$truncated": len(form),
        }

    def _values(self, form: dict[str, Any], depth: int) -> tuple[dict[str, Any], bool]:
        kept = self._kept(len(form))
        resolved = {}
        for index, (key, value) in enumerate(form.items()):
            if index >= kept:
                break
            resolved[key] = self._resolve(value, depth + 1)
        return resolved, kept < len(form)

    def _kept(self, length: int) -> int:
        return min(length, max(self._budget, 0))


def reference(form: Any) -> int | None:
    """The number of the object ``form`` refers to, or None when it is a whole value."""
    if type(form) is dict and len(form) == 1 and type(form.get("$ref")) is int:
        number: int = form["$ref"]
        return number
    return None


def path_to(objects: dict[int, Entry], roots: Iterable[tuple[str, Any]], number: int) -> str | None:
    """How ``roots`` (a frame's locals, in order) reach object ``number``: the shortest path
    (``acc``, ``self.lines``, ``slt._index[1]``), the first root's on a tie; None beyond
    the depth the recorder walks. The viewer's ``pathTo`` is the same search."""
    queue = deque((name, form, 0) for name, form in roots)
    visited: set[int] = set()
    budget = RESOLVE_NODES
    while queue and budget > 0:
        budget -= 1
        text, form, depth = queue.popleft()
        found = reference(form)
        if found is not None:
            if found == number:
                return text
            entry = objects.get(found)
            if found in visited or entry is None:
                continue
            visited.add(found)
            form, container = entry[2], entry[4]
        else:
            container = Container.NONE
        if depth < RESOLVE_DEPTH:
            parts = _parts(form, container)
            queue.extend((text + key, child, depth + 1) for key, child in parts)
    return None


def _parts(form: Any, container: int) -> Iterator[tuple[str, Any]]:
    """A form's parts with the path syntax that reaches each: ``[0]``, ``['key']``, ``.name``.
    A set's items have no path (a set is not subscripted)."""
    if type(form) is list:
        for index, item in enumerate(form):
            yield f"[{index}]", item
    elif type(form) is dict and "$type" not in form:
        for key, value in form.items():
            if key not in MARKS:
                yield f"[{key!r}]", value
    elif type(form) is dict:
        attrs, items = form.get("attrs"), form.get("items")
        if type(attrs) is dict:
            for key, value in attrs.items():
                yield f".{key}", value
        if type(items) is list and container != Container.SET:
            mapping = container == Container.MAPPING
            for index, item in enumerate(items):
                if not mapping:
                    yield f"[{index}]", item
                elif type(item) is list and len(item) == 2 and _scalar_key(item[0]):
                    yield f"[{item[0]!r}]", item[1]


def _scalar_key(key: Any) -> bool:
    return key is None or type(key) in (str, int, bool)


def _expandable(form: Any) -> bool:
    """Whether a form has contents that the depth limit hides (a repr has none)."""
    return type(form) is list or (type(form) is dict and "repr" not in form)


def _with_kind(resolved: Any, kind: str | None) -> Any:
    """A container's ``$type`` form, with ``"$kind"`` after its type."""
    if kind is None or type(resolved) is not dict or "$type" not in resolved:
        return resolved
    return {"$type": resolved["$type"], "$kind": kind, **resolved}
