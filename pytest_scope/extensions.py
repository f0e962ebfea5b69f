"""What plugins add to a recording through ``hookspecs``, gathered for the session."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_scope.capture.redaction import check_pattern


def plugin_encoder(config: pytest.Config) -> Callable[[object, str], object]:
    """The ``pytest_scope_encode_value`` hook as a function of a value and its type name.

    Plugins registered later (a conftest found while collecting) are consulted too: the
    hook is called through pluggy each time, and the encoder caches per type.
    """
    hook = config.hook.pytest_scope_encode_value

    def encode(value: object, type_name: str) -> object:
        return hook(value=value, type_name=type_name)

    return encode


def plugin_redact_patterns(config: pytest.Config) -> list[str]:
    """Every plugin's extra secret-name patterns; a bad one is a usage error naming it."""
    patterns: list[str] = []
    for returned in config.hook.pytest_scope_redact_patterns():
        for pattern in [returned] if isinstance(returned, str) else returned:
            if not isinstance(pattern, str):
                raise pytest.UsageError(
                    f"pytest_scope_redact_patterns returned {pattern!r}, not a str pattern"
                )
            try:
                check_pattern(pattern)
            except ValueError as exc:
                raise pytest.UsageError(
                    f"pytest_scope_redact_patterns returned a bad pattern {pattern!r}: {exc}"
                ) from None
            patterns.append(pattern)
    return patterns
