"""Packing and unpacking of chunks (see ``schema``): msgpack, then zlib.

Unpacking treats its input as untrusted (a trace file may come from a CI artifact):
sizes are bounded before and after decompression, and any malformation becomes a
``ValueError`` for the reader to report against the file.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

import msgpack

# A chunk holds at most a few thousand events of bounded values; anything larger is
# not something the recorder wrote.
MAX_CHUNK_BYTES: Final = 64 * 1024 * 1024

Keyframe = dict[str, Any]
Event = list[Any]


# Private references: the recorder packs chunks while a test runs, which may patch these.
_compress = zlib.compress
_packb = msgpack.packb


def pack_chunk(keyframe: Keyframe, events: list[Event]) -> bytes:
    """Encode one chunk; the recorder calls this when a chunk is closed."""
    return _compress(_packb([keyframe, events], use_bin_type=True), 6)


def unpack_chunk(data: bytes) -> tuple[Keyframe, list[Event]]:
    """Decode one chunk, refusing anything the recorder could not have written."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, MAX_CHUNK_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("chunk inflates past the size limit")
        unpacked = msgpack.unpackb(
            raw,
            raw=False,
            strict_map_key=True,  # per-type limits default to len(raw), itself bounded
        )
    except (zlib.error, msgpack.UnpackException, msgpack.ExtraData, TypeError) as exc:
        raise ValueError(f"undecodable chunk ({exc.__class__.__name__})") from None
    if (
        not isinstance(unpacked, list)
        or len(unpacked) != 2
        or not isinstance(unpacked[0], dict)
        or not isinstance(unpacked[1], list)
    ):
        raise ValueError("chunk is not [keyframe, events]")
    return unpacked[0], unpacked[1]
