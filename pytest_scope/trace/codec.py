"""Packing and unpacking of chunks (see ``schema``): msgpack, then zlib.

Unpacking treats its input as untrusted (a trace file may come from a CI artifact), so
what it may cost is bounded before anything is built: the inflated size (a zip bomb stops
at ``MAX_CHUNK_BYTES``), the elements an array may declare (msgpack preallocates what an
array declares, within what the input could still hold), and the containers built (an
empty one costs about 80 times its one byte). The recorder writes no msgpack extension
types, so none is accepted. Any malformation becomes a ``ValueError`` for the reader to
report against the file.
"""

from __future__ import annotations

import zlib

# Private references: the recorder packs chunks while a test runs, which may patch these.
from builtins import isinstance, len, max  # noqa: UP029
from typing import Any, Final, NoReturn

import msgpack

# The recorder closes a chunk at about CHUNK_TARGET_BYTES (1 MiB), and refuses one past
# this bound when it writes it (``seal_chunk``). Decoding costs up to about 25 times the
# inflated size (a 3-byte string is a 76-byte object), so a chunk's memory stays ~200 MB.
MAX_CHUNK_BYTES: Final = 8 * 1024 * 1024
# Far above what the recorder writes: events per chunk (8,192 at most), items per
# container (32), frames per recorded stack; a keyframe's objects are written in segments
# of this many.
MAX_ARRAY_LENGTH: Final = 16384
MAX_CONTAINERS: Final = 1_000_000
# The first byte of every msgpack map or array (fixmap, fixarray, array 16/32, map 16/32).
_CONTAINER_HEADS: Final = bytes([*range(0x80, 0xA0), *range(0xDC, 0xE0)])
_OTHER_BYTES: Final = bytes(byte for byte in range(256) if byte not in _CONTAINER_HEADS)

Keyframe = dict[str, Any]
Event = list[Any]


# The ring buffer closes a chunk once its events pack to this many bytes (or at its bound
# in events, see ``capture.buffer``): far below what a reader accepts, and small enough to
# drop in pieces.
CHUNK_TARGET_BYTES: Final = 1024 * 1024

# Fast, and within a few percent of the best ratio on steps (mostly small deltas).
_COMPRESSION_LEVEL: Final = 1
# Private references: the recorder packs chunks while a test runs, which may patch these.
_compress = zlib.compress
_Packer = msgpack.Packer
# A str is packed as UTF-8, and one that holds a lone surrogate ("\ud800", from a file
# name the file system could not decode, say) as the bytes UTF-8 would give it: recorded
# as it is, and read back the same.
UNICODE_ERRORS: Final = "surrogatepass"


class EventPacker:
    """Packs a chunk's events one by one, as they are recorded, into one growing buffer
    (no list of events), and tells the size so far when asked. The native line step
    (``capture/_steps.c``) appends its packed events to ``data`` and counts them in
    ``count`` the same way."""

    def __init__(self) -> None:
        self._packer = _Packer(use_bin_type=True, unicode_errors=UNICODE_ERRORS)
        self.data = bytearray()
        self.count = 0

    def pack(self, event: Event) -> None:
        self.data += self._packer.pack(event)
        self.count += 1

    def size(self) -> int:
        return len(self.data)

    def take(self) -> tuple[int, bytes]:
        """The events packed so far (their count and bytes); starts afresh."""
        taken = self.count, bytes(self.data)
        self.data.clear()
        self.count = 0
        return taken


def pack_chunk(keyframe: Keyframe, events: list[Event]) -> bytes:
    """Encode one chunk of events."""
    packer = EventPacker()
    for event in events:
        packer.pack(event)
    return seal_chunk(keyframe, *packer.take())


def seal_chunk(keyframe: Keyframe, count: int, packed_events: bytes) -> bytes:
    """Encode one chunk of ``count`` events packed by an ``EventPacker``.

    A chunk that ``unpack_chunk`` would refuse is a ``ValueError`` here, when it is
    written, rather than a recording no one can read later.
    """
    objects = keyframe.get("objects", ())
    if len(objects) > MAX_ARRAY_LENGTH:
        keyframe = {**keyframe, "objects": _in_segments(objects)}
    packer = _Packer(use_bin_type=True, unicode_errors=UNICODE_ERRORS)
    raw = b"".join(
        [
            packer.pack_array_header(2),
            packer.pack(keyframe),
            packer.pack_array_header(count),
            packed_events,
        ]
    )
    if len(raw) >= MAX_CHUNK_BYTES:
        raise ValueError(
            f"a chunk of {len(raw) / 2**20:.1f} MiB, past the {MAX_CHUNK_BYTES // 2**20} MiB"
            " a reader accepts (one step's state is that large)"
        )
    if _may_hold_too_many_containers(raw) or _deepest_stack(keyframe) > MAX_ARRAY_LENGTH:
        try:
            msgpack.unpackb(raw, **_limits(raw))
        except (ValueError, msgpack.UnpackException) as exc:
            raise ValueError(f"a chunk a reader would refuse: {exc}") from None
    return _compress(raw, _COMPRESSION_LEVEL)


def _in_segments(entries: list[Any]) -> list[list[Any]]:
    """A keyframe's objects as lists of at most ``MAX_ARRAY_LENGTH`` entries each: more
    objects than a reader accepts in one array (``schema``)."""
    return [entries[at : at + MAX_ARRAY_LENGTH] for at in range(0, len(entries), MAX_ARRAY_LENGTH)]


def _joined(objects: Any) -> Any:
    """A keyframe's objects in one list, from the segments ``_in_segments`` wrote."""
    if isinstance(objects, list) and objects and all(map(_is_segment, objects)):
        return [entry for segment in objects for entry in segment]
    return objects


def _is_segment(item: Any) -> bool:
    """A list of entries, not one entry (whose first item is its number)."""
    return isinstance(item, list) and bool(item) and isinstance(item[0], list)


def _deepest_stack(keyframe: Keyframe) -> int:
    return max((len(frames) for _, frames in keyframe.get("threads", ())), default=0)


def _may_hold_too_many_containers(raw: bytes) -> bool:
    """Whether ``raw`` has more container heads than a chunk may hold: never when it has
    fewer bytes (each container takes one at least), which spares the count."""
    return len(raw) > MAX_CONTAINERS and len(raw.translate(None, _OTHER_BYTES)) > MAX_CONTAINERS


def unpack_chunk(data: bytes) -> tuple[Keyframe, list[Event]]:
    """Decode one chunk, refusing anything the recorder could not have written."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, MAX_CHUNK_BYTES)
    except zlib.error as exc:
        raise ValueError(f"undecodable chunk ({exc})") from None
    if not inflater.eof:
        too_big = len(raw) >= MAX_CHUNK_BYTES
        raise ValueError(
            f"chunk inflates past {MAX_CHUNK_BYTES // 2**20} MiB" if too_big else "truncated chunk"
        )
    try:
        unpacked = msgpack.unpackb(raw, **_limits(raw))
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise ValueError(f"undecodable chunk ({str(exc) or type(exc).__name__})") from None
    if (
        not isinstance(unpacked, list)
        or len(unpacked) != 2
        or not isinstance(unpacked[0], dict)
        or not isinstance(unpacked[1], list)
    ):
        raise ValueError("chunk is not [keyframe, events]")
    keyframe = unpacked[0]
    if "objects" in keyframe:
        keyframe["objects"] = _joined(keyframe["objects"])
    return keyframe, unpacked[1]


def _limits(raw: bytes) -> dict[str, Any]:
    """msgpack's options for ``raw``: its limits, and a count of containers when needed.

    Every container begins with one of ``_CONTAINER_HEADS``, so their count in ``raw``
    bounds the containers it can hold; only when text inside it inflates that count past
    the limit are the containers counted as they are built (which is slower)."""
    options: dict[str, Any] = {
        "raw": False,
        "unicode_errors": UNICODE_ERRORS,
        "strict_map_key": True,
        "max_array_len": MAX_ARRAY_LENGTH,
        "max_map_len": MAX_ARRAY_LENGTH,
        "ext_hook": _refuse_ext,
    }
    if _may_hold_too_many_containers(raw):
        built = [0]

        def count(container: Any) -> Any:
            built[0] += 1
            if built[0] > MAX_CONTAINERS:
                raise ValueError(f"more than {MAX_CONTAINERS:,} containers")
            return container

        options.update(list_hook=count, object_hook=count)
    return options


def _refuse_ext(code: int, data: bytes) -> NoReturn:
    raise ValueError(f"msgpack extension type {code}, which the recorder never writes")
