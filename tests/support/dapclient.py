"""A DAP client for the tests: ``scope-replay --dap`` in a subprocess, Content-Length framed."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

TIMEOUT = 60


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        assert name == "Content-Length", line
        length = int(value)
    assert length is not None
    message: dict[str, Any] = json.loads(stream.read(length))
    return message


class DapClient:
    """Requests and their responses; events kept in order until a test waits for them."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "replay.cli", *args, "--dap"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.writer = self.process.stdin
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._seq = 0
        self.events: list[dict[str, Any]] = []
        reader = self.process.stdout
        threading.Thread(target=self._read, args=(reader,), daemon=True).start()

    def _read(self, reader: IO[bytes]) -> None:
        while (message := read_message(reader)) is not None:
            self._messages.put(message)
        self._messages.put(None)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        self.writer.flush()

    def send(self, command: str, arguments: Any = None, **extra: Any) -> int:
        self._seq += 1
        message = {"seq": self._seq, "type": "request", "command": command, **extra}
        if arguments is not None:
            message["arguments"] = arguments
        self.send_raw(frame(message))
        return self._seq

    def _next(self) -> dict[str, Any]:
        message = self._messages.get(timeout=TIMEOUT)
        assert message is not None, "the server ended: " + self.stderr()
        return message

    def response(self, seq: int) -> dict[str, Any]:
        while True:
            message = self._next()
            if message["type"] == "response" and message["request_seq"] == seq:
                return message
            if message["type"] == "event":
                self.events.append(message)

    def request(self, command: str, arguments: Any = None) -> dict[str, Any]:
        """The successful response's body (an assertion error says why it failed)."""
        answer = self.response(self.send(command, arguments))
        assert answer["success"], answer
        body: dict[str, Any] = answer.get("body", {})
        return body

    def failure(self, command: str, arguments: Any = None) -> str:
        """The message of a request's error response (it must fail)."""
        answer = self.response(self.send(command, arguments))
        assert answer["success"] is False, answer
        assert answer["command"] == command
        message: str = answer["message"]
        return message

    def event(self, name: str) -> dict[str, Any]:
        for position, event in enumerate(self.events):
            if event["event"] == name:
                del self.events[position]
                return event
        while True:
            message = self._next()
            if message["type"] == "event" and message["event"] == name:
                return message
            if message["type"] == "event":
                self.events.append(message)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read().decode()

    def close(self) -> int:
        with contextlib.suppress(BrokenPipeError):  # it had stopped already
            self.writer.close()  # the end of its input: the server stops
        code = self.process.wait(timeout=TIMEOUT)
        assert self.process.stderr is not None
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code
