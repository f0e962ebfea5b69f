"""``ValueEncoder.unchanged``: the recorder's change check, which must never miss a change.

The recorder keeps only the forms it recorded, not the objects, and asks ``unchanged``
whether a value still encodes to its last form. A wrong True would replay a stale value,
so every property here compares it with the oracle: encoding again and comparing msgpack
bytes (1, 1.0 and True differ there), on values built to collide and on values mutated in
place, under the default limits and under tiny ones that cut, truncate and mark depth.
"""

from __future__ import annotations

import collections
import enum
from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_scope.values import Limits, ValueEncoder

TINY = Limits(max_depth=2, max_items=3, max_str=4, max_nodes=9)
DEFAULT = Limits()


class Box:
    """An instance with a ``__dict__``."""


class Pair:
    __slots__ = ("left", "right")


class Both(Box):
    __slots__ = ("extra",)


class Color(enum.Enum):
    RED = 1
    BLUE = 2


Point = collections.namedtuple("Point", "x y")


class Tagged(list[Any]):
    """A list subclass: items and attributes."""


def _box(attrs: dict[str, Any]) -> Box:
    box = Box()
    box.__dict__.update(attrs)
    return box


def _pair(left: Any, right: Any, set_right: bool) -> Pair:
    pair = Pair()
    pair.left = left
    if set_right:
        pair.right = right
    return pair


def _both(attrs: dict[str, Any], extra: Any) -> Both:
    both = Both()
    both.__dict__.update(attrs)
    both.extra = extra
    return both


def _tagged(items: list[Any], tag: Any) -> Tagged:
    tagged = Tagged(items)
    tagged.tag = tag  # type: ignore[attr-defined]
    return tagged


# Few distinct scalars, so that two draws often encode alike, or alike in Python only.
names = st.sampled_from(["a", "b", "$a", "token", "ab", "abcdef"])
scalars = st.sampled_from(
    [0, 1, True, False, 1.0, 0.0, -0.0, float("nan"), float("inf"), 2**70, None, "", "a",
     "abcdef", b"x", bytearray(b"x"), Color.RED, Color.BLUE, int, len, 1 + 2j]
)  # fmt: skip


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    small = st.lists(inner, max_size=4)
    return (
        small
        | small.map(tuple)
        | small.map(collections.deque)
        | st.dictionaries(names, inner, max_size=4)
        | st.dictionaries(st.sampled_from([0, 1, "a"]), inner, max_size=3)
        | st.frozensets(st.sampled_from([0, 1, "a", None]), max_size=3)
        | st.sets(st.sampled_from([0, 1, "a"]), max_size=3)
        | st.builds(_box, st.dictionaries(names, inner, max_size=4))
        | st.builds(_pair, inner, inner, st.booleans())
        | st.builds(_both, st.dictionaries(names, inner, max_size=2), inner)
        | st.builds(Point, inner, inner)
        | st.builds(_tagged, small, inner)
        | st.builds(ValueError, inner)
    )


values = st.recursive(scalars, _containers, max_leaves=14)


def _agree(encoder: ValueEncoder, name: str, old_form: Any, value: Any) -> None:
    """The property: ``unchanged`` is True exactly when encoding again gives the same bytes."""
    same, mutable = encoder.unchanged(name, value, old_form)
    form, may_change = encoder.encode_local(name, value)
    pack = msgpack.Packer(use_bin_type=True).pack
    assert same == (pack(form) == pack(old_form)), (old_form, form)
    if same:
        assert mutable == may_change


def _encoder(limits: Limits, foreign: bool) -> ValueEncoder:
    """With ``foreign``, every class of this module is outside the project."""
    return ValueEncoder(limits, in_project=(lambda filename: False) if foreign else None)


@settings(max_examples=400, deadline=None)
@given(names, values, values, st.sampled_from([TINY, DEFAULT]), st.booleans())
def test_unchanged_is_true_exactly_when_the_encoding_is_the_same(
    name: str, before: Any, after: Any, limits: Limits, foreign: bool
) -> None:
    encoder = _encoder(limits, foreign)
    form, _ = encoder.encode_local(name, before)
    _agree(encoder, name, form, before)  # nothing changed
    _agree(encoder, name, form, after)  # another value, often encoding alike


def _containers_in(value: Any, seen: set[int] | None = None) -> list[Any]:
    """Every mutable container or instance reachable from ``value``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    found: list[Any] = []
    children: list[Any] = []
    if isinstance(value, list | dict | set | collections.deque | Box | Pair):
        found.append(value)
    if isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, list | tuple | collections.deque | set | frozenset):
        children = list(value)
    if isinstance(value, Box | Pair | ValueError):
        children += [getattr(value, slot, None) for slot in ("left", "right", "extra")]
        children += list(getattr(value, "__dict__", {}).values())
    for child in children:
        found += _containers_in(child, seen)
    return found


def _mutate(target: Any, operation: int, item: Any) -> None:
    """Change ``target`` in place; ``item`` may be ``target`` itself (a cycle)."""
    if isinstance(target, list | collections.deque):
        if operation == 0:
            target.append(item)
        elif target and operation == 1:
            target[0] = item
        elif target:
            target.pop()
    elif isinstance(target, dict):
        key = ["a", "b", "$a", "token", 0][operation % 5]
        if operation == 3 and key in target:
            del target[key]
        else:
            target[key] = item
    elif isinstance(target, set):
        if operation == 0:
            target.add(1.0 if 1 not in target else "z")
        else:
            target.discard(1)
    elif isinstance(target, Pair):
        if operation == 0:
            target.left = item
        elif operation == 1:
            target.right = item
        elif hasattr(target, "right"):
            del target.right
    else:
        if operation == 2 and target.__dict__:
            target.__dict__.pop(next(iter(target.__dict__)))
        else:
            setattr(target, ["a", "b", "token", "abcdef"][operation % 4], item)


@settings(max_examples=400, deadline=None)
@given(
    names,
    values,
    st.lists(st.tuples(st.integers(0, 99), st.integers(0, 4), scalars | st.just("self")),
             min_size=1, max_size=4),
    st.sampled_from([TINY, DEFAULT]),
    st.booleans(),
)  # fmt: skip
def test_unchanged_sees_every_change_made_in_place(
    name: str, value: Any, mutations: list[tuple[int, int, Any]], limits: Limits, foreign: bool
) -> None:
    encoder = _encoder(limits, foreign)
    form, _ = encoder.encode_local(name, value)
    for pick, operation, item in mutations:
        targets = _containers_in(value)
        if not targets:
            return
        target = targets[pick % len(targets)]
        _mutate(target, operation, target if item == "self" else item)
        _agree(encoder, name, form, value)
        form, _ = encoder.encode_local(name, value)


def test_equal_in_python_is_not_unchanged() -> None:
    encoder = ValueEncoder()
    for before, after in [
        (1, True), (1, 1.0), (0.0, -0.0), ([1], [True]), ({"a": 0}, {"a": False}),
        ((1, 2), [1, 2.0]), (Point(1, 2), Point(1, True)),
    ]:  # fmt: skip
        form, _ = encoder.encode_local("x", before)
        assert encoder.unchanged("x", after, form)[0] is False, (before, after)
        assert encoder.unchanged("x", before, form)[0] is True, before


def test_a_tuple_rebound_as_an_equal_list_becomes_mutable() -> None:
    encoder = ValueEncoder()
    form, mutable = encoder.encode_local("x", (1, 2))
    assert not mutable
    assert encoder.unchanged("x", [1, 2], form) == (True, True)


def test_the_check_holds_no_reference_to_the_values() -> None:
    import gc
    import weakref

    encoder = ValueEncoder()
    box = _box({"items": [1, 2], "child": _box({})})
    form, _ = encoder.encode_local("box", box)
    assert encoder.unchanged("box", box, form) == (True, True)
    gone = weakref.ref(box)
    del box
    gc.collect()
    assert gone() is None


def test_beyond_the_depth_limit_only_the_type_counts_and_mutability_carries() -> None:
    encoder = ValueEncoder(TINY)
    for value, mutable in [
        (((0, [1]),), True), (((0, (1,)),), False), (((0, _box({})),), True),
        (((0, frozenset()),), False), (((0, {0: 1}),), True),
    ]:  # fmt: skip
        form, may_change = encoder.encode_local("x", value)
        assert may_change is mutable
        assert encoder.unchanged("x", value, form) == (True, mutable), value
        deeper = ((0, type(value[0][1])()),) if not isinstance(value[0][1], Box) else value
        assert encoder.unchanged("x", deeper, form)[0] is True, value
    form, _ = encoder.encode_local("x", ((0, [1]),))
    assert encoder.unchanged("x", ((0, (1,)),), form)[0] is False


def test_a_cycle_made_or_broken_is_a_change() -> None:
    encoder = ValueEncoder()
    value: list[Any] = [1]
    form, _ = encoder.encode_local("x", value)
    value.append(value)
    assert encoder.unchanged("x", value, form)[0] is False
    cyclic, _ = encoder.encode_local("x", value)
    assert encoder.unchanged("x", value, cyclic) == (True, True)
    value.pop()
    value.append([1])
    assert encoder.unchanged("x", value, cyclic)[0] is False


def test_what_lies_past_a_cut_still_counts() -> None:
    encoder = ValueEncoder(TINY)
    box = _box({"a": 1, "b": 2, "c": 3, "d": 4})
    items = [1, 2, 3, 4]
    mapping = {0: 1, 1: 2, 2: 3, 3: 4}
    for value, grow in [
        (box, lambda: setattr(box, "e", 5)),
        (items, lambda: items.append(5)),
        (mapping, lambda: mapping.update({4: 5})),
    ]:
        form, _ = encoder.encode_local("x", value)
        assert "$truncated" in form
        assert encoder.unchanged("x", value, form) == (True, True)
        grow()  # past the cut: only the count changes
        assert encoder.unchanged("x", value, form)[0] is False


def test_within_a_step_an_object_is_walked_once_and_its_form_shared() -> None:
    encoder = ValueEncoder()
    shared = {"items": [1, 2]}
    before, _ = encoder.encode(shared)
    encoder.begin_step()
    first, may_change = encoder.encode_local("a", shared)
    assert encoder.encode_local("b", shared) == (first, may_change)
    assert encoder.encode_local("b", shared)[0] is first
    assert encoder.unchanged("c", shared, first) == (True, True)
    assert encoder.unchanged("d", shared, before)[0] is False  # equal, but not the shared form
    encoder.end_step()
    assert encoder.unchanged("d", shared, before) == (True, True)
    shared["items"].append(3)
    assert encoder.unchanged("a", shared, first)[0] is False
    encoder.begin_step()
    assert encoder.encode_local("a", shared)[0] == {"items": [1, 2, 3]}
    encoder.end_step()
