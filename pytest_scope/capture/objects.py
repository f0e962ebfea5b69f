"""Objects by identity: each object the recording shows is numbered and recorded once.

A list, dict, set, tuple, exception or instance with attributes gets a number the first
time a step reaches it. Its *shallow form* (the encoder's form of it alone, with every such
object below it replaced by ``{"$ref": number}``) is recorded once, and again only when it
changes. Locals of any frame, return values, exceptions, watched objects and other objects
refer to it by number, so a change made through one reference shows through all of them,
and a frame that holds an object needs no look of its own when a callee changes it.

Checking an object for change costs what it holds at its own level (its first items, as
identities), not what lies below it: an object whose identities are unchanged keeps its
form, and only its children that are objects are checked in turn, down to the depth limit
and within a node budget per root. The table holds no object, only ids, forms and the
scalars inside forms, so it never keeps alive what the test let go of.

A number names one object for the whole test: an object that died is forgotten, and an
object that takes its id later gets a new number. The table learns of a death this way:

- an object whose type takes weak references (instances of most classes, sets, deques)
  is numbered with a weak reference to it, and its id met again is its own only while
  that reference still gives the object: exact, however it died;
- an object of another type met under a known id with another type is a new object;
- a tuple never changes its parts, and an exception is told by its args (as the recorder
  tells one raise from another): one met under a known id whose parts are not those
  recorded is a new object (``_another_at``), never the old one changed;
- lists, dicts, tuples and the other objects without weak references die unseen, so the
  recorder tells the table where recorded code lets go of them (``recorder``): a returning
  frame's locals that nothing but the frame holds (``forget``), and the object a local
  alone held when a line rebinds or deletes that local before reading it (``forget_id``);
  and with either, the objects below it in plain containers that nothing else references
  (``dying_with``). All are exact. A list, dict or other mutable object of that kind that
  dies elsewhere (popped from a container, inside an instance that died, its last
  reference dropped by unrecorded code, or when an exception's frames are let go) keeps its
  number, which a later object of the same type at the same id takes over: the one case
  where a number may name two objects in turn.
"""

from __future__ import annotations

import collections
import itertools
import math
import sys
import weakref

# Private references: a test may replace these builtins (with a spy that counts calls).
from builtins import all, enumerate, id, len, map, tuple, zip  # noqa: UP029
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import msgpack

from pytest_scope.capture.native import native_extension
from pytest_scope.capture.values import (
    _INT_MAX,
    _INT_MIN,
    Encoded,
    ValueEncoder,
    _exception_args,
    _TypeInfo,
)
from pytest_scope.trace.codec import UNICODE_ERRORS

_islice = itertools.islice
_weak_ref = weakref.ref
_getrefcount = sys.getrefcount
_UNSET: Final = object()  # an unset slot, among an object's parts
_ENCODE: Final = object()  # the shape of an object whose form only encoding tells
# Passed as a value, a builtin is looked up where it is used once compiled (mypyc): bound here.
_id: Callable[[object], int] = id
# Exact types whose values are immutable and hold nothing: safe to keep alive.
_PINNABLE: Final = frozenset(
    id(kind) for kind in (int, str, float, bool, type(None), bytes, complex, type(_UNSET))
)

# Containers that hold their items themselves (no namespace, no user code to read them):
# what dies with one of them can be told by reference counts (``ObjectTable.dying_with``).
_PLAIN_CONTAINERS: Final = frozenset(
    id(kind) for kind in (list, tuple, dict, set, frozenset, collections.deque)
)

Entry = list[Any]  # [number, type name, shallow form or None, foreign, container], ``schema``


def refcount(value: object) -> int:
    """The references to ``value``, counting those of its caller's own (``OWN_REFS``)."""
    return _getrefcount(value)


def _own_refs() -> int:
    """What ``refcount`` counts of a value that only its caller's local holds: that local
    and what the call adds (compiled, none; as Python, the argument twice)."""
    probe = object()
    return refcount(probe)


OWN_REFS: Final = _own_refs()


class _Object:
    """What the table knows of one object: never the object itself."""

    __slots__ = (
        "alive", "child_at", "form", "ids", "info", "kind", "number", "pinned", "ref", "refs",
        "shape", "told_by_parts",
    )  # fmt: skip

    def __init__(
        self, number: int, kind: type, info: _TypeInfo, alive: weakref.ref[Any] | None
    ) -> None:
        self.number = number
        self.kind = kind  # a type lives as long as the encoder's type cache keeps it
        self.info = info
        self.alive = alive  # a weak reference to it, where its type takes one
        # Whether its parts tell it from another object at its id (ObjectTable._another_at).
        self.told_by_parts = kind is tuple or info.base is BaseException
        self.ref: Encoded = {"$ref": number}  # one dict per object: compared by identity
        self.form: Encoded = None  # None until expanded: only its type is known
        self.shape: Any = _UNSET  # see ObjectTable._parts
        self.pinned: list[Any] | None = None  # its parts, when all are immutable scalars
        self.ids: tuple[int, ...] = ()  # else the ids of its parts
        self.child_at: tuple[int, ...] = ()  # positions of its object children in its parts
        self.refs: tuple[int, ...] = ()  # numbers of the objects its form refers to

    def entry(self) -> Entry:
        info = self.info
        return [self.number, info.name, self.form, info.foreign, info.container]


class ObjectTable:
    """Numbers, shallow forms and change checks of the objects a test's steps reach."""

    def __init__(self, encoder: ValueEncoder) -> None:
        self._encoder = encoder
        self._redaction = encoder.redaction
        limits = encoder.limits
        self._max_depth = limits.max_depth
        self._max_nodes = limits.max_nodes
        self._max_items = limits.max_items
        self._first_items = slice(0, limits.max_items)
        self._max_str = limits.max_str
        self._pack = msgpack.Packer(
            use_bin_type=True, autoreset=True, unicode_errors=UNICODE_ERRORS
        ).pack
        self._by_id: dict[int, _Object] = {}
        # With the native walk, by id: the walk's record of each object whose form is
        # recorded (``_walk_record``), kept with ``_by_id``.
        self._records: dict[int, tuple[Any, ...]] = {}
        self._by_number: dict[int, _Object] = {}
        self._next_number = 0
        # Whether a type's objects take weak references, by the type's id (a metaclass may
        # define __hash__): the type is held, so that its id stays its own.
        self._weakable: dict[int, tuple[type, bool]] = {}
        # Within one step: the objects reached (held until the step ends, so that their ids
        # stay theirs), the depth each was checked at by id, and the objects still to check.
        self._held: list[object] = []
        self._reached: dict[int, int] = {}
        self._pending: list[tuple[object, _Object, int]] = []
        self._children: list[tuple[int, int]] = []  # (number, id) met by encode_shallow
        self._child_depth = 0
        self._deep = True  # whether the objects below the root are checked, see ``form``
        self.changes: list[Entry] = []
        self._walker = self._native_walker()

    def _native_walker(self) -> Any:
        """The native walk of the queued objects (``_sameparts.c``), which calls back the
        table's methods for all but unchanged known objects: with the compiled table only."""
        if _Walker is None:
            return None
        return _Walker(
            pending=self._pending,
            reached=self._reached,
            held=self._held,
            unset=_UNSET,
            check=self._check,
            reach=self._reach,
            spent=self._spent,
            max_depth=self._max_depth,
            max_items=self._max_items,
            max_nodes=self._max_nodes,
        )

    def reset(self) -> None:
        """Forget every object: a new test (or example) numbers its own from 1."""
        self._by_id.clear()
        self._records.clear()
        self._weakable.clear()
        self._by_number.clear()
        self._next_number = 0
        self.end_step()

    def end_step(self) -> None:
        """Release the objects held during the step; their ids may be reused from here.
        The next step's walks are deep unless its ``form`` says otherwise: a native step
        walks (``Walker.walk_known``) without setting it."""
        self._held.clear()
        self._reached.clear()
        self._pending.clear()
        self.changes = []
        self._deep = True

    def take_changes(self) -> list[Entry]:
        """The entries of the objects new or changed since the last call."""
        changes, self.changes = self.changes, []
        return changes

    # -- forms ------------------------------------------------------------------------

    def local_form(self, name: str, value: object, deep: bool = True) -> Encoded:
        """A local's form: a secret name's mark, a scalar, an immutable leaf, or a ref."""
        if self._redaction.is_secret(name):
            self._redaction.learn(value)
            return {"$redacted": True}
        return self.form(value, deep)

    def form(self, value: object, deep: bool = True) -> Encoded:
        """``value``'s form; an object is checked and referred to.

        ``deep``: the objects it reaches are checked too, down to the depth limit. Not
        deep: only the object itself, and those below it that the table does not know
        yet (a line that only reads cannot have changed what lies below, see
        ``linenames``)."""
        kind = type(value)
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
                return value
        elif kind is str:
            if len(value) <= self._max_str and not self._hides(value):  # type: ignore[arg-type]
                return value
        elif value is None or kind is bool or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            return value
        info = self._encoder.info(kind)
        if not info.by_ref and not (info.ask_plugin and self._encoder.has_plugin):
            return self._encoder.encode(value)
        self._deep = deep
        ref = self._reach(value, info, 0)
        self._check_pending()
        return ref

    def _hides(self, text: str) -> bool:
        redaction = self._redaction
        return len(text) >= redaction.shortest and redaction.hides(text)

    def _reach(self, value: object, info: _TypeInfo | None, depth: int) -> Encoded:
        """The ref of ``value``, numbered if new, and queued for a check at ``depth``.
        ``info``: its type's, or None to look it up only for an object the table does not
        know (a known object keeps its type's)."""
        key: Any = id(value)  # compiled, an int boxed once for the lookups below
        kind = type(value)
        known = self._by_id.get(key)
        if (
            known is None
            or known.kind is not kind
            or (known.alive is not None and known.alive() is not value)
            or (known.told_by_parts and self._another_at(value, known))
        ):
            if info is None:
                info = self._encoder.info(kind)
            known = self._number(value, kind, info, key)
        info = known.info
        if depth and not self._deep and known.form is not None:
            return known.ref
        reached = self._reached.get(key)
        if reached is None or reached > depth:
            if reached is None:
                self._held.append(value)
            self._reached[key] = depth
            # A bytearray shows whole at any depth (as a repr, like bytes); an object of a
            # class from outside the project only as a local's own value (``foreign``).
            if (depth < self._max_depth and not (depth and info.foreign)) or (
                info.base is bytearray
            ):
                self._pending.append((value, known, depth))
            else:
                self._spent(known)
        return known.ref

    def _another_at(self, value: object, known: _Object) -> bool:
        """Whether ``value``, met under the id of a recorded tuple or exception of its type,
        is another object, which took the id of one that died (neither takes a weak
        reference): a tuple whose parts are not those recorded (it never changes them), an
        exception whose args are another tuple (as ``Recorder._add_value`` tells one raise
        from another). Nothing recorded of its parts yet: it cannot tell, and says no."""
        if known.form is None:
            return False
        if known.info.base is BaseException:
            recorded = known.ids
            if not recorded:
                return False
            args = _exception_args(value)
            if recorded[0] != id(args):
                return True
            args_known = self._by_id.get(id(args))
            return (
                args_known is not None
                and args_known.kind is tuple
                and self._another_at(args, args_known)
            )
        shape, parts = self._parts(value, known.info)
        return not _holds_recorded(shape, parts, known)

    def _number(self, value: object, kind: type, info: _TypeInfo, key: int) -> _Object:
        """A new number for ``value``: an object the table has not met, or one that took
        the id of an object that died."""
        weakable = self._weakable.get(id(kind))
        alive: weakref.ref[Any] | None = None
        if weakable is None or weakable[1]:
            try:
                alive = _weak_ref(value)
            except TypeError:  # list, dict, tuple, bytearray, a class with __slots__
                alive = None
            if weakable is None:
                self._weakable[id(kind)] = (kind, alive is not None)
        self._next_number += 1
        known = _Object(self._next_number, kind, info, alive)
        self._by_id[key] = known
        self._records.pop(key, None)  # another object's, that died
        self._by_number[known.number] = known
        return known

    def forget(self, value: object) -> None:
        """``value`` dies now, or its last holder lets go of it: its id is no longer its
        number's (see the module's docstring, and ``forget_id``)."""
        known = self._by_id.get(id(value))
        if known is not None and known.kind is type(value):
            del self._by_id[id(value)]
            self._records.pop(id(value), None)

    def knows(self, value: object) -> bool:
        """Whether ``value``'s id has a number (its own, or a dead object's)."""
        return id(value) in self._by_id

    def forget_id(self, key: int) -> None:
        """The object that had id ``key`` has died."""
        self._by_id.pop(key, None)
        self._records.pop(key, None)

    def dying_with(self, parents: list[object], dying_refs: dict[int, int]) -> list[int]:
        """The ids of the numbered objects below ``parents``, which are about to die, that
        nothing else holds: they die with them. ``dying_refs``: by id, more references
        that go at the same time (a returning frame's bindings).

        Only below plain containers (``_PLAIN_CONTAINERS``), whose references to their
        items are their own, and level by level within the depth limit and node budget: a
        child dies when its references are those of the dying parents of the level above
        (counted among their first parts; a bigger container's others make it seem held,
        and it is kept). Our own references are those of a probe held as a child is."""
        died: list[int] = []
        level = parents
        budget = self._max_nodes
        for _ in range(self._max_depth):
            counts: dict[int, int] = {}
            children: list[object] = [object()]  # the probe first
            for parent in level:
                budget -= self._gather_children(parent, counts, children)
            if len(children) == 1:
                break
            alone = -1
            next_level: list[object] = []
            for child in children:
                held = refcount(child)
                if alone < 0:
                    alone = held  # the probe's: held by the list and this loop alone
                elif held == alone + counts.get(id(child), 0) + dying_refs.get(id(child), 0):
                    died.append(id(child))
                    next_level.append(child)
            if budget <= 0:
                break
            level = next_level
            dying_refs = {}
        return died

    def _gather_children(
        self, parent: object, counts: dict[int, int], children: list[object]
    ) -> int:
        """Add the numbered children of ``parent`` (a plain container the table knows) to
        ``children``, once each, and count the references to them among its parts; the
        nodes this cost."""
        kind = type(parent)
        known = self._by_id.get(id(parent))
        if known is None or not known.child_at or id(kind) not in _PLAIN_CONTAINERS:
            return 0
        if known.kind is not kind or (known.alive is not None and known.alive() is not parent):
            return 0
        parts = self._parts(parent, known.info)[1]
        child_ids = {id(parts[position]) for position in known.child_at if position < len(parts)}
        for part in parts:
            key = id(part)
            if key in child_ids:
                if key not in counts:
                    counts[key] = 0
                    children.append(part)
                counts[key] += 1
        return 1 + len(parts)

    def _check_pending(self) -> None:
        """Check the queued objects, depth first, until the node budget is spent."""
        if self._walker is not None:
            self._walker.run(self._records, self._deep)
            return
        pending = self._pending
        budget = self._max_nodes
        while pending:
            value, known, depth = pending.pop()
            if budget <= 0:
                self._spent(known)
                continue
            budget -= self._check(value, known, depth)

    def _spent(self, known: _Object) -> None:
        """An object left unchecked (beyond the depth limit, or the node budget): a new one
        is announced, its type all a reader shows there."""
        if known.form is None and known.shape is _UNSET:
            known.shape = None
            self.changes.append(known.entry())

    def _check(self, value: object, known: _Object, depth: int) -> int:
        """Compare one object with its recorded form; the nodes this cost."""
        shape, parts = self._parts(value, known.info)
        if known.form is not None and _holds_recorded(shape, parts, known):
            return self._reach_below([parts[position] for position in known.child_at], depth)
        children: list[tuple[int, int]] = []
        self._children = children
        self._child_depth = depth + 1
        form = self._encoder.encode_shallow(value, self._child)
        known.shape = shape
        known.refs = tuple(number for number, _ in children)
        if children:
            met = {key for _, key in children}
            known.child_at = tuple(i for i, part in enumerate(parts) if id(part) in met)
        else:
            known.child_at = ()
        # Parts that are all immutable scalars are held (they keep nothing else alive):
        # compared by identity, their ids cannot have been reused.
        if not children and all(id(type(part)) in _PINNABLE for part in parts):
            known.pinned, known.ids = parts, ()
        else:
            known.pinned, known.ids = None, tuple(map(_id, parts))
        if known.form is None or not self._same(form, known.form):
            known.form = form
            self.changes.append(known.entry())
        if self._walker is not None:
            self._records[id(value)] = _walk_record(known)
        return 1 + len(parts)

    def _reach_below(self, children: Sequence[Any], depth: int) -> int:
        """Queue the children of an unchanged object for their own checks (unless the
        check is not deep); the nodes this cost."""
        if self._deep:
            for child in children:
                self._reach(child, None, depth + 1)
        return 1 + len(children)

    def _child(self, value: object, info: _TypeInfo) -> Encoded:
        """The encoder's callback for an object below the one it encodes."""
        ref = self._reach(value, info, self._child_depth)
        self._children.append((ref["$ref"], id(value)))
        return ref

    def _same(self, form: Encoded, recorded: Encoded) -> bool:
        """Equal as recorded: as msgpack bytes, where 1, 1.0 and True differ."""
        return bool(form == recorded) and self._pack(form) == self._pack(recorded)

    def _parts(self, value: Any, info: _TypeInfo) -> tuple[Any, list[Any]]:
        """What the object's shallow form depends on: a shape (its sizes, its bytes if a
        bytearray) and the parts it holds at its own level (first items, keys, attribute
        names and values), which are compared by identity.

        The shape is ``_ENCODE`` for a form that only encoding tells (a plugin's summary).
        """
        base: Any = info.base
        limit = self._max_items
        parts: list[Any]
        if base is list or base is tuple:
            parts = list(base.__getitem__(value, self._first_items))
            shape: Any = base.__len__(value)
        elif base is dict:
            shape = dict.__len__(value)
            parts = []
            _extend_with_items(parts, value, shape, limit)
            return shape, parts
        elif base is bytearray:
            return (len(value), bytes(value[: self._max_str + 64])), []
        elif base is object and info.ask_plugin and self._encoder.has_plugin:
            return _ENCODE, []
        elif base is BaseException:
            parts = [_exception_args(value)]
            shape = None
        elif base is object:
            parts = []
            shape = None
        else:  # deque, set, frozenset
            parts = list(_islice(base.__iter__(value), limit))
            shape = base.__len__(value)
        if info.dict_getter is not None:
            namespace = info.dict_getter(value)
            if type(namespace) is dict:  # exactly a dict: iterating it runs no user code
                size = len(namespace)
                shape = (shape, id(namespace), size)
                _extend_with_items(parts, namespace, size, limit)
        if info.slot_getters:
            reader = info.slots_at_once
            try:
                if reader is None:
                    raise AttributeError
                parts.extend(reader(value))
            except AttributeError:  # an unset slot, or no reader: one by one
                for _, getter in info.slot_getters:
                    try:
                        parts.append(getter(value))
                    except AttributeError:
                        parts.append(_UNSET)
        return shape, parts

    # -- keyframes --------------------------------------------------------------------

    def closure(self, roots: Iterable[Encoded]) -> list[Entry]:
        """The entries of every object the forms ``roots`` refer to, directly or through
        other objects; the table forgets every other object (a keyframe holds all that
        the steps after it may refer to without recording it again)."""
        by_number = self._by_number
        seen: dict[int, _Object] = {}
        stack = [number for form in roots for number in _refs_in(form)]
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            known = by_number.get(number)
            if known is None:
                continue
            seen[number] = known
            stack.extend(known.refs)
        self._by_number = seen
        self._by_id = {key: known for key, known in self._by_id.items() if known.number in seen}
        self._records = {key: record for key, record in self._records.items() if key in self._by_id}
        return [known.entry() for known in seen.values()]


def _extend_with_items(parts: list[Any], mapping: Any, size: int, limit: int) -> None:
    """Add a dict's first ``limit`` keys, then its first ``limit`` values, read through
    ``dict``'s own methods (a subclass's run no user code). Within the bound it is read
    whole: no iterator to cut it short."""
    if size <= limit:
        parts.extend(dict.keys(mapping))
        parts.extend(dict.values(mapping))
    else:
        parts.extend(_islice(dict.keys(mapping), limit))
        parts.extend(_islice(dict.values(mapping), limit))


def _holds_recorded(shape: Any, parts: list[Any], known: _Object) -> bool:
    """Whether an object of this ``shape`` and these ``parts`` (``ObjectTable._parts``) is
    as recorded: the same shape, the same parts by identity (a plugin's form: never)."""
    return (
        shape is not _ENCODE
        and shape == known.shape
        and _same_parts(parts, known.pinned, known.ids)
    )


def _same_parts(parts: list[Any], pinned: list[Any] | None, ids: tuple[int, ...]) -> bool:
    """Whether an object holds the parts recorded: the same objects, by identity.

    Plain loops over ``zip`` of lists of equal length: mypyc compiles exactly this form to
    a C loop (not ``all(...)``, nor ``zip(..., strict=True)``), and as Python it is as fast
    as any other."""
    if pinned is not None:
        if len(pinned) != len(parts):
            return False
        for part, held in zip(parts, pinned):  # noqa: B905, SIM110
            if part is not held:
                return False
        return True
    if len(ids) != len(parts):
        return False
    for part, key in zip(parts, ids):  # noqa: B905, SIM110
        if id(part) != key:
            return False
    return True


def _walk_record(known: _Object) -> tuple[Any, ...]:
    """What the native walk reads of an object whose form is recorded, in the order of
    ``_sameparts.c``'s ``R_`` fields: the table's entry, its identity, how deep it shows,
    and where its parts are and what they were (a bytearray's: its length and first
    bytes, its shape). An object whose parts it cannot read (a deque, a plugin's form, slots
    named twice) is checked by ``_check``."""
    info = known.info
    base: Any = info.base
    shape = known.shape
    members = info.slot_members
    where, getter, namespace, size, namespace_size = _ITEMS_PYTHON, None, 0, 0, 0
    pinned: Any = known.pinned
    if base is dict:  # its items alone: ``_parts`` reads neither namespace nor slots
        where, size, members = _ITEMS_SELF, shape, ()
    elif members is None:
        pass
    elif info.dict_getter is not None:
        if type(shape) is not tuple:
            pass
        elif base is object or base is BaseException:
            where = _ITEMS_NAMESPACE if base is object else _ITEMS_EXCEPTION
            getter, namespace, size = info.dict_getter, shape[1], shape[2]
        elif base is list or base is tuple or base is set or base is frozenset:
            where, size = _ITEMS_SELF_NAMESPACE, shape[0]
            getter, namespace, namespace_size = info.dict_getter, shape[1], shape[2]
    elif base is list or base is tuple or base is set or base is frozenset:
        where, size = _ITEMS_SELF, shape
    elif base is object and shape is None:
        where = _ITEMS_NONE
    elif known.kind is bytearray and type(shape) is tuple:
        where, size, pinned = _ITEMS_BYTES, shape[0], shape[1]  # its length, its first bytes
    return (
        known, known.kind, known.alive, info.foreign, base is bytearray, where, getter, namespace,
        size, members if members is not None else (), pinned, known.ids, known.child_at,
        namespace_size,
    )  # fmt: skip


# Where the native walk reads an object's items (``_sameparts.c``'s ``ITEMS_``).
_ITEMS_PYTHON: Final = 0  # nowhere: ``_check`` checks it
_ITEMS_SELF: Final = 1  # a list, tuple, dict or set
_ITEMS_NAMESPACE: Final = 2  # an instance's namespace
_ITEMS_NONE: Final = 3  # an instance with slots alone
_ITEMS_BYTES: Final = 4  # a bytearray: its length and first bytes
_ITEMS_EXCEPTION: Final = 5  # an exception: its args, then its namespace
_ITEMS_SELF_NAMESPACE: Final = 6  # a list, tuple or set with a namespace: both's items

# The native walk (``_sameparts.c``), with the compiled table only.
_sameparts = native_extension("_sameparts", __file__)
_Walker: Final[Any] = _sameparts.Walker if _sameparts is not None else None


def _refs_in(form: Encoded) -> list[int]:
    """The numbers of the objects a form refers to at its own level and below."""
    kind = type(form)
    if kind is dict:
        number = form.get("$ref")
        if number is not None and len(form) == 1:
            return [number]
        found: list[int] = []
        for item in form.values():
            found.extend(_refs_in(item))
        return found
    if kind is list:
        found = []
        for item in form:
            found.extend(_refs_in(item))
        return found
    return []
