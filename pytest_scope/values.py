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
import sys
import types

# Private references: a test may replace these builtins (with a spy that counts calls).
from builtins import all, any, id, iter, len, max, min, next, repr, zip  # noqa: UP029
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from pytest_scope.redaction import Redaction

type Encoded = Any  # None | bool | int | float | str | list[Encoded] | dict[str, Encoded]

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_REDACTED: Final = {"$redacted": True}
_islice = itertools.islice

# type's own descriptors: reading through them never consults a metaclass.
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__
_exception_args = BaseException.__dict__["args"].__get__
_module_dict = vars(types.ModuleType)["__dict__"].__get__

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
    max_depth: int = 4  # nesting levels below the top value that are expanded
    max_items: int = 32  # elements or attributes kept per container
    max_str: int = 200  # characters kept of a str, or bytes of a bytes
    max_nodes: int = 500  # values encoded in one top-level value, all levels together


class _TypeInfo:
    """What the encoder needs of a type, found once through safe descriptors."""

    __slots__ = (
        "ask_plugin", "bare_items", "base", "deep_mutable", "dict_getter", "fields", "foreign",
        "is_class", "is_enum", "name", "plain_object", "plugin_summarizes", "slot_getters",
        "special",
    )  # fmt: skip

    def __init__(self, cls: type, in_project: Callable[[str], bool] | None) -> None:
        mro = _type_mro(cls)
        self.name = _type_name(cls)
        self.base = next((_BASE_BY_ID[id(k)] for k in mro if id(k) in _BASE_BY_ID), object)
        self.dict_getter: Callable[..., Any] | None = None
        self.slot_getters: list[tuple[str, Callable[..., Any]]] = []
        self.fields: tuple[str, ...] = ()
        for klass in mro:
            namespace = _type_dict(klass)
            for name, attribute in namespace.items():
                if type(name) is not str:  # type("C", (), {key: ...}) takes any key
                    continue
                kind = type(attribute)
                if kind is types.MemberDescriptorType and not name.startswith("__"):
                    self.slot_getters.append((name, attribute.__get__))
                elif (
                    name == "__dict__"
                    and self.dict_getter is None
                    and (kind is types.GetSetDescriptorType or kind is types.MemberDescriptorType)
                ):
                    self.dict_getter = attribute.__get__
            fields = namespace.get("_fields")
            if not self.fields and type(fields) is tuple and all(type(f) is str for f in fields):
                self.fields = fields
        self.is_enum = _derives(type(cls), enum.EnumType)
        self.is_class = _derives(cls, type)  # instances of this type are classes
        # For ValueEncoder.unchanged, which mirrors _encode's dispatch:
        # encoded as a repr before any container rule applies;
        self.special = (
            id(cls) in _SAFE_REPR_IDS
            or self.is_enum
            or id(cls) in _NAMED_IDS
            or cls is types.ModuleType
            or self.is_class
        )
        has_attrs = self.dict_getter is not None or bool(self.slot_getters)
        # encoded by _object with its attributes (below the depth limit);
        self.plain_object = self.base is object and has_attrs and not self.special
        # encoded as {"$type", "items"} (below the depth limit, if not cut);
        self.bare_items = (
            self.base in (collections.deque, set, frozenset) and not has_attrs and not self.special
        )
        # beyond the depth limit, {"$type", "$depth"}: whether that marks it mutable (None:
        # it is encoded some other way there).
        self.deep_mutable: bool | None = {
            list: True, collections.deque: True, set: True, dict: True,
            tuple: False, frozenset: False, BaseException: False,
        }.get(self.base, True if self.plain_object else None)  # fmt: skip
        # An instance of a class from outside the project (the stdlib, pytest, a library)
        # is expanded only as a local's own value; below that, like beyond the depth limit.
        self.foreign = (
            self.plain_object and in_project is not None and not in_project(_module_file(cls))
        )
        # Whether a plugin's encoder is still asked about this type (see ValueEncoder), and
        # whether it has summarized one of its values.
        self.ask_plugin = self.base is object and not self.special
        self.plugin_summarizes = False


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
        self._types: dict[int, tuple[type, _TypeInfo]] = {}
        self._path: set[int] = set()
        self._budget = 0
        self._mutable = False
        self._fault: str | None = None
        self._pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
        # id -> (form, may change) of each value encoded or verified in the open step.
        self._step_forms: dict[int, tuple[Encoded, bool]] | None = None

    def begin_step(self) -> None:
        """Open a step: until ``end_step``, the objects encoded cannot change.

        No code of the test runs within one step, so an object reached as several locals
        (``self`` down a chain of method calls) is walked once, and every local holding it
        gets the same form object, which makes the next step's check an identity test.
        """
        self._step_forms = {}

    def end_step(self) -> None:
        """Close the step: from here on, the objects may change and ids be reused."""
        self._step_forms = None

    def take_fault(self) -> str | None:
        """The first value that could not be encoded since the last call, if any: the
        recording shows it as ``<unencodable>`` and must say that it is incomplete."""
        fault, self._fault = self._fault, None
        return fault

    def encode_locals(
        self, names_values: Mapping[str, object]
    ) -> tuple[dict[str, Encoded], frozenset[str]]:
        """A frame's locals: their forms, and the names whose values may change in place."""
        encoded: dict[str, Encoded] = {}
        mutable: list[str] = []
        for name, value in names_values.items():
            form, changes = self.encode_local(name, value)
            encoded[name] = form
            if changes:
                mutable.append(name)
        return encoded, frozenset(mutable)

    def encode_local(self, name: str, value: object) -> tuple[Encoded, bool]:
        """One local's form (redacted if its name looks secret), and whether it may change."""
        if self.redaction.is_secret(name):
            return self._secret(value), False
        return self._encode_top(value)

    def encode(self, value: object) -> tuple[Encoded, bool]:
        """The form of ``value`` (a return value, an exception), and whether it may change
        in place later. The secret values learned so far count from here on: the forms
        of this step made before they were learned are made again."""
        if self.redaction.apply_learned() and self._step_forms:
            self._step_forms.clear()
        return self._encode_top(value)

    def _encode_top(self, value: object) -> tuple[Encoded, bool]:
        kind = type(value)
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
                return value, False
        elif kind is str:
            size = len(value)  # type: ignore[arg-type]
            if size <= self.limits.max_str and (
                size < self.redaction.shortest or not self.redaction.hides(value)  # type: ignore[arg-type]
            ):
                return value, False
        elif value is None or kind is bool or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            return value, False
        step_forms = self._step_forms
        if step_forms is not None and (known := step_forms.get(id(value))) is not None:
            return known
        self._budget = self.limits.max_nodes
        self._mutable = False
        self._path.clear()
        try:
            form = self._encode(value, 0)
        except Exception as exc:  # a value we did not foresee; never a reason to fail
            name = self._info(kind).name
            if self._fault is None:
                self._fault = f"a {name} value could not be encoded ({type(exc).__name__}: {exc})"
            form = {"$type": name, "repr": "<unencodable>"}
        known = (form, self._mutable)
        if step_forms is not None:
            step_forms[id(value)] = known
        return known

    def unchanged(self, name: str, value: object, form: Encoded) -> tuple[bool, bool]:
        """Whether ``encode_local(name, value)`` would give exactly ``form``, and whether
        ``value`` may change in place later (as ``encode_local`` says when it is True).

        The recorder holds only the forms it recorded, never the objects (that would keep
        them alive): this walks the object graph against the form, in the encoder's order
        and under its budget, depth and cycle rules, building nothing where the form is a
        plain list, str-keyed dict or object with attributes, and comparing any other node
        with what the encoder builds for it. Exact: False whenever the encoding differs,
        for the secret values known (``Redaction``); a str recorded before it became known
        to hold one stays as recorded, and is scrubbed when the test is written. Within a
        step, also False for an equal form that is not the step's form of ``value``
        (re-encoding it then finds the step's form, and the caller keeps that one).
        """
        if self.redaction.is_secret(name):
            self.redaction.learn(value)
            return form is _REDACTED, False
        kind = type(value)
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
                return type(form) is int and value == form, False
        elif kind is str:
            if len(value) <= self.limits.max_str and type(form) is not dict:  # type: ignore[arg-type]
                return type(form) is str and value == form, False
        elif value is None or kind is bool:
            return value is form, False
        elif kind is float and math.isfinite(value):  # type: ignore[arg-type]
            return _same_float(value, form), False  # type: ignore[arg-type]
        step_forms = self._step_forms
        if step_forms is not None and (known := step_forms.get(id(value))) is not None:
            return known[0] is form, known[1]  # another form object: the caller re-encodes
        self._budget = self.limits.max_nodes
        self._mutable = False
        self._path.clear()
        try:
            same = self._same(value, form, 0)
        except Exception:  # the caller re-encodes, which decides
            return False, False
        if same and step_forms is not None:
            step_forms[id(value)] = (form, self._mutable)
        return same, self._mutable

    def _same(self, value: object, form: Encoded, depth: int) -> bool:
        """``_encode(value, depth) == form``, exactly, with the same effects on the state."""
        self._budget -= 1
        kind = type(value)
        if kind is int and _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            return type(form) is int and value == form
        form_kind = type(form)
        if kind is str and len(value) <= self.limits.max_str and form_kind is not dict:  # type: ignore[arg-type]
            return form_kind is str and value == form  # a dict: a str with a secret, scrubbed
        if value is None or kind is bool:
            return value is form
        if kind is float and math.isfinite(value):  # type: ignore[arg-type]
            return _same_float(value, form)  # type: ignore[arg-type]
        if form_kind is list:
            if (kind is list or kind is tuple) and id(value) not in self._path:
                return self._same_sequence(value, form, depth)
            return False  # no other value of a non-scalar type encodes to a bare list
        if form_kind is not dict:
            return False
        if kind is dict and "$type" not in form:
            if form is _REDACTED:  # never an _encode result
                return False
            return id(value) not in self._path and self._same_mapping(value, form, depth)
        info = self._info(kind)
        if info.ask_plugin and self._plugin_encoder is not None:
            self._budget += 1  # a plugin's summary: only the encoder knows it
            return self._exactly(self._encode(value, depth), form)
        if info.special:  # forms of str values only: == is exact
            return (
                len(form) == 2
                and form.get("$type") == info.name
                and form.get("repr") == self._special_repr(value, kind, info)
            )
        if id(value) in self._path:
            return len(form) == 2 and form.get("$cycle") is True and form.get("$type") == info.name
        if (depth >= self.limits.max_depth or (depth and info.foreign)) and (
            info.deep_mutable is not None
        ):
            if info.deep_mutable:
                self._mutable = True
            return len(form) == 2 and form.get("$depth") is True and form.get("$type") == info.name
        size = len(form)
        if form.get("$type") == info.name and (
            size == 2 or (size == 3 and type(form.get("$truncated")) is int)
        ):
            truncated: int | None = form.get("$truncated")
            if info.plain_object:
                attrs = form.get("attrs")
                if type(attrs) is dict:
                    return self._same_object(value, attrs, truncated, info, depth)
            elif info.bare_items or kind is list or kind is tuple:
                items = form.get("items")
                if type(items) is list:
                    return self._same_items(value, items, truncated, info, depth)
            elif kind is dict or (info.base is dict and not info.special):
                items = form.get("items")
                if type(items) is list:
                    return self._same_pairs(value, items, truncated, info, depth)
        # Any other node: what the encoder makes of it, compared exactly (as msgpack:
        # 1, 1.0 and True are equal in Python, not in the trace). It runs with this walk's
        # budget, depth and path, so it is the node the encoder would make here.
        self._budget += 1
        return self._exactly(self._encode(value, depth), form)

    def _exactly(self, built: Encoded, form: Encoded) -> bool:
        return bool(built == form) and self._pack(built) == self._pack(form)

    def _same_sequence(self, value: Any, form: list[Encoded], depth: int) -> bool:
        """An exact list or tuple against a bare list form (the only way it makes one)."""
        base: Any = type(value)
        if base is list:
            self._mutable = True
        if depth >= self.limits.max_depth:
            return False
        length = base.__len__(value)
        if length != len(form) or length > min(self.limits.max_items, max(self._budget, 0)):
            return False
        key = id(value)
        self._path.add(key)
        try:
            same = self._same
            for item, item_form in zip(base.__iter__(value), form, strict=False):
                if not same(item, item_form, depth + 1):
                    return False
            return True
        finally:
            self._path.discard(key)

    def _same_items(
        self, value: Any, form: list[Encoded], truncated: int | None, info: _TypeInfo, depth: int
    ) -> bool:
        """``{"$type", "items"[, "$truncated"]}`` of a deque, set, frozenset (``bare_items``),
        or of an exact list or tuple cut at the item or node limit."""
        base: Any = info.base
        if base is not tuple and base is not frozenset:
            self._mutable = True
        length = base.__len__(value)
        keep = min(length, self.limits.max_items, max(self._budget, 0))
        if truncated is None:
            if keep < length or not info.bare_items:
                return False  # cut, or an exact list or tuple, which is a bare list uncut
        elif keep == length or truncated != length:
            return False
        if len(form) != keep:
            return False
        key = id(value)
        self._path.add(key)
        try:
            same = self._same
            for item, item_form in zip(_islice(base.__iter__(value), keep), form, strict=False):
                if not same(item, item_form, depth + 1):
                    return False
            return True
        finally:
            self._path.discard(key)

    def _same_pairs(
        self, value: Any, form: list[Encoded], truncated: int | None, info: _TypeInfo, depth: int
    ) -> bool:
        """A dict's ``{"$type", "items": [[key, value], ...][, "$truncated"]}`` (``_dict``)."""
        self._mutable = True
        length = dict.__len__(value)
        keep = min(length, self.limits.max_items, max(self._budget, 0))
        if (truncated is None and keep < length) or (
            truncated is not None and (keep == length or truncated != length)
        ):
            return False
        if len(form) != keep:
            return False
        pairs = list(_islice(dict.items(value), keep))
        if self._str_keyed(value, pairs):
            if truncated is None:
                return False  # a str-keyed map form
            str_keys = True
        else:
            str_keys = False
        is_secret_key = self.redaction.is_secret_key
        learn = self.redaction.learn
        same = self._same
        key = id(value)
        self._path.add(key)
        try:
            for (name, item), pair in zip(pairs, form, strict=True):
                if type(pair) is not list or len(pair) != 2:
                    return False
                name_form, item_form = pair
                if str_keys:
                    if type(name_form) is not str or name != name_form:
                        return False
                    secret = item_form is _REDACTED  # the same name, so the same verdict
                else:
                    if not same(name, name_form, depth + 1):
                        return False
                    secret = is_secret_key(name)
                    if secret and item_form is not _REDACTED:
                        return False
                if secret:
                    learn(item)
                elif not same(item, item_form, depth + 1):
                    return False
            return True
        finally:
            self._path.discard(key)

    def _same_mapping(self, value: Any, form: dict[str, Encoded], depth: int) -> bool:
        """An exact dict against a str-keyed map form (the only way it makes one)."""
        self._mutable = True
        if depth >= self.limits.max_depth:
            return False
        length = dict.__len__(value)
        if length != len(form) or length > min(self.limits.max_items, max(self._budget, 0)):
            return False
        key = id(value)
        self._path.add(key)
        try:
            same = self._same
            for (name, item), (form_name, item_form) in zip(
                dict.items(value), form.items(), strict=False
            ):
                if type(name) is not str or name != form_name:
                    return False
                # The same name was secret when the form was made iff its form is the mark.
                if item_form is _REDACTED:
                    self.redaction.learn(item)
                elif not same(item, item_form, depth + 1):
                    return False
            return True
        finally:
            self._path.discard(key)

    def _same_object(
        self,
        value: Any,
        attrs_form: dict[str, Encoded],
        truncated: int | None,
        info: _TypeInfo,
        depth: int,
    ) -> bool:
        """An instance against ``{"$type", "attrs"[, "$truncated"]}``: ``_object``, then
        ``_with_attrs``, which keeps the first attributes up to the item or node limit."""
        self._mutable = True
        limit = min(self.limits.max_items, max(self._budget, 0))
        expected = len(attrs_form)
        if expected > limit or (truncated is not None and expected != limit):
            return False
        same = self._same
        forms = iter(attrs_form.items())
        seen = 0
        key = id(value)
        self._path.add(key)
        try:
            # The encoder's _attributes order (__dict__, then slots), without the list.
            namespace = info.dict_getter(value) if info.dict_getter is not None else None
            attributes: Any = ()
            if type(namespace) is dict:
                attributes = ((k, v) for k, v in dict.items(namespace) if type(k) is str)
            for name, attribute in itertools.chain(attributes, self._slots(value, info)):
                seen += 1
                if seen > expected:
                    if truncated is None:
                        return False
                    continue  # only counted, as the encoder does past the limit
                form_name, attribute_form = next(forms)
                if name != form_name:
                    return False
                # The same name was secret when the form was made iff its form is the mark.
                if attribute_form is _REDACTED:
                    self.redaction.learn(attribute)
                elif not same(attribute, attribute_form, depth + 1):
                    return False
            if truncated is None:
                return seen == expected
            return seen == truncated and seen > limit
        finally:
            self._path.discard(key)

    @staticmethod
    def _slots(value: Any, info: _TypeInfo) -> list[tuple[str, object]]:
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
        if len(self._types) > 10_000:
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
        self._mutable = True
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
            is_secret = self.redaction.is_secret
            form["attrs"] = {
                name: _REDACTED if is_secret(name) else self._encode(item, depth + 1)
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
        encode = self._encode
        items = [encode(item, depth + 1) for item in _islice(iterable, keep)]
        return items, keep < length

    def _sequence(self, value: Any, info: _TypeInfo, depth: int, base: Any) -> Encoded:
        if base is not tuple:
            self._mutable = True
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
        if base is set:
            self._mutable = True
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
        self._mutable = True
        deep = self._too_deep(info, depth)
        if deep is not None:
            return deep
        length = dict.__len__(value)
        keep = min(length, self.limits.max_items, max(self._budget, 0))
        pairs = list(_islice(dict.items(value), keep))
        is_secret = self.redaction.is_secret
        is_secret_key = self.redaction.is_secret_key
        secret = self._secret
        encode = self._encode
        if self._str_keyed(value, pairs):
            mapping = {k: secret(v) if is_secret(k) else encode(v, depth + 1) for k, v in pairs}
            if keep == length:
                return mapping
            return {
                "$type": "dict",
                "items": [[k, v] for k, v in mapping.items()],
                "$truncated": length,
            }
        items = [
            [encode(k, depth + 1), secret(v) if is_secret_key(k) else encode(v, depth + 1)]
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
        if length > limit:
            text = text[:limit]
        form: dict[str, Encoded] = {"$type": info.name, "repr": text}
        if length > limit:
            form["$truncated"] = length
        if scrub:
            form["$redacted"] = True
        return form

    def _bytes(self, value: Any, info: _TypeInfo, depth: int) -> Encoded:
        """Bytes cut to the limit, or with their secret values replaced (marked redacted)."""
        base: Any = info.base
        if base is bytearray:
            self._mutable = True
        limit = self.limits.max_str
        redaction = self.redaction
        length = base.__len__(value)
        head = bytes(base.__getitem__(value, slice(0, limit + redaction.longest)))
        scrub = len(head) >= redaction.shortest and redaction.hides_bytes(head)
        if scrub:
            head = redaction.scrub_bytes(head)
        if length > limit:
            head = head[:limit]
        form: dict[str, Encoded] = {"$type": info.name, "repr": bytes.__repr__(head)}
        if length > limit:
            form["$truncated"] = length
        if scrub:
            form["$redacted"] = True
        return form

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
            self._mutable = True
            return deep
        return self._with_attrs({"$type": info.name, "attrs": {}}, value, info, depth)

    def _with_attrs(
        self, form: dict[str, Encoded], value: Any, info: _TypeInfo, depth: int
    ) -> dict[str, Encoded]:
        """Add the instance attributes (``__dict__`` and slots), read without user code."""
        if info.dict_getter is not None or info.slot_getters:
            # Even with no attributes yet: a method may set the first one at any step.
            self._mutable = True
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


def _same_float(value: float, form: Encoded) -> bool:
    """A finite float's form is itself; -0.0 and 0.0 are equal in Python, not in msgpack."""
    return (
        type(form) is float
        and value == form
        and math.copysign(1.0, value) == math.copysign(1.0, form)
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


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
