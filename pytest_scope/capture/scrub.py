"""The last look at a test's chunks before they are written: no known secret value in them.

The encoder hides every secret value it knows of when it encodes (``Redaction``), but a
value can become known after it was recorded: ``pw`` is recorded, then ``password = pw``
teaches the encoder that it is a secret; a test sets ``API_TOKEN`` after a local took its
value. When the test ends, each packed chunk is searched for the UTF-8 bytes of every
secret value known by then (msgpack writes a str as its UTF-8 bytes); only a chunk that
holds one is unpacked, scrubbed value by value, and packed again.

Then a last pass, which knows only where names are, looks at every other str of the
chunk: one that still holds a secret value (in a part of the schema the scrubbing does not
know) is replaced by its scrubbed text. Names are left as they are: a local's, an
attribute's, a type's or a deleted local's name is in the source code, and a secret value
that happens to equal one (a learned ``"host"`` beside an attribute ``host``) hides nothing
there. So a recording is never lost for a secret: at worst a value is redacted. The chunks
say how many values they show redacted, for the run's summary.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Final

from pytest_scope.capture.redaction import Redaction
from pytest_scope.capture.values import Encoded
from pytest_scope.errors import ScopeError
from pytest_scope.trace.codec import Event, Keyframe, pack_chunk, unpack_chunk
from pytest_scope.trace.records import Chunk
from pytest_scope.trace.schema import Payload

# A redacted value's mark as msgpack writes it (a str of 9 bytes): one per value.
_MARK: Final = b"\xa9$redacted"


def scrub_chunks(chunks: Sequence[Chunk], redaction: Redaction) -> tuple[list[Chunk], int]:
    """``chunks``, with the secret values in any of them replaced as the encoder does, and
    how many values they show redacted (not looked for when the test met no secret).

    Raises ``ScopeError`` if a chunk cannot be read back: it must not be written then.
    """
    redaction.apply_learned()
    if not redaction.needles and not redaction.used:
        return list(chunks), 0
    scrubbed = []
    redacted = 0
    for chunk in chunks:
        try:
            data = zlib.decompress(chunk.data)
            if redaction.needles and redaction.hides_bytes(data):
                keyframe, events = unpack_chunk(chunk.data)
                keyframe = _keyframe(keyframe, redaction)
                events = _events(events, redaction)
                residue = _Residue(redaction)
                packed = pack_chunk(residue.keyframe(keyframe), residue.events(events))
                chunk = Chunk(chunk.first_step, chunk.last_step, packed)
                data = zlib.decompress(packed)
                redacted += residue.replaced
            redacted += data.count(_MARK)
        except (zlib.error, ValueError, TypeError, LookupError) as exc:
            raise ScopeError(
                f"a chunk could not be searched for secrets ({type(exc).__name__})"
            ) from None
        scrubbed.append(chunk)
    return scrubbed, redacted


class _Residue:
    """The last pass: every str of a chunk but its names, with what still holds a secret
    value replaced by its scrubbed text (no mark can be added where the schema is not
    known). Names: dict keys (locals, attributes, the schema's own keys), ``$type`` values,
    an object entry's type name, deleted locals (``"d"``, and in ``"o"``)."""

    def __init__(self, redaction: Redaction) -> None:
        self._redaction = redaction
        self.replaced = 0

    def keyframe(self, keyframe: Keyframe) -> Keyframe:
        return {
            key: self._entries(item) if key == "objects" else self.walk(item)
            for key, item in keyframe.items()
        }

    def events(self, events: list[Event]) -> list[Event]:
        return [
            [*self.walk(event[:6]), self._payload(event[6]), *self.walk(event[7:])]
            if type(event) is list and len(event) > 6 and type(event[6]) is dict
            else self.walk(event)
            for event in events
        ]

    def _payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        kept = {}
        for key, item in payload.items():
            if key == Payload.DELETED:
                kept[key] = item
            elif key == Payload.OBJECTS:
                kept[key] = self._entries(item)
            elif key == Payload.OTHER_FRAMES and type(item) is list:
                kept[key] = [
                    [*self.walk(change[:3]), change[3], *self.walk(change[4:])]
                    if type(change) is list and len(change) > 3
                    else self.walk(change)
                    for change in item
                ]
            else:
                kept[key] = self.walk(item)
        return kept

    def _entries(self, entries: Any) -> Any:
        """``[[number, type_name, form, foreign, container], ...]``."""
        if type(entries) is not list:
            return self.walk(entries)
        return [
            [entry[0], entry[1], *self.walk(entry[2:])]
            if type(entry) is list and len(entry) > 2
            else self.walk(entry)
            for entry in entries
        ]

    def walk(self, node: Any) -> Any:
        """A value form, or a part of the chunk whose names are dict keys only."""
        kind = type(node)
        redaction = self._redaction
        if kind is str:
            if len(node) >= redaction.shortest and redaction.hides(node):
                self.replaced += 1
                return redaction.scrub(node)
            return node
        if kind is bytes:
            if redaction.hides_bytes(node):
                self.replaced += 1
                return redaction.scrub_bytes(node)
            return node
        if kind is list:
            return [self.walk(item) for item in node]
        if kind is dict:
            return {key: item if key == "$type" else self.walk(item) for key, item in node.items()}
        return node


def _keyframe(keyframe: Keyframe, redaction: Redaction) -> Keyframe:
    """``{"step", "threads": [[thread, [frame, ...]], ...], "suspended": [frame, ...],
    "watched", "objects"}``."""
    scrubbed = {
        **keyframe,
        "threads": [
            [thread, [_frame(frame, redaction) for frame in frames]]
            for thread, frames in keyframe.get("threads", ())
        ],
        "suspended": [_frame(frame, redaction) for frame in keyframe.get("suspended", ())],
    }
    if "watched" in keyframe:
        scrubbed["watched"] = _locals(keyframe["watched"], redaction)
    if "objects" in keyframe:
        scrubbed["objects"] = _objects(keyframe["objects"], redaction)
    return scrubbed


def _objects(entries: list[Any], redaction: Redaction) -> list[Any]:
    """``[[number, type_name, form, foreign, container], ...]``."""
    return [[*entry[:2], _value(entry[2], redaction), *entry[3:]] for entry in entries]


def _frame(frame: list[Any], redaction: Redaction) -> list[Any]:
    """``[frame_no, code_no, line, {name: value}]``."""
    return [*frame[:3], _locals(frame[3], redaction)]


def _events(events: list[Event], redaction: Redaction) -> list[Event]:
    """``[step, kind, thread, frame_no, code_no, line, payload]``; see ``schema``."""
    scrubbed = []
    for event in events:
        payload = event[6]
        if payload:
            payload = dict(payload)
            for key in (Payload.LOCALS, Payload.WATCHED):
                if key in payload:
                    payload[key] = _locals(payload[key], redaction)
            if Payload.OTHER_FRAMES in payload:
                payload[Payload.OTHER_FRAMES] = [
                    [frame_no, line, _locals(changed, redaction), deleted]
                    for frame_no, line, changed, deleted in payload[Payload.OTHER_FRAMES]
                ]
            for key in (Payload.RETURNED, Payload.EXCEPTION):
                if key in payload:
                    payload[key] = _value(payload[key], redaction)
            if Payload.OBJECTS in payload:
                payload[Payload.OBJECTS] = _objects(payload[Payload.OBJECTS], redaction)
            event = [*event[:6], payload]
        scrubbed.append(event)
    return scrubbed


def _locals(names_values: dict[str, Encoded], redaction: Redaction) -> dict[str, Encoded]:
    return {name: _value(value, redaction) for name, value in names_values.items()}


def _value(form: Encoded, redaction: Redaction) -> Encoded:
    """A value form with each str that holds a secret value scrubbed and marked."""
    if isinstance(form, str):
        if not redaction.hides(form):
            return form
        return {"$type": "str", "repr": redaction.scrub(form), "$redacted": True}
    if isinstance(form, list):
        return [_value(item, redaction) for item in form]
    if not isinstance(form, dict):
        return form
    if "$type" not in form:
        if any(redaction.hides(key) for key in form):  # a key cannot carry the mark:
            pairs = [
                [_value(key, redaction), _value(item, redaction)] for key, item in form.items()
            ]
            return {"$type": "dict", "items": pairs}  # the form the encoder gives such a dict
        return {key: _value(item, redaction) for key, item in form.items()}
    scrubbed = dict(form)
    text = form.get("repr")
    if isinstance(text, str) and redaction.hides(text):
        scrubbed["repr"] = redaction.scrub(text)
        scrubbed["$redacted"] = True
    if isinstance(form.get("attrs"), dict):
        scrubbed["attrs"] = _locals(form["attrs"], redaction)
    if isinstance(form.get("items"), list):
        scrubbed["items"] = _value(form["items"], redaction)
    return scrubbed
