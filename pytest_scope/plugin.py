"""The pytest11 entry point: options and the switch that turns recording on.

pytest loads this module in every run of every project that installs pytest-scope, so it
stays thin: the recorder, msgpack and SQLite are imported only when ``--scope`` is on.
This module must also import on Python 3.11, to say that ``--scope`` needs 3.12.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable

import pytest

from pytest_scope.capture.redaction import check_pattern  # light: re only
from pytest_scope.marker import LEVELS, MARKER_LINE  # light: pytest only
from pytest_scope.rootdir_check import warning_line  # light: os, shlex only

_recording_key = pytest.StashKey[bool]()  # set where --scope started a recording run


def _positive_number_of(unit: str) -> Callable[[str], int]:
    """The type of an option counting ``unit``: argparse shows its message after the option's
    name (a ValueError would show this function's name instead)."""

    def positive_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(
                f"must be a positive whole number of {unit}, not {text!r}"
            )
        return value

    return positive_number


def _not_empty(what: str) -> Callable[[str], str]:
    """The type of an option naming ``what``: an empty value would silently mean the
    default, the current directory or every file."""

    def given(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"needs {what}, not an empty value")
        return text

    return given


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_scope import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _pattern(text: str) -> str:
    """A regular expression of secret names; an empty one would match every name."""
    if not text:
        raise argparse.ArgumentTypeError("needs a pattern, not an empty value")
    try:
        return check_pattern(text)
    except ValueError as exc:  # argparse shows this one's message as it is
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scope", "record tests for replay (pytest-scope)")
    group.addoption(
        "--scope",
        action="store_true",
        dest="scope",
        default=None,
        help="record every test with sys.monitoring into a trace file (ini: scope).",
    )
    group.addoption(
        "--scope-dir",
        dest="scope_dir",
        type=_not_empty("a directory"),
        metavar="DIR",
        help="where trace files go (ini: scope_dir; default: .scope under the rootdir).",
    )
    group.addoption(
        "--scope-level",
        dest="scope_level",
        choices=LEVELS,
        help="record only calls, or every line of the project's code too "
        "(ini: scope_level; default: lines of test files, calls of project code).",
    )
    group.addoption(
        "--scope-include",
        dest="scope_include",
        action="append",
        type=_not_empty("a pattern"),
        metavar="PATTERN",
        help="also record code outside the project matching a module (mypkg.core*) or path "
        "(src/lib/*) glob, at the calls level; repeatable (ini: scope_include).",
    )
    group.addoption(
        "--scope-exclude",
        dest="scope_exclude",
        action="append",
        type=_not_empty("a pattern"),
        metavar="PATTERN",
        help="record nothing of code matching a module or path glob, even the project's or "
        "a test file; wins over --scope-include; repeatable (ini: scope_exclude).",
    )
    group.addoption(
        "--scope-buffer-mb",
        dest="scope_buffer_mb",
        type=_positive_number_of("MB"),
        metavar="MB",
        help="memory cap of one test's recording; the oldest steps are dropped beyond it "
        "(ini: scope_buffer_mb; default: 32).",
    )
    group.addoption(
        "--scope-keep-runs",
        dest="scope_keep_runs",
        type=_positive_number_of("runs"),
        metavar="N",
        help="runs kept in the scope directory, besides those holding a test's latest pass "
        "(ini: scope_keep_runs; default: 20).",
    )
    group.addoption(
        "--scope-max-mb",
        dest="scope_max_mb",
        type=_positive_number_of("MB"),
        metavar="MB",
        help="disk budget of the scope directory's runs; the oldest go first beyond it "
        "(ini: scope_max_mb; default: 1000).",
    )
    group.addoption(
        "--scope-artifacts",
        dest="scope_artifacts",
        type=_not_empty("a directory"),
        metavar="DIR",
        help="after the run, leave in DIR a viewer per failed test, an index.html and a "
        "trimmed trace file, for CI to upload (ini: scope_artifacts).",
    )
    group.addoption(
        "--scope-artifacts-mb",
        dest="scope_artifacts_mb",
        type=_positive_number_of("MB"),
        metavar="MB",
        help="recorded steps kept per failed test in the artifacts, newest first "
        "(ini: scope_artifacts_mb; default: 2).",
    )
    group.addoption(
        "--scope-baseline",
        dest="scope_baseline",
        action="append",
        type=_not_empty("a path"),
        metavar="PATH",
        help="also look for a failed test's last pass in PATH: a scope directory or trace "
        "files restored from an earlier build (a CI cache); repeatable; a PATH that does not "
        "exist holds nothing (ini: scope_baseline).",
    )
    group.addoption(
        "--scope-last-failed",
        action="store_true",
        dest="scope_last_failed",
        default=None,
        help="run every test but record only those that failed last time, as pytest's "
        "cache remembers them (ini: scope_last_failed).",
    )
    group.addoption(
        "--scope-redact",
        dest="scope_redact",
        action="append",
        type=_pattern,
        metavar="PATTERN",
        help="also redact the values of names matching this regular expression, in any case; "
        "repeatable, added to the built-in patterns and the ini setting (ini: scope_redact).",
    )
    parser.addini("scope", "record every test (like --scope)", type="bool", default=False)
    parser.addini("scope_dir", "where trace files go, relative to the rootdir", default=".scope")
    parser.addini("scope_level", "calls or lines (like --scope-level)", default="")
    parser.addini("scope_include", "module or path globs also recorded", type="linelist")
    parser.addini("scope_exclude", "module or path globs never recorded", type="linelist")
    parser.addini("scope_buffer_mb", "memory cap of one test's recording in MB", default="32")
    parser.addini("scope_keep_runs", "runs kept besides those with latest passes", default="20")
    parser.addini("scope_max_mb", "disk budget of the scope directory's runs in MB", default="1000")
    parser.addini("scope_artifacts", "where to leave the failed tests' viewers", default="")
    parser.addini(
        "scope_baseline",
        "more places to look for last passes, relative to the rootdir",
        type="linelist",
    )
    parser.addini("scope_artifacts_mb", "steps kept per failed test in the artifacts", default="2")
    parser.addini(
        "scope_last_failed",
        "record only the tests that failed last time",
        type="bool",
        default=False,
    )
    parser.addini(
        "scope_progress_after",
        "seconds of recording after which a test's step count shows live at a terminal, or off",
        default="3",
    )
    parser.addini(
        "scope_redact",
        "regular expressions of more names whose values are redacted, one per line",
        type="linelist",
        default=[],
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_LINE)  # also unrecorded: --strict-markers
    _warn_of_a_value_taken_for_a_test_path(config)
    enabled = config.option.scope or config.getini("scope")
    if not enabled:
        return
    if sys.version_info < (3, 12):  # noqa: UP036 (installed by hand on an older Python)
        raise pytest.UsageError(
            f"--scope needs Python 3.12 or newer (sys.monitoring); "
            f"this is Python {platform.python_version()}"
        )
    from pytest_scope import session

    config.stash[_recording_key] = True
    session.start(config)


def _warn_of_a_value_taken_for_a_test_path(config: pytest.Config) -> None:
    """One line, before the tests run, when pytest chose the rootdir with an option's value
    among the test paths (``rootdir_check``): with or without ``--scope``, the run may not
    be where the user meant it to be."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller says it
        return
    line = warning_line(config)
    if line is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, yellow=True)
    else:
        print(line, file=sys.stderr)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_recording_key, False):
        from pytest_scope import session

        session.stop(config)
