"""What a first-time user meets on the command line: a bad value of any option is one usage
error in the option's own words (pytest's exit code 4), never a traceback."""

from __future__ import annotations

import pytest

BAD_VALUES = [
    ("--scope-buffer-mb=abc", "argument --scope-buffer-mb: must be a positive whole number of MB"),
    ("--scope-buffer-mb=0", "argument --scope-buffer-mb: must be a positive whole number of MB"),
    ("--scope-keep-runs=x", "argument --scope-keep-runs: must be a positive whole number of runs"),
    ("--scope-max-mb=-1", "argument --scope-max-mb: must be a positive whole number of MB"),
    ("--scope-artifacts-mb=1.5", "argument --scope-artifacts-mb: must be a positive whole number"),
    ("--scope-dir=", "argument --scope-dir: needs a directory, not an empty value"),
    ("--scope-artifacts=", "argument --scope-artifacts: needs a directory, not an empty value"),
    ("--scope-baseline= ", "argument --scope-baseline: needs a path, not an empty value"),
    ("--scope-include=", "argument --scope-include: needs a pattern, not an empty value"),
    ("--scope-exclude= ", "argument --scope-exclude: needs a pattern, not an empty value"),
    ("--scope-level=all", "argument --scope-level: invalid choice: 'all'"),
    ("--scope-redact=(", "argument --scope-redact: not a regular expression: '('"),
    ("-oscope_progress_after=soon", "scope_progress_after must be a number of seconds or off"),
    ("-oscope_buffer_mb=x", "scope_buffer_mb must be a positive whole number, not 'x'"),
]


@pytest.mark.parametrize(("argument", "message"), BAD_VALUES)
def test_a_bad_value_is_a_usage_error_in_the_options_words(
    pytester: pytest.Pytester, argument: str, message: str
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--scope", argument)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = result.stderr.str()
    assert message in errors
    assert "_positive" not in errors and "Traceback" not in errors
    assert "INTERNALERROR" not in result.stdout.str()
