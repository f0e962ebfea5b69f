"""The Debug Adapter Protocol's framing: JSON messages after ``Content-Length`` headers.

What arrives is untrusted: a header line, a body and its nesting are bounded, and a
message that cannot be read is reported to the session as a str (which answers it with an
``output`` event) rather than raised, so that no client can stop the server this way.
"""

from __future__ import annotations

import json
from typing import IO, Any, Final

MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
_MAX_HEADER_BYTES: Final = 4096


class Connection:
    """Messages framed by ``Content-Length`` headers on a pair of byte streams."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.reader = reader
        self.writer = writer

    def read(self) -> dict[str, Any] | str | None:
        """The next message; a str saying what was wrong with a bad one; None at the end."""
        length: int | None = None
        while True:
            line = self.reader.readline(_MAX_HEADER_BYTES)
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                if length is not None:
                    break
                continue
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return f"a Content-Length that is not a number: {value.strip()!r}"
        if length < 0:
            return f"a negative Content-Length ({length})"
        if length > MAX_MESSAGE_BYTES:
            while length > 0 and self.reader.read(min(length, 65536)):  # skipped, unread
                length -= 65536
            return f"a message of more than {MAX_MESSAGE_BYTES} bytes"
        body = self.reader.read(length)
        try:
            message = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return "a message that is not JSON"
        except RecursionError:
            return "a message nested too deeply"
        if not isinstance(message, dict):
            return "a message that is not a JSON object"
        return message

    def write(self, message: dict[str, Any]) -> None:
        # A lone surrogate of a recorded str as its JSON escape: UTF-8 cannot hold it.
        body = json.dumps(message, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.writer.flush()
