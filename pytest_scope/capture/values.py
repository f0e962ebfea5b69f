"""Values of the code under test turned into the JSON forms of the trace, without running it.

The encoder never calls user code: no ``__repr__``, ``__eq__``, ``__hash__``, ``__len__``,
``__iter__``, properties or ``__getattr__`` of a recorded object. Types are inspected
through ``type``'s own descriptors, instance state is read through the C-level
``__dict__`` and slot descriptors found in the type's MRO, and containers (also
subclasses of builtins) through the builtin types' unbound C methods. Types are compared
by identity, never with ``==``, ``in`` or a hash: a metaclass may define those.

Output is bounded: nesting depth, items per container, characters per string and nodes
per value, each cut marked the ``$``-keyed way that ``schema`` describes.

Objects of other classes may be summarized by a plugin (``hookspecs``): its encoder is
asked once per type, and only types it summarizes are asked about again.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import itertools
import math
import operator
import sys
import types

# Private references: a test may replace these builtins (with a spy that counts calls).
from builtins import all, any, id, iter, len, max, min, next, repr, zip  # noqa: UP029
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pytest_scope.capture.redaction import Redaction
from pytest_scope.trace.schema import RESOLVE_DEPTH, RESOLVE_NODES, Container

type Encoded = Any  # None | bool | int | float | str | list[Encoded] | dict[str, Encoded]

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_REDACTED: Final = {"$redacted": True}
# Types known at once: each is kept alive while known (its id must stay its own), and a
# suite that makes classes by the thousand (attrs' own) must not keep them all.
_MAX_TYPES: Final = 1000
_islice = itertools.islice

# type's own descriptors: reading through them never consults a metaclass.
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__
_exception_args = BaseException.__dict__["args"].__get__
_module_dict = vars(types.ModuleType)["__dict__"].__get__
_OBJECT_GETATTRIBUTE: Final = vars(object)["__getattribute__"]

# Exact types whose repr is C code of the standard library: safe to call, and the most
# readable form. Subclasses are not in this set, so an overridden __repr__ never runs.
_SAFE_REPR_TYPES: Final = frozenset(
    {
        complex, range, slice, memoryview, type(Ellipsis), type(NotImplemented),
        datetime.date, datetime.datetime, datetime.time, datetime.timedelta,
        datetime.timezone, decimal.Decimal,
    }
)  # fmt: skip
_NAMED_TYPES: Final = frozenset(
    {
        types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType,
        types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType,
        types.MethodWrapperType, types.WrapperDescriptorType, types.MethodDescriptorType,
    }
)  # fmt: skip
# By id: ``cls in a_set`` would hash ``cls``, which runs its metaclass's ``__hash__``.
_SAFE_REPR_IDS: Final = frozenset(id(cls) for cls in _SAFE_REPR_TYPES)
_NAMED_IDS: Final = frozenset(id(cls) for cls in _NAMED_TYPES)


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = RESOLVE_DEPTH  # nesting levels below the top value that are expanded
    max_items: int = 32  # elements or attributes kept per container
    max_str: int = 200  # characters kept of a str, or bytes of a bytes
    max_nodes: int = RESOLVE_NODES  # values in one top-level value, all levels together


class _TypeInfo:
    """What the encoder needs of a type, found once through safe descriptors."""

    __slots__ = (
        "ask_plugin", "base", "by_ref", "container", "dict_getter", "fields", "foreign",
        "is_class", "is_enum", "name", "plain_object", "plugin_summarizes", "slot_getters",
        "slot_members", "slots_at_once", "special",
    )  # fmt: skip

    def __init__(self, cls: type, in_project: Callable[[str], bool] | None) -> None:
        mro = _type_mro(cls)
        self.name = _type_name(cls)
        self.base = next((_BASE_BY_ID[id(k)] for k in mro if id(k) in _BASE_BY_ID), object)
        self.dict_getter: Callable[..., Any] | None = None
        self.slot_getters: list[tuple[str, Callable[..., Any]]] = []
        members: list[object] = []
        self.fields: tuple[str, ...] = ()
        for klass in mro:
            namespace = _type_dict(klass)
            for name, attribute in namespace.items():
                if type(name) is not str:  # type("C", (), {key: ...}) takes any key
                    continue
                kind = type(attribute)
                if kind is types.MemberDescriptorType and not name.startswith("__"):
                    self.slot_getters.append((name, attribute.__get__))
                    members.append(attribute)
                elif (
                    name == "__dict__"
                    and self.dict_getter is None
                    and (kind is types.GetSetDescriptorType or kind is types.MemberDescriptorType)
                ):
                    self.dict_getter = attribute.__get__
            fields = namespace.get("_fields")
            if not self.fields and type(fields) is tuple and all(type(f) is str for f in fields):
                self.fields = fields
        names = [name for name, _ in self.slot_getters]
        self.slots_at_once = _slots_reader(mro, names)
        # The slots' descriptors, for the native unchanged check (``objects``), where each
        # name is read once (a slot redeclared in a subclass: then by name, both read one).
        self.slot_members = tuple(members) if len(set(names)) == len(names) else None
        self.is_enum = _derives(type(cls), enum.EnumType)
        self.is_class = _derives(cls, type)  # instances of this type are classes
        # Encoded as a repr before any container rule applies.
        self.special = (
            id(cls) in _SAFE_REPR_IDS
            or self.is_enum
            or id(cls) in _NAMED_IDS
            or cls is types.ModuleType
            or self.is_class
        )
        has_attrs = self.dict_getter is not None or bool(self.slot_getters)
        # Encoded by _object with its attributes (below the depth limit).
        self.plain_object = self.base is object and has_attrs and not self.special
        # An instance of a class from outside the project (the stdlib, pytest, a library)
        # is expanded only as a local's own value; below that, like beyond the depth limit.
        self.foreign = (
            self.plain_object and in_project is not None and not in_project(_module_file(cls))
        )
        # Whether a plugin's encoder is still asked about this type (see ValueEncoder), and
        # whether it has summarized one of its values.
        self.ask_plugin = self.base is object and not self.special
        self.plugin_summarizes = False
        # Whether its values may change in place (or hold what may): recorded by identity,
        # as objects of their own (``objects``), rather than inside the form that holds them.
        self.by_ref = not self.special and (
            self.base in _BY_REF_BASES or (self.base is object and has_attrs)
        )
        # What its values are as containers (``schema.Container``), from the builtin base.
        self.container = (
            Container.NONE if self.special else _CONTAINER_BY_BASE.get(self.base, Container.NONE)
        )


class ValueEncoder:
    """Encodes values; not thread-safe (the recorder serializes its callbacks)."""

    def __init__(
        self,
        limits: Limits = Limits(),
        redaction: Redaction | None = None,
        in_project: Callable[[str], bool] | None = None,
        plugin_encoder: Callable[[object, str], object] | None = None,
    ) -> None:
        """``in_project(filename)`` tells the project's files; without it, none is foreign.
        ``plugin_encoder(value, type_name)`` is the ``pytest_scope_encode_value`` hook."""
        self.limits = limits
        self.redaction = redaction or Redaction()
        self._in_project = in_project
        self._plugin_encoder = plugin_encoder
        self.has_plugin = plugin_encoder is not None
        self._types: dict[int, tuple[type, _TypeInfo]] = {}
        self._path: set[int] = set()
        self._budget = 0
        self._fault: str | None = None
        # Set while ``encode_shallow`` runs: what a by-identity value below the top becomes.
        self._child: Callable[[object, _TypeInfo], Encoded] | None = None

    def take_fault(self) -> str | None:
        """The first value that could not be encoded since the last call, if any: the
        recording shows it as ``<unencodable>`` and must say that it is incomplete."""
        fault, self._fault = self._fault, None
        return fault

    def info(self, cls: type) -> _TypeInfo:
        """What the encoder knows of a type (cached; found without user code)."""
        return self._info(cls)

    def may_summarize(self, cls: type) -> bool:
        """Whether a plugin may yet give a value of ``cls`` a form of its own. Under pytest
        the hook is always there, and declines most types: a type whose first value it
        declined is not asked about again, and its values' forms are the encoder's."""
        return self._plugin_encoder is not None and self._info(cls).ask_plugin

    def encode_local(self, name: str, value: object) -> Encoded:
        """One local's whole form (redacted if its name looks secret)."""
        if self.redaction.is_secret(name):
            return self._secret(value)
        return self._encode_top(value)

    def encode(self, value: object) -> Encoded:
        """The whole form of ``value`` (a return value, an exception), every level of it
        within the limits. The secret values learned so far count from here on."""
        self.redaction.apply_learned()
        return self._encode_top(value)

    def encode_shallow(
        self, value: object, child: Callable[[object, _TypeInfo], Encoded]
    ) -> Encoded:
        """The form of ``value`` alone: each value below it that is recorded by identity
        (``_TypeInfo.by_ref``) is ``child(value, info)`` there, a reference to it."""
        self._child = child
        try:
            return self._encode_top(value)
        finally:
            self._child = None

    def _encode_top(self, value: object) -> Encoded:
        self._budget = self.limits.max_nodes
        self._path.clear()
        try:
            return self._encode(value, 0)
        except Exception as exc:  # a value we did not foresee; never a reason to fail
            name = self._info(type(value)).name
            if self._fault is None:
                self._fault = f"a {name} value could not be encoded ({type(exc).__name__}: {exc})"
            return {"$type": name, "repr": "<unencodable>"}

    @staticmethod
    def _slots(value: Any, info: _TypeInfo) -> list[tuple[str, object]]:
        reader = info.slots_at_once
        if reader is not None:
            try:
                return list(
                    zip([name for name, _ in info.slot_getters], reader(value), strict=True)
                )
            except AttributeError:
                pass  # an unset slot: one by one
        slots: list[tuple[str, object]] = []
        for name, getter in info.slot_getters:
            try:
                slots.append((name, getter(value)))
            except AttributeError:
                continue  # an unset slot
        return slots

    def _info(self, cls: type) -> _TypeInfo:
        cached = self._types.get(id(cls))
        if cached is not None:
            return cached[1]
        if len(self._types) > _MAX_TYPES:
            self._types.clear()
        info = _TypeInfo(cls, self._in_project)
        self._types[id(cls)] = (cls, info)  # the type is kept alive, so its id stays its own
        return info

    def _encode(self, value: object, depth: int) -> Encoded:
        self._budget -= 1
        kind = type(value)
        if kind is int and _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            return value
        if kind is str:
            size = len(value)  # type: ignore[arg-type]
            if size <= self.limits.max_str and (
                size < self.redaction.shortest or not self.redaction.hides(value)  # type: ignore[arg-type]
            ):
                return value
        elif value is None or kind is bool or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            return value
        info = self._info(kind)
        if info.special:
            return {"$type": info.name, "repr": self._special_repr(value, kind, info)}
        child = self._child
        if (
            depth
            and child is not None
            and (info.by_ref or (info.ask_plugin and self._plugin_encoder is not None))
        ):
            return child(value, info)
        key = id(value)
        if key in self._path:
            return {"$type": info.name, "$cycle": True}
        self._path.add(key)
        try:
            if info.ask_plugin and self._plugin_encoder is not None:
                form = self._plugin_form(value, info, depth)
                if form is not None:
                    return form
            return _BASE_ENCODERS.get(info.base, ValueEncoder._object)(self, value, info, depth)
        finally:
            self._path.discard(key)

    def _plugin_form(self, value: object, info: _TypeInfo, depth: int) -> Encoded | None:
        """A plugin's summary of ``value`` in the forms of ``schema``, or None if it has none.

        A type whose first value gets None is never asked about again. The summary is plugin
        data, encoded like any value; a fault in the plugin is recorded in its place.
        """
        assert self._plugin_encoder is not None
        # A summary is data made for this form alone: encoded whole, never by identity.
        child, self._child = self._child, None
        try:
            return self._summary_form(value, info, depth)
        finally:
            self._child = child

    def _summary_form(self, value: object, info: _TypeInfo, depth: int) -> Encoded | None:
        assert self._plugin_encoder is not None
        try:
            summary: Any = self._plugin_encoder(value, info.name)
        except Exception as exc:  # the plugin's fault must not reach the test
            failed = _type_qualname(type(exc))
            return {"$type": info.name, "repr": f"<pytest_scope_encode_value failed: {failed}>"}
        if summary is None:
            if not info.plugin_summarizes:
                info.ask_plugin = False
            return None
        info.plugin_summarizes = True
        kind = type(summary)
        if kind is str:
            return self._text(summary, info, depth)
        form: dict[str, Encoded] = {"$type": info.name}
        length = len(summary) if kind in (list, tuple, dict) else 0
        if kind is list or kind is tuple:
            form["items"], truncated = self._items(iter(summary), length, depth)
            if truncated:
                form["$truncated"] = length
            return form
        if kind is dict and all(type(name) is str for name in summary):
            keep = min(length, self.limits.max_items, max(self._budget, 0))
            redaction = self.redaction
            form["attrs"] = {
                name: _REDACTED if redaction.is_secret(name) else self._encode(item, depth + 1)
                for name, item in _islice(dict.items(summary), keep)
            }
            if keep < length:
                form["$truncated"] = length
            return form
        form["repr"] = f"<pytest_scope_encode_value returned a {_type_qualname(kind)}>"
        return form

    def _special_repr(self, value: object, kind: type, info: _TypeInfo) -> str:
        """The text of a value encoded as a repr whatever its depth (``info.special``)."""
        if id(kind) in _SAFE_REPR_IDS:
            return _cut(_safe_repr(value, kind), self.limits.max_str)
        if info.is_enum:
            return self._enum_name(value, info)
        if id(kind) in _NAMED_IDS:
            return _callable_name(value)
        return _named(value, info)

    def _too_deep(self, info: _TypeInfo, depth: int) -> Encoded | None:
        if depth >= self.limits.max_depth or (depth and info.foreign):
            return {"$type": info.name, "$depth": True}
        return None

    def _items(self, iterable: Any, length: int, depth: int) -> tuple[list[Encoded], bool]:
        """Encode up to max_items elements (fewer once the node budget is spent)."""
        keep = min(length, self.limits.max_items, max(self._budget, 0))
        items = [self._encode(item, depth + 1) for item in _islice(iterable, keep)]
        return items, keep < length

    def _sequence(self, value: Any, info: _TypeInfo, depth: int, base: Any) -> Encoded:
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        length = base.__len__(value)
        items, truncated = self._items(base.__iter__(value), length, depth)
        if info.fields and base is tuple and not truncated:
            return {"$type": info.name, "attrs": dict(zip(info.fields, items, strict=False))}
        exact = type(value) is base and base is not collections.deque
        if exact and not truncated:
            return items
        form: dict[str, Encoded] = {"$type": info.name, "items": items}
        if truncated:
            form["$truncated"] = length
        return self._with_attrs(form, value, info, depth) if not exact else form

    def _list(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        return self._sequence(value, info, depth, list)

    def _tuple(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        return self._sequence(value, info, depth, tuple)

    def _deque(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        return self._sequence(value, info, depth, collections.deque)

    def _set(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        base: Any = info.base
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        length = base.__len__(value)
        items, truncated = self._items(base.__iter__(value), length, depth)
        form: dict[str, Encoded] = {"$type": info.name, "items": items}
        if truncated:
            form["$truncated"] = length
        return form

    def _dict(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        length = dict.__len__(value)
        keep = min(length, self.limits.max_items, max(self._budget, 0))
        pairs = list(_islice(dict.items(value), keep))
        redaction = self.redaction
        if self._str_keyed(value, pairs):
            mapping = {
                k: self._secret(v) if redaction.is_secret(k) else self._encode(v, depth + 1)
                for k, v in pairs
            }
            if keep == length:
                return mapping
            return {
                "$type": "dict",
                "items": [[k, v] for k, v in mapping.items()],
                "$truncated": length,
            }
        items = [
            [
                self._encode(k, depth + 1),
                self._secret(v) if redaction.is_secret_key(k) else self._encode(v, depth + 1),
            ]
            for k, v in pairs
        ]
        form: dict[str, Encoded] = {"$type": info.name, "items": items}
        if keep < length:
            form["$truncated"] = length
        return form

    def _text(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        """A str cut to the limit, or with its secret values replaced (marked redacted)."""
        limit = self.limits.max_str
        redaction = self.redaction
        length = str.__len__(value)
        # Past the limit, as much more as a secret that starts before the limit may need.
        text = str.__getitem__(value, slice(0, limit + redaction.longest))
        scrub = len(text) >= redaction.shortest and redaction.hides(text)
        if scrub:
            text = redaction.scrub(text)
        shown = text if length <= limit else text[:limit]
        return _cut_form(info.name, shown, length, limit, scrub)

    def _bytes(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        """Bytes cut to the limit, or with their secret values replaced (marked redacted)."""
        base: Any = info.base
        limit = self.limits.max_str
        redaction = self.redaction
        length = base.__len__(value)
        head = bytes(base.__getitem__(value, slice(0, limit + redaction.longest)))
        scrub = len(head) >= redaction.shortest and redaction.hides_bytes(head)
        if scrub:
            head = redaction.scrub_bytes(head)
        shown = bytes.__repr__(head if length <= limit else head[:limit])
        return _cut_form(info.name, shown, length, limit, scrub)

    def _number(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        if info.base is float:
            number = float.__float__(value)
            text = "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
            return {
                "$type": info.name,
                "repr": text if not math.isfinite(number) else float.__repr__(number),
            }
        bits = int.bit_length(value)
        if bits > 4 * self.limits.max_str:
            return {"$type": info.name, "repr": f"<{bits}-bit int>"}
        return {"$type": info.name, "repr": _cut(int.__repr__(value), self.limits.max_str)}

    def _exception(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        args = self._encode(_exception_args(value), depth + 1)
        form = self._with_attrs({"$type": info.name, "attrs": {"args": args}}, value, info, depth)
        return form

    def _object(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        if info.dict_getter is None and not info.slot_getters:
            return {"$type": info.name, "repr": f"<{info.name} object>"}
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        return self._with_attrs({"$type": info.name, "attrs": {}}, value, info, depth)

    def _with_attrs(
        self, form: dict[str, Encoded], value: Any, info: _TypeInfo, depth: int
    ) -> dict[str, Encoded]:
        """Add the instance attributes (``__dict__`` and slots), read without user code."""
        attributes = self._attributes(value, info)
        if not attributes:
            return form
        limit = min(self.limits.max_items, max(self._budget, 0))
        is_secret = self.redaction.is_secret
        attrs = form.setdefault("attrs", {})
        for name, attribute in attributes[:limit]:
            attrs[name] = (
                self._secret(attribute) if is_secret(name) else self._encode(attribute, depth + 1)
            )
        if len(attributes) > limit:
            form["$truncated"] = len(attributes)
        return form

    def _secret(self, value: object) -> Encoded:
        """The form of a value held by a secret name; the value is hidden wherever else it is."""
        self.redaction.learn(value)
        return _REDACTED

    def _str_keyed(self, value: Any, pairs: list[tuple[Any, Any]]) -> bool:
        """Whether a dict's kept pairs make a plain map form: str keys, none ``$``-marked,
        none holding a secret value (a map key cannot carry the redaction mark)."""
        if type(value) is not dict or not all(type(k) is str and k[:1] != "$" for k, _ in pairs):
            return False
        redaction = self.redaction
        if not redaction.needles:
            return True
        shortest, hides = redaction.shortest, redaction.hides
        return not any(len(k) >= shortest and hides(k) for k, _ in pairs)

    @staticmethod
    def _attributes(value: Any, info: _TypeInfo) -> list[tuple[str, object]]:
        """Instance attributes from ``__dict__`` and slots, in the order they are encoded."""
        attributes: list[tuple[str, object]] = []
        if info.dict_getter is not None:
            namespace = info.dict_getter(value)
            if type(namespace) is dict:
                attributes.extend((k, v) for k, v in dict.items(namespace) if type(k) is str)
        attributes.extend(ValueEncoder._slots(value, info))
        return attributes

    def _enum_name(self, value: object, info: _TypeInfo) -> str:
        namespace = info.dict_getter(value) if info.dict_getter else None
        name = namespace.get("_name_") if type(namespace) is dict else None
        return f"{info.name}.{name}" if type(name) is str else f"<{info.name} member>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _cut_form(name: str, shown: str, length: int, limit: int, scrubbed: bool) -> Encoded:
    """The form of a str or bytes shown as ``shown``: marked when cut at ``limit`` from
    ``length``, and when secret values were replaced in it."""
    form: dict[str, Encoded] = {"$type": name, "repr": shown}
    if length > limit:
        form["$truncated"] = length
    if scrubbed:
        form["$redacted"] = True
    return form


def _callable_name(value: object) -> str:
    """The qualified name, where the callable's own C type stores one."""
    descriptor = _type_dict(type(value)).get("__qualname__")
    if type(descriptor) is types.GetSetDescriptorType:
        try:
            name = descriptor.__get__(value)
        except AttributeError:
            name = None
        if type(name) is str:
            return name
    if type(value) is types.MethodType:
        return _callable_name(types.MethodType.__dict__["__func__"].__get__(value))
    return f"<{_type_qualname(type(value))}>"


def _module_file(cls: type) -> str:
    """The file of the module that defined ``cls`` ("" if none), read without user code."""
    name = _type_module(cls) if "__module__" in _type_dict(cls) else None
    module = sys.modules.get(name) if type(name) is str else None
    if type(module) is not types.ModuleType:
        return ""
    filename = _module_dict(module).get("__file__")
    return filename if type(filename) is str else ""


def _named(value: Any, info: _TypeInfo) -> str:
    if type(value) is types.ModuleType:
        name = _module_dict(value).get("__name__")
        return f"<module {name}>" if type(name) is str else "<module>"
    if info.is_class:
        return _type_name(value)
    return "?"


def _type_name(cls: type) -> str:
    """``module.qualname``, read through ``type``'s descriptors; a class body may set
    ``__module__`` to anything, or delete it."""
    qualname: str = _type_qualname(cls)
    try:
        module = _type_module(cls)
    except AttributeError:
        return qualname
    if type(module) is not str:
        return qualname
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _slots_reader(mro: tuple[type, ...], names: list[str]) -> Callable[[Any], Any] | None:
    """One C call that reads every slot of an instance, where that runs no user code:
    attribute lookup is ``object``'s, nothing handles a missing attribute
    (``__getattr__``), and each name finds its slot first (no property in a subclass).
    It raises AttributeError for an unset slot; the caller then reads them one by one."""
    if len(names) < 2:
        return None
    first: dict[str, object] = {}
    for klass in mro:
        for name, attribute in _type_dict(klass).items():
            if type(name) is str and name not in first:
                first[name] = attribute
    if first.get("__getattribute__") is not _OBJECT_GETATTRIBUTE or "__getattr__" in first:
        return None
    if not all(type(first.get(name)) is types.MemberDescriptorType for name in names):
        return None
    return operator.attrgetter(*names)


def _derives(cls: type, base: type) -> bool:
    """Whether ``base`` is in ``cls``'s MRO, by identity (``in`` would run ``__eq__``)."""
    return any(klass is base for klass in _type_mro(cls))


def _safe_repr(value: Any, kind: type) -> str:
    """The repr of a value of a ``_SAFE_REPR_TYPES`` type, without the user code that the
    C repr would call: that of a slice's bounds or of a datetime's tzinfo subclass."""
    if kind is slice:
        bounds = (value.start, value.stop, value.step)
        if not all(type(b) is int or b is None for b in bounds):
            return f"slice({', '.join(_scalar_or_type(b) for b in bounds)})"
    elif kind is datetime.datetime or kind is datetime.time:
        tzinfo = value.tzinfo
        if tzinfo is not None and type(tzinfo) is not datetime.timezone:
            naive = repr(value.replace(tzinfo=None))
            return f"{naive[:-1]}, tzinfo=<{_type_name(type(tzinfo))}>)"
    return repr(value)


def _scalar_or_type(value: object) -> str:
    return repr(value) if type(value) is int or value is None else f"<{_type_name(type(value))}>"


_BASE_ENCODERS: Final[dict[type, Callable[[ValueEncoder, Any, _TypeInfo, int], Encoded]]] = {
    list: ValueEncoder._list,
    tuple: ValueEncoder._tuple,
    collections.deque: ValueEncoder._deque,
    dict: ValueEncoder._dict,
    set: ValueEncoder._set,
    frozenset: ValueEncoder._set,
    str: ValueEncoder._text,
    bytes: ValueEncoder._bytes,
    bytearray: ValueEncoder._bytes,
    int: ValueEncoder._number,
    float: ValueEncoder._number,
    BaseException: ValueEncoder._exception,
}
_BASE_BY_ID: Final = {id(cls): cls for cls in _BASE_ENCODERS}
_BY_REF_BASES: Final = (
    list, tuple, collections.deque, dict, set, frozenset, bytearray, BaseException,
)  # fmt: skip
_CONTAINER_BY_BASE: Final[dict[type, int]] = {
    dict: Container.MAPPING,
    list: Container.SEQUENCE,
    collections.deque: Container.SEQUENCE,
    tuple: Container.TUPLE,
    set: Container.SET,
    frozenset: Container.SET,
}
