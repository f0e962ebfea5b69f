"""Hooks a pytest plugin may implement to extend what pytest-scope records.

``plugin.pytest_addhooks`` adds them in every run. Implement them with
``@pytest.hookimpl(optionalhook=True)``, so that the plugin also loads where pytest-scope
is not installed. They are called only while recording.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest


@pytest.hookspec(firstresult=True)
def pytest_scope_encode_value(value: object, type_name: str) -> object:
    """Summarize ``value`` for the trace, or return None to leave it to pytest-scope.

    Asked only about objects of classes that pytest-scope does not encode as builtins
    (scalars, containers, exceptions, classes, functions, ...): a NumPy array, a DataFrame.
    ``type_name`` is the qualified name the trace shows (``"numpy.ndarray"``), so a plugin
    can decide without importing the library. Return a dict with str keys (shown as the
    object's fields: ``{"shape": [2, 3], "dtype": "int64", "head": [...]}``), a list (its
    items) or a str (its text); pytest-scope encodes that within its usual bounds.

    The answer for a type is cached: once a type's first value gets None, it is never
    asked about again, so the hook costs nothing for the types it does not handle. It runs
    at every step that records such a value: keep it quick, and do not run the object's
    own code where that has side effects. An exception it raises is recorded in place of
    the value and never reaches the test.
    """
    raise NotImplementedError  # a specification only


@pytest.hookspec
def pytest_scope_redact_patterns() -> Iterable[str]:
    """Regular expressions of names whose values are secrets, besides pytest-scope's own.

    Matched like the built-in ones: searched (not anchored), ignoring case, against the
    names of locals, attributes and str dict keys. Asked once, when recording starts.
    """
    raise NotImplementedError  # a specification only
