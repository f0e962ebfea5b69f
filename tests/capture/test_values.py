"""The value encoder: exact for plain data, bounded and marked otherwise, never runs user code."""

from __future__ import annotations

import collections
import enum
import json
import types
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_scope.capture.redaction import Redaction
from pytest_scope.capture.values import Limits, ValueEncoder

LIMITS = Limits(max_depth=4, max_items=8, max_str=20, max_nodes=200)

keys = st.text(max_size=5).filter(
    lambda key: not key.startswith("$") and not Redaction().is_secret(key)
)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20)
scalars |= st.floats(allow_nan=False, allow_infinity=False)
plain_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(keys, inner, max_size=8),
    max_leaves=20,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _encoder() -> ValueEncoder:
    return ValueEncoder(LIMITS, Redaction())


@given(plain_data)
def test_plain_data_within_the_limits_round_trips(value: Any) -> None:
    if _depth(value) > LIMITS.max_depth:
        return
    encoded = _encoder().encode(value)
    assert encoded == value
    assert msgpack.unpackb(msgpack.packb(encoded), raw=False) == value
    json.dumps(encoded, allow_nan=False)


@given(st.lists(st.integers(0, 9), min_size=9, max_size=50))
def test_long_lists_keep_their_first_items_and_full_length(value: list[int]) -> None:
    encoded = _encoder().encode(value)
    assert encoded == {"$type": "list", "items": value[:8], "$truncated": len(value)}


def test_long_strings_and_bytes_are_cut_and_marked() -> None:
    encoder = _encoder()
    assert encoder.encode("x" * 25) == {"$type": "str", "repr": "x" * 20, "$truncated": 25}
    assert encoder.encode(b"\x00" * 30) == {
        "$type": "bytes",
        "repr": repr(b"\x00" * 20),
        "$truncated": 30,
    }


def test_nesting_beyond_the_depth_limit_is_marked() -> None:
    encoded = _encoder().encode([[[[[1]]]]])
    assert encoded == [[[[{"$type": "list", "$depth": True}]]]]


def test_cycles_are_marked_not_followed() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert _encoder().encode(loop) == [1, {"$type": "list", "$cycle": True}]

    class Node:
        def __init__(self) -> None:
            self.peers: dict[str, Node] = {}

    node = Node()
    node.peers["me"] = node
    encoded = _encoder().encode(node)
    name = f"{__name__}.test_cycles_are_marked_not_followed.<locals>.Node"
    assert encoded == {"$type": name, "attrs": {"peers": {"me": {"$type": name, "$cycle": True}}}}


def test_shared_references_are_encoded_at_each_place() -> None:
    shared = [1]
    assert _encoder().encode([shared, shared]) == [[1], [1]]


def test_the_node_budget_bounds_a_wide_and_deep_value() -> None:
    wide = [[list(range(8)) for _ in range(8)] for _ in range(8)]
    encoded = _encoder().encode(wide)
    assert len(msgpack.packb(encoded)) < 4 * LIMITS.max_nodes
    assert "$truncated" in json.dumps(encoded)


class Spy:
    """Every hook an encoder might be tempted to call records that it was called."""

    calls: list[str] = []  # noqa: RUF012 (a class-wide log on purpose)

    def __init__(self) -> None:
        self.visible = 1

    def __repr__(self) -> str:
        Spy.calls.append("__repr__")
        raise RuntimeError

    def __str__(self) -> str:
        Spy.calls.append("__str__")
        raise RuntimeError

    def __eq__(self, other: object) -> bool:
        Spy.calls.append("__eq__")
        raise RuntimeError

    def __hash__(self) -> int:
        Spy.calls.append("__hash__")
        raise RuntimeError

    def __len__(self) -> int:
        Spy.calls.append("__len__")
        raise RuntimeError

    def __iter__(self) -> Any:
        Spy.calls.append("__iter__")
        raise RuntimeError

    def __getattr__(self, name: str) -> Any:
        Spy.calls.append("__getattr__")
        raise RuntimeError

    @property
    def computed(self) -> int:
        Spy.calls.append("property")
        raise RuntimeError


class SpyList(list[int]):
    def __iter__(self) -> Any:
        Spy.calls.append("list.__iter__")
        raise RuntimeError

    def __len__(self) -> int:
        Spy.calls.append("list.__len__")
        raise RuntimeError


class SpyDict(dict[str, int]):
    def items(self) -> Any:
        Spy.calls.append("dict.items")
        raise RuntimeError

    def __iter__(self) -> Any:
        Spy.calls.append("dict.__iter__")
        raise RuntimeError


class SpyError(Exception):
    def __str__(self) -> str:
        Spy.calls.append("exception.__str__")
        raise RuntimeError


class Slotted:
    __slots__ = ("set_slot", "unset_slot")

    def __init__(self) -> None:
        self.set_slot = [1]


class Bare:
    """No attributes yet: a method may set the first one later."""


def test_no_user_code_runs_while_encoding() -> None:
    Spy.calls.clear()
    values = [Spy(), SpyList([1, 2]), SpyDict(a=1), SpyError("bad", 2), [Spy()]]
    encoded = [_encoder().encode(value) for value in values]
    assert Spy.calls == []
    spy_name = f"{__name__}.Spy"
    assert encoded[0] == {"$type": spy_name, "attrs": {"visible": 1}}
    assert encoded[1] == {"$type": f"{__name__}.SpyList", "items": [1, 2]}
    assert encoded[2] == {"$type": f"{__name__}.SpyDict", "items": [["a", 1]]}
    assert encoded[3] == {"$type": f"{__name__}.SpyError", "attrs": {"args": ["bad", 2]}}


def test_slots_set_and_unset() -> None:
    encoded = _encoder().encode(Slotted())
    assert encoded == {"$type": f"{__name__}.Slotted", "attrs": {"set_slot": [1]}}


def test_numbers_outside_json_are_marked() -> None:
    encoder = _encoder()
    assert encoder.encode(float("nan")) == {"$type": "float", "repr": "nan"}
    assert encoder.encode(float("-inf")) == {"$type": "float", "repr": "-inf"}
    assert encoder.encode(2**64) == {"$type": "int", "repr": str(2**64)}
    assert encoder.encode(2**100_000) == {"$type": "int", "repr": "<100001-bit int>"}


def test_other_types_name_themselves() -> None:
    class Color(enum.Enum):
        RED = 1

    point = collections.namedtuple("point", "x y")
    encoder = _encoder()
    assert encoder.encode(Color.RED)["repr"].endswith("Color.RED")
    assert encoder.encode(point(1, 2))["attrs"] == {"x": 1, "y": 2}
    assert encoder.encode({1, 2}) == {"$type": "set", "items": [1, 2]}
    assert encoder.encode({1: "a"}) == {"$type": "dict", "items": [[1, "a"]]}
    assert encoder.encode({"$type": "x"}) == {"$type": "dict", "items": [["$type", "x"]]}
    assert encoder.encode(collections.deque([1])) == {"$type": "collections.deque", "items": [1]}
    assert encoder.encode(len) == {"$type": "builtin_function_or_method", "repr": "len"}
    assert encoder.encode(Slotted) == {"$type": "type", "repr": f"{__name__}.Slotted"}


@pytest.mark.parametrize(
    ("value", "by_ref"),
    [(1, False), ("s", False), ((1, "a"), True), ([], True), ({}, True), (frozenset({1}), True),
     ({1}, True), (bytearray(), True), (Slotted(), True), (Bare(), True),
     (ValueError("x"), True), (b"x", False), (len, False), (Slotted, False)],
)  # fmt: skip
def test_what_is_recorded_by_identity(value: object, by_ref: bool) -> None:
    """Containers and instances with attributes may change or hold what may: objects of
    their own; anything else is immutable, and inline wherever it is held."""
    assert _encoder().info(type(value)).by_ref is by_ref


def test_secret_names_are_redacted_at_every_depth() -> None:
    class Settings:
        def __init__(self) -> None:
            self.api_key = "k-123"
            self.nested = {"Password": "hunter2", "user": "ann"}

    encoder = ValueEncoder(LIMITS, Redaction(["^internal_"]))
    local_values = {"token": "t-1", "settings": Settings(), "internal_id": 7, "count": 2}
    encoded = {name: encoder.encode_local(name, value) for name, value in local_values.items()}
    assert encoded["token"] == {"$redacted": True}
    assert encoded["internal_id"] == {"$redacted": True}
    assert encoded["count"] == 2
    attrs = encoded["settings"]["attrs"]
    assert attrs["api_key"] == {"$redacted": True}
    assert attrs["nested"] == {"Password": {"$redacted": True}, "user": "ann"}
    assert "hunter2" not in json.dumps(encoded) and "k-123" not in json.dumps(encoded)


class _Inner:
    def __init__(self) -> None:
        self.counts = [1, 2]


class _Holder:
    def __init__(self) -> None:
        self.inner = _Inner()
        self.namespace = types.SimpleNamespace(x=1)


def test_objects_of_classes_outside_the_project_are_shown_only_as_a_locals_own_value() -> None:
    encoder = ValueEncoder(in_project=lambda filename: filename == __file__)
    namespace = {"$type": "types.SimpleNamespace", "$depth": True}
    assert encoder.encode(types.SimpleNamespace(x=1)) == {
        "$type": "types.SimpleNamespace",
        "attrs": {"x": 1},
    }
    assert encoder.encode([types.SimpleNamespace(x=1)]) == [namespace]
    form = encoder.encode(_Holder())
    assert form["attrs"]["namespace"] == namespace
    assert form["attrs"]["inner"]["attrs"] == {"counts": [1, 2]}, "the project's, in depth"
    assert ValueEncoder().encode([types.SimpleNamespace(x=1)]) == [
        {"$type": "types.SimpleNamespace", "attrs": {"x": 1}}
    ], "without a plan, nothing is foreign"
