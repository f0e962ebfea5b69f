"""What a first-time user meets on the command line: a bad value of any option is one usage
error in the option's own words (pytest's exit code 4), never a traceback; a value written
apart from its option that pytest took for a test path is named, with the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

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
    ("--scope-redact=", "argument --scope-redact: needs a pattern, not an empty value"),
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


@pytest.mark.parametrize(
    ("option", "place", "message"),
    [
        ("--scope-dir", "/proc/pytest-scope", "cannot make a directory there"),
        ("--scope-dir", "a-file", "a-file: not a directory"),
        ("--scope-dir", "a-file/sub", "a-file is not a directory"),
        ("--scope-artifacts", "/proc/pytest-scope", "cannot make a directory there"),
        ("--scope-artifacts", "a-file/sub", "a-file is not a directory"),
        ("--scope-baseline", "a-file", "a-file: not a directory nor a trace file (.sqlite)"),
        ("--scope-baseline", "a-file/cache", "a-file is not a directory"),
        ("--scope-baseline", "/dev/null", "not a directory nor a trace file"),
    ],
)
def test_a_path_option_that_cannot_be_used_is_a_usage_error(
    pytester: pytest.Pytester, option: str, place: str, message: str
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    pytester.path.joinpath("a-file").write_text("not a directory\n")
    result = pytester.runpytest_subprocess("--scope", f"{option}={place}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"ERROR: {option} " in errors[0] and message in errors[0]
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / ".scope").exists()  # refused before anything was made


def test_an_ini_path_setting_that_cannot_be_used_names_the_setting(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    pytester.path.joinpath("a-file").write_text("not a directory\n")
    pytester.makeini("[pytest]\nscope_dir = a-file/traces\n")
    result = pytester.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: scope_dir */a-file/traces: */a-file is not a directory"])


def test_a_baseline_not_there_yet_holds_nothing(pytester: pytest.Pytester) -> None:
    """The first build has no CI cache to restore: that is not an error."""
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--scope", "--scope-baseline=ci-cache/scope")
    assert result.ret == pytest.ExitCode.OK


def _project_with_testpaths(root: Path) -> None:
    root.joinpath("tests").mkdir(parents=True)
    root.joinpath("pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    root.joinpath("tests", "test_one.py").write_text("def test_one():\n    pass\n")


def test_a_value_written_apart_that_moved_the_rootdir_is_named_with_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pytester.path / "project"
    _project_with_testpaths(project)
    cache = pytester.path / "ci-cache"  # restored by CI, beside the project
    cache.mkdir()
    monkeypatch.chdir(project)
    result = pytester.runpytest_subprocess("--scope", "--scope-baseline", str(cache))
    warnings = [line for line in result.outlines if line.startswith("pytest-scope: warning:")]
    assert warnings == [
        f"pytest-scope: warning: pytest took --scope-baseline {cache} for a test path when it"
        f" chose the rootdir ({pytester.path}); write --scope-baseline={cache}"
    ]
    assert (pytester.path / ".scope").is_dir(), "the scope directory went with the rootdir"
    written = pytester.runpytest_subprocess("--scope", f"--scope-baseline={cache}")
    assert "pytest-scope: warning" not in written.stdout.str()
    written.stdout.fnmatch_lines([f"rootdir: {project}", "configfile: pyproject.toml"])
    assert (project / ".scope" / "runs").is_dir()


def test_the_warning_names_every_value_and_also_comes_without_scope(
    pytester: pytest.Pytester,
) -> None:
    _project_with_testpaths(pytester.path)
    pytester.mkdir("traces")
    pytester.mkdir("art")
    result = pytester.runpytest_subprocess(
        "--scope-dir", "traces", "--scope-artifacts=art", "--scope-artifacts", "art"
    )
    result.stdout.fnmatch_lines(
        [
            "pytest-scope: warning: pytest took --scope-dir traces, --scope-artifacts art for a"
            " test path when it chose the rootdir (*); write --scope-dir=traces"
            " --scope-artifacts=art"
        ]
    )


def test_every_option_with_a_value_is_looked_at(pytester: pytest.Pytester) -> None:
    from pytest_scope.rootdir_check import VALUE_OPTIONS

    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert set(re.findall(r"(--scope[-a-z]*)=", help_text)) == VALUE_OPTIONS
