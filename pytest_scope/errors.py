"""The project's exceptions: one base, specific subclasses.

The ``scope-replay`` CLI turns any ``ScopeError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class ScopeError(Exception):
    """Base of every error pytest-scope reports to a user."""


class TraceFileError(ScopeError):
    """A trace file cannot be used: missing, unreadable, corrupt or not ours."""

    def __init__(self, filename: object, problem: str) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = str(filename)


class SchemaVersionError(TraceFileError):
    """A trace file written by another (usually newer) version of pytest-scope."""


class NotFoundError(ScopeError):
    """A test, run or step asked for does not exist in the traces."""
