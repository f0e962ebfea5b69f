"""The last look at a test's chunks before they are written: no known secret value in them.

The encoder hides every secret value it knows of when it encodes (``Redaction``), but a
value can become known after it was recorded: ``pw`` is recorded, then ``password = pw``
teaches the encoder that it is a secret; a test sets ``API_TOKEN`` after a local took its
value. When the test ends, each packed chunk is searched for the UTF-8 bytes of every
secret value known by then (msgpack writes a str as its UTF-8 bytes); only a chunk that
holds one is unpacked, scrubbed value by value, and packed again.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from pytest_scope.capture.redaction import Redaction
from pytest_scope.capture.values import Encoded
from pytest_scope.errors import ScopeError
from pytest_scope.trace.codec import Event, Keyframe, pack_chunk, unpack_chunk
from pytest_scope.trace.records import Chunk


def scrub_chunks(chunks: Sequence[Chunk], redaction: Redaction) -> list[Chunk]:
    """``chunks``, with the secret values in any of them replaced as the encoder does.

    Raises ``ScopeError`` if a chunk cannot be read back: it must not be written then.
    """
    redaction.apply_learned()
    if not redaction.needles:
        return list(chunks)
    scrubbed = []
    for chunk in chunks:
        left = False
        try:
            if redaction.hides_bytes(zlib.decompress(chunk.data)):
                keyframe, events = unpack_chunk(chunk.data)
                data = pack_chunk(_keyframe(keyframe, redaction), _events(events, redaction))
                chunk = Chunk(chunk.first_step, chunk.last_step, data)
                left = redaction.hides_bytes(zlib.decompress(data))
        except (zlib.error, ValueError, TypeError, LookupError) as exc:
            raise ScopeError(
                f"a chunk could not be searched for secrets ({type(exc).__name__})"
            ) from None
        else:
            if left:  # a part of the schema this module does not know of: write nothing
                raise ScopeError("a chunk still holds a secret value after scrubbing")
        scrubbed.append(chunk)
    return scrubbed


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
    """``[[number, type_name, form, foreign], ...]``."""
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
            for key in ("l", "w"):
                if key in payload:
                    payload[key] = _locals(payload[key], redaction)
            if "o" in payload:
                payload["o"] = [
                    [frame_no, line, _locals(changed, redaction), deleted]
                    for frame_no, line, changed, deleted in payload["o"]
                ]
            for key in ("r", "x"):
                if key in payload:
                    payload[key] = _value(payload[key], redaction)
            if "b" in payload:
                payload["b"] = _objects(payload["b"], redaction)
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
