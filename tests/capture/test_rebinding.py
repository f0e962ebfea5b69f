"""The rebinding check of a frame without line events: at each of its steps, every local
that holds another object than its shadow recorded is checked again, and one that was
deleted is recorded as deleted; on the compiled build in one pass over the frame's locals
(``_rebinding.c``), on the pure one name by name. Both must record the same changes."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.modules import module_from_source

from pytest_scope.capture import recorder as recorder_module
from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.codec import unpack_chunk
from pytest_scope.trace.schema import Kind, Payload

PROJECT_MODULE = """
def rebinding(items, step):
    total = 0
    box = [0]
    kept = box
    for item in items:
        total = total + item
        box = [total]
        yield total
    del box

    def closure():
        return total

    yield closure
"""


def _recorded(
    tmp_path: Path, run: Callable[[], object], recorder: Recorder | None = None
) -> list[list[Any]]:
    """The events of ``run()``, which steps frames of project code: recorded without line
    events (by ``recorder`` if given)."""
    if recorder is None:
        recorder = Recorder(Plan(tmp_path, ["test_*.py"]), ValueEncoder(), lambda *_: None)
    buffer = RingBuffer(2**30, recorder.take_keyframe)
    recorder.start()
    try:
        recorder.begin_test(buffer)
        run()
        recorder.end_test()
    finally:
        recorder.stop()
    buffer.close_chunk()
    return [event for chunk in buffer.chunks() for event in unpack_chunk(chunk.data)[1]]


def _changes(tmp_path: Path) -> list[tuple[int, list[str], list[str]]]:
    """(kind, the locals recorded as changed, those deleted) of each step of the generator."""
    module = module_from_source(tmp_path / "stepping.py", PROJECT_MODULE)
    produced: list[Any] = []
    events = _recorded(tmp_path, lambda: produced.extend(module.rebinding([1, 2], 1)))
    assert produced[:2] == [1, 3]
    assert produced[2]() == 3
    return [
        (
            event[1],
            sorted((event[6] or {}).get(Payload.LOCALS, {})),
            sorted((event[6] or {}).get(Payload.DELETED, [])),
        )
        for event in events
    ]


def test_each_step_records_the_locals_rebound_since_the_last(tmp_path: Path) -> None:
    assert _changes(tmp_path) == [
        (Kind.CALL, ["items", "step"], []),
        # Its lines ran unseen: what they bound shows at its next step.
        (Kind.YIELD, ["box", "item", "kept", "total"], []),
        (Kind.RESUME, [], []),
        # ``kept`` still holds the first list, which ``box`` let go of.
        (Kind.YIELD, ["box", "item", "total"], []),
        (Kind.RESUME, [], []),
        # A cell (``total``, read by the closure) is compared like any other local.
        (Kind.YIELD, ["closure"], ["box"]),
        (Kind.RESUME, [], []),
        (Kind.RETURN, [], []),
    ]


LEAVES_MODULE = """
class Items(list):
    pass


def leaves(sizes):
    for size in sizes:
        span = range(size)
        find = [size].index
        own = Items([size]).index
        yield size
"""


def test_a_range_or_builtin_method_made_again_is_recorded_when_its_form_changes(
    tmp_path: Path,
) -> None:
    """Each step binds a new range and new bound methods, most likely at the addresses of
    the last ones: the compiled build tells them unchanged by their keys (``_leaves.h``),
    never by their addresses, and records each one whose form changed, as the pure one."""
    module = module_from_source(tmp_path / "leafy.py", LEAVES_MODULE)
    produced: list[int] = []
    events = _recorded(tmp_path, lambda: produced.extend(module.leaves([3, 3, 4, 4])))
    assert produced == [3, 3, 4, 4]
    yields = [
        (event[6] or {}).get(Payload.LOCALS, {}) for event in events if event[1] == Kind.YIELD
    ]
    assert [sorted(changed) for changed in yields] == [
        ["find", "own", "size", "span"],
        [],
        ["size", "span"],
        [],
    ]
    assert yields[2]["span"]["repr"] == "range(0, 4)"
    assert yields[0]["find"]["repr"] == "list.index"


def _leaf_key() -> Callable[[object, Any], bytes | None] | None:
    """The compiled build's leaf keys, a form of a type alone keyed (no encoder plugin)."""
    key = recorder_module._leaf_key
    return None if key is None else lambda value, form: key(value, form, True)


def test_a_leaf_key_holds_what_makes_the_form_and_no_address() -> None:
    leaf_key = _leaf_key()
    is_leaf = recorder_module._is_leaf
    if leaf_key is None or is_leaf is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")
    key = leaf_key(range(3), None)
    assert key is not None and key == leaf_key(range(0, 3, 1), None)
    assert is_leaf(range(3), key) and not is_leaf(range(4), key)
    assert not is_leaf([3].index, key)
    method = leaf_key([].index, None)
    assert method is not None and method == leaf_key([1, 2].index, None)
    assert method != leaf_key([].count, None)
    assert leaf_key(len, None) is not None and leaf_key(len, None) != leaf_key(abs, None)
    # Not keyed: a name that may be set, or a field that is no C long.
    assert leaf_key(type("Items", (list,), {})().index, None) is None
    assert leaf_key(range(2**70), None) is None
    assert leaf_key("text", None) is None
    # A descriptor of a static type: its kind, the type and its definition.
    equals = leaf_key(object.__eq__, None)
    assert equals is not None and is_leaf(vars(object)["__eq__"], equals)
    assert not is_leaf(object.__ne__, equals) and not is_leaf(int.__eq__, equals)
    assert leaf_key(dict.get, None) is not None and leaf_key(dict.get, None) != leaf_key(
        dict.pop, None
    )
    assert is_leaf(vars(BaseException)["args"], leaf_key(vars(BaseException)["args"], None))
    # Not keyed: a descriptor of a heap type, which may die and leave its address.
    assert leaf_key(vars(type("Slotted", (), {"__slots__": ("a",)}))["a"], None) is None


def test_a_function_or_generator_is_keyed_by_the_name_its_form_holds() -> None:
    """Its key holds the address of its ``__qualname__``, which only the form that holds
    that very str keeps from being reused."""
    leaf_key = _leaf_key()
    is_leaf = recorder_module._is_leaf
    if leaf_key is None or is_leaf is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")

    def numbers() -> Iterator[int]:
        yield 1

    first, second = numbers(), numbers()
    form = {"$type": "generator", "repr": first.__qualname__}
    key = leaf_key(first, form)
    assert key is not None and is_leaf(second, key)
    # A form holding an equal str of its own keys nothing: its address may be reused.
    assert leaf_key(first, {"$type": "generator", "repr": "".join(first.__qualname__)}) is None
    second.__qualname__ = "renamed"
    assert not is_leaf(second, key)
    assert leaf_key(numbers, {"repr": numbers.__qualname__}) is not None
    assert not is_leaf(numbers, key)


def test_a_class_is_keyed_by_the_names_its_form_shows() -> None:
    """Its key holds its metaclass's name and its own, as the encoder makes its form of
    them: another class of the same names has the same form; a renamed one, one whose
    ``__module__`` changed, or one of another metaclass does not."""
    leaf_key = _leaf_key()
    is_leaf = recorder_module._is_leaf
    if leaf_key is None or is_leaf is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")
    encode = ValueEncoder().encode

    def made(name: str = "Schema", metaclass: type = type) -> type:
        return metaclass(name, (), {"__module__": "tests.made"})

    class Meta(type):
        pass

    first = made()
    key = leaf_key(first, encode(first))
    assert key is not None and is_leaf(made(), key)
    assert encode(made()) == encode(first)
    assert not is_leaf(made("Other"), key)
    assert not is_leaf(made(metaclass=Meta), key)
    moved = made()
    moved.__module__ = "elsewhere"
    assert not is_leaf(moved, key)
    for builtin in (int, KeyError):
        assert is_leaf(builtin, leaf_key(builtin, encode(builtin)))
    assert not is_leaf(int, leaf_key(KeyError, encode(KeyError)))
    # A form that does not show those names keys nothing (a redacted one).
    assert leaf_key(first, {"$redacted": True}) is None
    assert leaf_key(first, {"$type": "type", "repr": "tests.made.Other"}) is None


def test_an_object_shown_by_its_type_alone_is_keyed_by_its_type() -> None:
    """An iterator (a generator expression's ``.0``) shows its type alone: keyed by that
    static type, unless an encoder plugin may summarize it, or the form shows more."""
    key = recorder_module._leaf_key
    is_leaf = recorder_module._is_leaf
    if key is None or is_leaf is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")
    encode = ValueEncoder().encode
    first = iter([1, 2])
    form = encode(first)
    assert form == {"$type": "list_iterator", "repr": "<list_iterator object>"}
    keyed = key(first, form, True)
    assert keyed is not None and is_leaf(iter([3]), keyed) and not is_leaf(iter((3,)), keyed)
    assert key(first, form, False) is None  # a plugin may summarize it
    assert key(first, {"$type": "list_iterator", "repr": "<other object>"}, True) is None
    assert key(first, {"$redacted": True}, True) is None
    # A type of the project's may be renamed, and its instances show their attributes.
    assert key(Exception, encode(Exception), True) is not None
    assert key(type("Plain", (), {})(), {"$type": "Plain", "repr": "<Plain object>"}, True) is None


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Flavor(enum.Enum):
    RED = 1


def test_an_enum_member_is_keyed_by_its_type_and_its_name() -> None:
    """An enum's member shows its type's name and its own: keyed by those two texts, so
    that a frame holding one is not encoded again at each step (attrs' ``ClassProps``
    enums, in most of its frames), and told from another member or another enum's."""
    key = recorder_module._leaf_key
    is_leaf = recorder_module._is_leaf
    if key is None or is_leaf is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")
    encode = ValueEncoder().encode
    form = encode(Color.RED)
    assert form == {"$type": f"{__name__}.Color", "repr": f"{__name__}.Color.RED"}
    keyed = key(Color.RED, form, False)
    assert keyed is not None and is_leaf(Color.RED, keyed)
    assert not is_leaf(Color.GREEN, keyed) and not is_leaf(Flavor.RED, keyed)
    assert not is_leaf(object(), keyed)
    # A form that does not show those texts keys nothing.
    assert key(Color.RED, encode(Color.GREEN), False) is None
    assert key(Color.RED, {"$redacted": True}, False) is None


def test_a_type_the_plugin_hook_declined_is_keyed_by_its_type(tmp_path: Path) -> None:
    """Under pytest the encoder always has the plugin hook, which declines most types. The
    first value of a type it may summarize is recorded by ref; once it declined, a form
    of that type alone is keyed (here the second generator expression's ``.0``, an
    iterator), as with no hook at all, rather than encoded again at each step of its
    frame."""
    if recorder_module._leaf_key is None:
        pytest.skip("the pure build keys no leaf: it encodes each again")
    module = module_from_source(
        tmp_path / "iterating.py", "def doubled(items):\n    return (item * 2 for item in items)\n"
    )
    asked: list[str] = []

    def decline(value: object, type_name: str) -> None:
        asked.append(type_name)

    recorder = Recorder(
        Plan(tmp_path, ["test_*.py"]), ValueEncoder(plugin_encoder=decline), lambda *_: None
    )
    leaves: list[dict[str, bytes]] = []

    def run() -> None:
        list(module.doubled([0]))
        doubled = module.doubled([1, 2, 3])
        next(doubled)
        leaves.extend(dict(entry.leaves) for entry in recorder._suspended.values())
        list(doubled)

    _recorded(tmp_path, run, recorder)
    assert "list_iterator" in asked
    assert [".0" in kept for kept in leaves] == [True]
