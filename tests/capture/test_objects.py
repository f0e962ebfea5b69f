"""Objects by identity: the object table and the references that replay resolves.

The property that the recorder stands on: whatever a value holds, and however it changes
in place, the table's entries resolve to exactly what the encoder makes of the value
whole, once the root that reaches the change is checked again (but for the ``"$kind"``
of its containers, which only the entries carry).
"""

from __future__ import annotations

import collections
import gc
import weakref
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.forms import as_encoded

from pytest_scope.capture import event_path
from pytest_scope.capture.objects import ObjectTable
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.schema import Container
from replay.reading.references import References


class Node:
    def __init__(self, value: Any) -> None:
        self.value = value


class Slotted:
    __slots__ = ("left", "right")


def _packed(form: Any) -> bytes:
    return bytes(msgpack.packb(form, use_bin_type=True))


class _Shown:
    """A table and the entries a reader has of it, as the trace would carry them."""

    def __init__(self) -> None:
        self.encoder = ValueEncoder()
        self.table = ObjectTable(self.encoder)
        self.entries: dict[int, list[Any]] = {}

    def step(self, value: object) -> Any:
        form = self.table.form(value)
        for entry in self.table.take_changes():
            self.entries[entry[0]] = entry
        self.table.end_step()
        return References(self.entries).resolve(form)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=5), st.binary(max_size=3),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=40),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=5),
        st.dictionaries(st.integers(0, 5), inner, max_size=3),
        st.lists(st.integers(0, 9), max_size=4).map(set),
        inner.map(Node),
    ),
    max_leaves=60,
)
# An edit somewhere inside a value: which container (by walk order) and what to do to it.
edits = st.lists(st.tuples(st.integers(0, 50), st.sampled_from("asdrn"), values), max_size=6)


def _containers(value: Any, seen: set[int] | None = None) -> list[Any]:
    seen = set() if seen is None else seen
    if id(value) in seen or not isinstance(value, list | dict | set | Node):
        return []
    seen.add(id(value))
    found = [value]
    children = (
        value if isinstance(value, list | set) else
        value.values() if isinstance(value, dict) else [value.value]
    )  # fmt: skip
    for child in list(children):
        found.extend(_containers(child, seen))
    return found


def _edit(container: Any, action: str, new: Any) -> None:
    if isinstance(container, Node):
        container.value = new
    elif isinstance(container, set):
        container.add(len(container)) if action == "a" else container.clear()
    elif isinstance(container, dict):
        if action == "d" and container:
            del container[next(iter(container))]
        elif action != "d":
            container[f"k{len(container)}"] = new
    elif action == "a":
        container.append(new)
    elif action == "d" and container:
        container.pop(0)
    elif action == "s" and container:
        container[len(container) // 2] = new
    elif action == "r":
        container.reverse()
    elif action == "n":
        container.append(container)  # a cycle


@settings(max_examples=300, deadline=None)
@given(values, edits)
def test_entries_resolve_to_the_whole_form_after_any_change_in_place(
    value: Any, changes: list[tuple[int, str, Any]]
) -> None:
    root = [value, {"v": value}]  # the same objects reached twice
    shown = _Shown()
    assert _packed(as_encoded(shown.step(root))) == _packed(shown.encoder.encode(root))
    for index, action, new in changes:
        containers = _containers(root)
        _edit(containers[index % len(containers)], action, new)
        assert _packed(as_encoded(shown.step(root))) == _packed(shown.encoder.encode(root))


def test_a_change_through_one_reference_shows_through_every_other() -> None:
    shown = _Shown()
    shared = [1, 2]
    holder = Node(shared)
    form_of_holder = shown.table.form(holder)
    shown.step(holder)
    shared.append(3)  # changed where only ``shared`` is named
    shown.step(shared)
    resolved = References(shown.entries).resolve(form_of_holder)
    assert resolved["attrs"]["value"] == [1, 2, 3]


def test_an_unchanged_object_is_not_recorded_again() -> None:
    shown = _Shown()
    state = {"items": list(range(5000)), "nodes": [Node(i) for i in range(300)]}
    shown.step(state)
    shown.table.form(state)
    assert shown.table.take_changes() == []
    state["nodes"][3].value = -1
    shown.table.end_step()
    shown.table.form(state)
    (change,) = shown.table.take_changes()
    assert change[1].endswith("Node") and change[2]["attrs"] == {"value": -1}


LIMIT = ValueEncoder().limits.max_items


class TaggedList(list[Any]):
    __slots__ = ("tag",)


_UNSET_SLOT = object()


def _slotted(left: Any = _UNSET_SLOT) -> Slotted:
    pair = Slotted()
    pair.right = [0]
    if left is not _UNSET_SLOT:
        pair.left = left
    return pair


def _tagged(tag: str) -> TaggedList:
    tagged = TaggedList([1, 2])
    tagged.tag = tag
    return tagged


class Fields(tuple):  # type: ignore[type-arg]
    """A tuple with a namespace, as attrs makes the ``__attrs_attrs__`` of its classes."""


class Notes(dict):  # type: ignore[type-arg]
    """A dict with a namespace."""


def _fields(note: Any) -> Fields:
    fields = Fields(([0], [1]))
    fields.note = note  # type: ignore[attr-defined]
    return fields


def _notes() -> Notes:
    notes = Notes(key=[1])
    notes.source = "here"  # type: ignore[attr-defined]
    return notes


def _replace_namespace(node: Node) -> None:
    node.__dict__ = {"value": node.value}  # the same parts, in another dict


@pytest.mark.parametrize(
    "make, change",
    [
        (lambda: list(range(100)), lambda items: items.__setitem__(LIMIT - 1, -1)),
        (lambda: list(range(100)), lambda items: items.__setitem__(LIMIT, -1)),
        (lambda: list(range(100)), lambda items: items.pop()),
        (lambda: dict.fromkeys(range(100), 0), lambda counts: counts.__setitem__(LIMIT - 1, 1)),
        (lambda: dict.fromkeys(range(100), 0), lambda counts: counts.__setitem__(0, counts.pop(0))),
        (lambda: collections.Counter(range(5)), lambda counts: counts.update([4])),
        (lambda: (Node(1), Node(2)), lambda pair: setattr(pair[1], "value", 3)),
        (lambda: [[0] * 3 for _ in range(3)], lambda grid: grid[2].append(1)),
        (lambda: Node([1]), _replace_namespace),
        (lambda: Node([1]), lambda node: node.value.append(2)),
        (lambda: Node(1), lambda node: setattr(node, "other", 2)),
        (lambda: _slotted(1), lambda pair: setattr(pair, "left", 2)),
        (_slotted, lambda pair: setattr(pair, "left", 2)),
        (lambda: _slotted(1), lambda pair: delattr(pair, "left")),
        (lambda: _slotted(None), lambda pair: delattr(pair, "left")),
        (_slotted, lambda pair: pair.right.append(1)),
        (lambda: _tagged("a"), lambda tagged: setattr(tagged, "tag", "b")),
        (lambda: set(range(100)), lambda items: items.remove(0)),
        (lambda: set(range(5)), lambda items: (items.remove(4), items.add(99))),
        (lambda: {Node(1), Node(2)}, lambda pair: setattr(next(iter(pair)), "value", 3)),
        (lambda: frozenset([Node([1])]), lambda one: next(iter(one)).value.append(2)),
        (lambda: bytearray(300), lambda data: data.__setitem__(150, 1)),
        (lambda: bytearray(300), lambda data: data.__setitem__(299, 1)),
        (lambda: bytearray(300), lambda data: data.append(1)),
        (lambda: [bytearray(b"ab")], lambda items: items[0].__setitem__(0, 0)),
        (lambda: KeyError("a"), lambda error: setattr(error, "args", ("b",))),
        (lambda: KeyError("a"), lambda error: setattr(error, "note", 1)),
        (lambda: KeyError([1]), lambda error: error.args[0].append(2)),
        (lambda: OSError(2, "gone"), lambda error: setattr(error, "filename", "f")),
        (lambda: _fields("a"), lambda fields: setattr(fields, "note", "b")),
        (lambda: _fields("a"), lambda fields: setattr(fields, "other", 1)),
        (lambda: _fields([1]), lambda fields: fields.note.append(2)),
        (lambda: _fields("a"), lambda fields: fields[1].append(2)),
        (_notes, lambda notes: notes["key"].append(2)),
        (_notes, lambda notes: notes.__setitem__("more", 1)),
    ],
    ids=[
        "last item shown", "first item not shown", "list shrinks", "last value shown",
        "key moved to the end", "dict subclass", "child of a tuple", "child of a list",
        "namespace replaced", "below a namespace", "namespace grows", "slot set",
        "unset slot set", "slot deleted", "None slot deleted", "below a slot", "slot of a list",
        "set shrinks", "set item replaced", "child of a set", "below a frozenset",
        "bytearray byte shown", "bytearray byte not shown", "bytearray grows",
        "bytearray in a list", "exception args replaced", "exception attribute set",
        "below exception args", "exception member set", "tuple's namespace value set",
        "tuple's namespace grows", "below a tuple's namespace", "child of a tuple with a namespace",
        "below a dict with a namespace", "dict with a namespace grows",
    ],
)  # fmt: skip
def test_each_kind_of_change_in_place_is_found_at_the_next_check(
    make: Callable[[], Any], change: Callable[[Any], Any]
) -> None:
    """The check that confirms an unchanged object (in C on the compiled build) reads its
    parts where it keeps them: each case here is one way for its parts to differ, or for
    them not to, at the edge of what it reads."""
    shown = _Shown()
    value = make()
    shown.step(value)
    change(value)
    assert _packed(as_encoded(shown.step(value))) == _packed(shown.encoder.encode(value))


def test_the_compiled_build_confirms_unchanged_objects_in_its_native_walk() -> None:
    """A list of ten instances, each holding a list of one int, checked again unchanged:
    the native walk confirms all 21 objects without a Python call (their parts read where
    they keep them), and a change in one of them goes to the Python check; a set and the
    frozenset in it too; a list and its bytearray; an exception, its args and the list in
    them; a tuple with a namespace and what both hold; a dict with a namespace."""
    if not event_path.compiled():
        pytest.skip("the native walk comes with the compiled event path")
    shown = _Shown()
    walker = shown.table._walker
    nodes = [Node([number]) for number in range(10)]
    shown.step(nodes)
    confirmed = walker.unchanged
    shown.step(nodes)
    assert walker.unchanged - confirmed == 21
    nodes[3].value.append(-1)
    confirmed = walker.unchanged
    assert shown.step(nodes)[3]["attrs"]["value"] == [3, -1]
    assert walker.unchanged - confirmed == 20
    tags = {"a", frozenset({"b"})}
    shown.step(tags)
    confirmed = walker.unchanged
    shown.step(tags)
    assert walker.unchanged - confirmed == 2
    data = [bytearray(1000)]
    shown.step(data)
    confirmed = walker.unchanged
    shown.step(data)
    assert walker.unchanged - confirmed == 2
    error = KeyError([1])  # the exception, its args, the list in them
    shown.step(error)
    confirmed = walker.unchanged
    shown.step(error)
    assert walker.unchanged - confirmed == 3
    fields = _fields([2])  # the tuple, its two lists, the list in its namespace
    shown.step(fields)
    confirmed = walker.unchanged
    shown.step(fields)
    assert walker.unchanged - confirmed == 4
    notes = _notes()  # the dict (its items alone show) and its list
    shown.step(notes)
    confirmed = walker.unchanged
    shown.step(notes)
    assert walker.unchanged - confirmed == 2


def _took_the_id_of(table: ObjectTable, dead: object, value: object) -> None:
    """As if ``dead`` died and ``value`` was made at its address, as CPython's allocator
    does at once: the table's entries under the one id move to the other."""
    for by_id in (table._by_id, table._records):
        if id(dead) in by_id:
            by_id[id(value)] = by_id.pop(id(dead))


def _number_at_a_dead_ones_id(dead: object, value: object) -> tuple[bool, bool]:
    """Whether ``value``, met at the id of ``dead`` recorded before, keeps its number; and
    whether the dead one's entry is as recorded."""
    shown = _Shown()
    number = shown.table.form(dead)["$ref"]
    shown.step(dead)
    recorded = list(shown.entries[number])
    _took_the_id_of(shown.table, dead, value)
    kept = shown.table.form(value)["$ref"] == number
    for entry in shown.table.take_changes():
        shown.entries[entry[0]] = entry
    shown.table.end_step()
    return kept, shown.entries[number] == recorded


def _the_args_of(error: BaseException) -> KeyError:
    again = KeyError()
    again.args = error.args  # the very tuple
    return again


@pytest.mark.parametrize(
    "make, made_again",
    [
        (lambda tag: ("tag", tag, Node(1)), lambda value: tuple([*value])),
        (KeyError, _the_args_of),
    ],
    ids=["tuple", "exception"],
)
def test_a_tuple_or_exception_at_a_dead_ones_id_is_another_object(
    make: Callable[[str], Any], made_again: Callable[[Any], Any]
) -> None:
    """Neither takes a weak reference. A tuple never changes its parts, and an exception
    is told by its args: one met at the id of a dead one of its type, holding other parts,
    is a new object, and the dead one's entry is never recorded again. Holding the very
    parts, it is the same value, and keeps the number."""
    dead = make("a")
    assert _number_at_a_dead_ones_id(dead, make("b")) == (False, True)
    again = made_again(dead)
    assert again is not dead
    assert _number_at_a_dead_ones_id(dead, again) == (True, True)


def test_the_table_keeps_no_object_alive() -> None:
    shown = _Shown()
    node = Node([Node(1)])
    alive = weakref.ref(node)
    inner = weakref.ref(node.value[0])
    shown.step(node)
    del node
    gc.collect()
    assert alive() is None and inner() is None


def test_past_the_depth_limit_only_the_type_is_known() -> None:
    shown = _Shown()
    deep: Any = [[[[[[1]]]]]]
    assert shown.step(deep) == [[[[{"$type": "list", "$kind": "sequence", "$depth": True}]]]]
    assert _packed(as_encoded(shown.step(deep))) == _packed(shown.encoder.encode(deep))


def test_slots_and_cycles() -> None:
    shown = _Shown()
    pair = Slotted()
    pair.left = pair
    assert _packed(as_encoded(shown.step(pair))) == _packed(shown.encoder.encode(pair))
    pair.right = [pair]
    assert _packed(as_encoded(shown.step(pair))) == _packed(shown.encoder.encode(pair))


class Registry(dict):  # type: ignore[type-arg]
    """A mapping whose name does not say so."""


class Verdict(list):  # type: ignore[type-arg]
    """A sequence whose name ends like a mapping's."""


class Tags(frozenset):  # type: ignore[type-arg]
    pass


Point = collections.namedtuple("Point", "x y")


def test_entries_say_what_each_container_is_from_its_builtin_bases() -> None:
    shown = _Shown()
    value = {
        "reg": Registry(a=1),
        "verdict": Verdict([(1, "one")]),
        "pair": ("a", 1),
        "tags": Tags({1}),
        "point": Point(1, 2),
        "queue": collections.deque([1]),
        "ordered": collections.OrderedDict(a=1),
        "error": KeyError("k"),
        "node": Node(1),
        "blob": bytearray(b"x"),
    }
    root = shown.table.form(value)
    entries = {entry[0]: entry for entry in shown.table.take_changes()}
    kinds = {entry[1].rsplit(".", 1)[-1]: entry[4] for entry in entries.values()}
    assert kinds == {
        "dict": Container.MAPPING,
        "Registry": Container.MAPPING,
        "Verdict": Container.SEQUENCE,
        "tuple": Container.TUPLE,
        "Tags": Container.SET,
        "Point": Container.TUPLE,
        "deque": Container.SEQUENCE,
        "OrderedDict": Container.MAPPING,
        "KeyError": Container.NONE,
        "Node": Container.NONE,
        "bytearray": Container.NONE,
    }
    shown_value = References(entries).resolve(root)
    assert shown_value["verdict"]["$kind"] == "sequence"
    assert shown_value["verdict"]["items"] == [(1, "one")]
    assert shown_value["reg"] == {
        "$type": Registry.__module__ + ".Registry",
        "$kind": "mapping",
        "items": [["a", 1]],
    }
    assert shown_value["pair"] == ("a", 1) and type(shown_value["pair"]) is tuple
    assert shown_value["point"]["$kind"] == "tuple"
    assert "$kind" not in shown_value["error"] and "$kind" not in shown_value["node"]
