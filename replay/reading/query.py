"""Paths into recorded values (``self.items[3]``) and breakpoint conditions over them.

Recorded values are data, and user code is never run: a path or a condition is parsed with
``ast`` and only a handful of node kinds are accepted (names, attributes, constant
subscripts, comparisons, ``and``/``or``/``not``, constants and ``len``). They are then
walked over the JSON forms of ``pytest_scope.trace.schema``, where an object's attributes are its
``"attrs"`` and a container's elements its ``"items"``: a mapping's (its ``"$kind"``, see
``replay.reading.references``) by key, a sequence's or tuple's by position. The comparisons work on
builtin values only (numbers, strings, lists, dicts), so no ``__eq__`` of anyone's class is
called.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

MAX_EXPRESSION_CHARS: Final = 500


class ExpressionError(Exception):
    """A path or condition that cannot be parsed or resolved; the message says why."""


@dataclass(frozen=True, slots=True)
class Attr:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    key: int | str | float | bool | None


Key = Attr | Index


@dataclass(frozen=True, slots=True)
class Path:
    """A name and the attributes and subscripts after it, as the user wrote them."""

    name: str
    keys: tuple[Key, ...]

    def __str__(self) -> str:
        text = self.name
        for key in self.keys:
            text += f".{key.name}" if isinstance(key, Attr) else f"[{key.key!r}]"
        return text


def _parse(text: str) -> ast.expr:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExpressionError(f"{text.strip()!r} is not a valid expression") from None


def parse_path(text: str) -> Path:
    """``self.items[3]`` as a ``Path``; anything else (a call, an operator) is refused."""
    return _path(_parse(text), text)


def _path(node: ast.expr, text: str) -> Path:
    keys: list[Key] = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            keys.append(Attr(node.attr))
            node = node.value
        elif isinstance(node, ast.Subscript):
            keys.append(Index(_constant(node.slice, text)))
            node = node.value
        else:
            raise ExpressionError(
                f"{text.strip()!r} is not a path: give a name with attributes and constant"
                " subscripts, like self.items[3]"
            )
    return Path(node.id, tuple(reversed(keys)))


def _constant(node: ast.expr, text: str) -> Any:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bytes | complex):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    if isinstance(node, ast.Tuple | ast.List):
        return [_constant(item, text) for item in node.elts]
    raise ExpressionError(f"only constants can be subscripts and operands in {text.strip()!r}")


def resolve(names: Mapping[str, Any], path: Path) -> Any:
    """The recorded value at ``path``, from ``names`` (a frame's locals and the like)."""
    if path.name not in names:
        raise ExpressionError(f"no {path.name!r} here")
    value = names[path.name]
    shown = path.name
    for key in path.keys:
        value = _step(value, key, shown)
        shown += f".{key.name}" if isinstance(key, Attr) else f"[{key.key!r}]"
    return value


def _step(value: Any, key: Key, shown: str) -> Any:
    if isinstance(value, dict) and "$type" in value:
        return _object_step(value, key, shown)
    if isinstance(key, Attr):
        raise ExpressionError(f"{shown} has no attribute {key.name!r}")
    if isinstance(value, list | tuple) and type(key.key) is int:
        if -len(value) <= key.key < len(value):
            return value[key.key]
        raise ExpressionError(f"{shown} has {len(value)} items, no [{key.key}]")
    if isinstance(value, dict) and isinstance(key.key, str):
        if key.key in value:
            return value[key.key]
        raise ExpressionError(f"{shown} has no key {key.key!r}")
    raise ExpressionError(f"{shown} cannot be subscripted with {key.key!r}")


def _object_step(value: dict[str, Any], key: Key, shown: str) -> Any:
    """A step into a ``$type`` form: attributes from ``attrs``, elements from ``items``."""
    if value.get("$redacted") and "repr" not in value:
        raise ExpressionError(f"{shown} is redacted")
    if value.get("$depth") or value.get("$cycle"):
        raise ExpressionError(f"the contents of {shown} were not recorded (nesting limit)")
    total = value.get("$truncated")
    attrs, items = value.get("attrs"), value.get("items")
    if isinstance(key, Attr):
        if isinstance(attrs, dict) and key.name in attrs:
            return attrs[key.name]
        cut = " (only some were recorded)" if isinstance(total, int) else ""
        raise ExpressionError(f"{shown} has no recorded attribute {key.name!r}{cut}")
    kind = value.get("$kind")
    if kind == "set":
        raise ExpressionError(f"{shown} is a set: its items have no positions")
    if kind == "mapping" and isinstance(items, list):
        for pair in items:
            if isinstance(pair, list) and len(pair) == 2 and _plain(pair[0]) == key.key:
                return pair[1]
        cut = " (only some were recorded)" if isinstance(total, int) else ""
        raise ExpressionError(f"{shown} has no recorded key {key.key!r}{cut}")
    if kind == "tuple" and not isinstance(items, list) and isinstance(attrs, dict):
        items = list(attrs.values())  # a named tuple: its fields are its positions
    if isinstance(items, list) and type(key.key) is int:
        if -len(items) <= key.key < len(items):
            return items[key.key]
        cut = f" of {total}" if isinstance(total, int) else ""
        raise ExpressionError(f"{shown} has {len(items)} recorded items{cut}, no [{key.key}]")
    if kind is None and isinstance(attrs, dict) and isinstance(key.key, str) and key.key in attrs:
        return attrs[key.key]  # a plugin's summary whose fields are keys
    raise ExpressionError(f"{shown} cannot be subscripted with {key.key!r}")


class _Opaque:
    """A recorded object with no builtin counterpart: equal only to the same recorded form,
    neither ordered nor a container (its form's keys are not its contents)."""

    __slots__ = ("form",)

    def __init__(self, form: dict[str, Any]) -> None:
        self.form = form

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Opaque) and self.form == other.form

    __hash__ = None  # type: ignore[assignment]


def _plain(value: Any) -> Any:
    """A recorded value as a builtin to compare: strings, tuples, dicts by their contents."""
    if isinstance(value, list | tuple):  # a tuple compares like the list a constant makes
        return [_plain(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$type" not in value:
        return {key: _plain(item) for key, item in value.items()}
    items, kind = value.get("items"), value.get("$kind")
    if value.get("$type") == "str" and isinstance(value.get("repr"), str):
        return value["repr"]
    if kind == "tuple" and not isinstance(items, list) and isinstance(value.get("attrs"), dict):
        items = list(value["attrs"].values())  # a named tuple equals the tuple of its fields
    if not isinstance(items, list):
        return _Opaque(value)
    if kind in ("sequence", "tuple", "set"):
        return [_plain(item) for item in items]
    if kind == "mapping":
        try:
            return {_plain(k): _plain(v) for k, v in items}
        except (TypeError, ValueError):  # an unhashable key form, or not pairs
            return _Opaque(value)
    return _Opaque(value)


_COMPARE: Final[dict[type[ast.cmpop], Callable[[Any, Any], bool]]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: operator.contains(b, a),
    ast.NotIn: lambda a, b: not operator.contains(b, a),
    ast.Is: lambda a, b: a is b if b is None or isinstance(b, bool) else a == b,
    ast.IsNot: lambda a, b: a is not b if b is None or isinstance(b, bool) else a != b,
}


class Condition:
    """A breakpoint condition, checked when set and evaluated over recorded values."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self._tree = _parse(text)
        self._check(self._tree)

    def _check(self, node: ast.expr) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check(value)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            self._check(node.operand)
        elif isinstance(node, ast.Compare):
            if not all(type(op) in _COMPARE for op in node.ops):
                raise ExpressionError(f"unsupported comparison in {self.text!r}")
            for operand in (node.left, *node.comparators):
                self._check(operand)
        elif isinstance(node, ast.Call):
            self._length_of(node)
        elif isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            _path(node, self.text)
        else:
            _constant(node, self.text)

    def _length_of(self, node: ast.Call) -> Path:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and len(node.args) == 1
            and not node.keywords
        ):
            return _path(node.args[0], self.text)
        raise ExpressionError(f"only len(PATH) can be called in {self.text!r}")

    def holds(self, names: Mapping[str, Any]) -> bool:
        """Whether the condition is true; a missing name or a mismatch of types is false."""
        try:
            return bool(self._value(self._tree, names))
        except (ExpressionError, TypeError):
            return False

    def _value(self, node: ast.expr, names: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.BoolOp):
            results = (self._value(value, names) for value in node.values)
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.UnaryOp):
            operand = self._value(node.operand, names)
            return not operand if isinstance(node.op, ast.Not) else -operand
        if isinstance(node, ast.Compare):
            left = self._value(node.left, names)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._value(comparator, names)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            recorded = resolve(names, self._length_of(node))
            if isinstance(recorded, dict) and type(recorded.get("$truncated")) is int:
                return recorded["$truncated"]  # the full length, not the items kept
            value = _plain(recorded)
            if isinstance(value, list | str | dict):
                return len(value)
            raise TypeError("len of a recorded object")  # an opaque one
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return _plain(resolve(names, _path(node, self.text)))
        return _constant(node, self.text)
