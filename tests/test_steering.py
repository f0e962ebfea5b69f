"""The user steers what is recorded: include/exclude patterns, the ``scope`` marker,
``pytest_scope.watch`` and ``pytest_scope.paused``. Recorded in subprocesses, checked by
reading the trace back with the replay API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pytest_scope.plan import Level, Plan
from replay.state import timeline
from replay.tracefile import RecordedTest, TraceFile

EXTLIB = """
def double(number):
    doubled = number * 2
    return doubled
"""

CORE = """
def price(count):
    total = count * 3
    return total
"""

HEAVY = """
def crunch(number):
    return number + 1
"""

CONFTEST = """
import sys
from pathlib import Path

# A library from outside the project: under site-packages, which the plan leaves alone.
sys.path.insert(0, str(Path(__file__).parent / "site-packages"))
"""

SUITE = """
import extlib
from shop.core import price
from shop.slow.heavy import crunch

def test_all():
    doubled = extlib.double(2)
    priced = price(doubled)
    crunched = crunch(priced)
    assert crunched == 13
"""

OTHER_SUITE = """
from shop.core import price

def test_other():
    assert price(1) == 3
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "site-packages").mkdir()
    (pytester.path / "site-packages" / "extlib.py").write_text(EXTLIB)
    for package in ("shop", "shop/slow"):
        (pytester.path / package).mkdir()
        (pytester.path / package / "__init__.py").write_text("")
    (pytester.path / "shop" / "core.py").write_text(CORE)
    (pytester.path / "shop" / "slow" / "heavy.py").write_text(HEAVY)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_steer=SUITE, test_other=OTHER_SUITE)
    return pytester


@contextmanager
def only_trace(root: Path) -> Iterator[TraceFile]:
    (path,) = sorted((root / ".scope" / "runs").glob("*.sqlite"))
    with TraceFile(path) as trace:
        yield trace


def recorded_test(trace: TraceFile, name: str) -> RecordedTest:
    (test,) = [test for test in trace.tests() if test.nodeid.endswith(f"::{name}")]
    return test


def steps_of(root: Path, name: str) -> list[tuple[str, str]]:
    """``(kind, function)`` of every step of the test ``name``."""
    with only_trace(root) as trace:
        test = recorded_test(trace, name)
        if test.steps == 0:
            return []
        return [(row["kind"], row["function"]) for row in timeline(trace, test)]


def functions_of(root: Path, name: str) -> set[str]:
    return {function for _, function in steps_of(root, name)}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), (
        result.stdout.str() + result.stderr.str()
    )
    return result


# -- include and exclude patterns ------------------------------------------------------


def test_by_default_the_library_is_left_out(project: pytest.Pytester) -> None:
    run(project, "--scope")
    assert functions_of(project.path, "test_all") == {"test_all", "price", "crunch"}


def test_include_records_a_library_at_the_calls_level(project: pytest.Pytester) -> None:
    run(project, "--scope", "--scope-include", "extlib")
    steps = steps_of(project.path, "test_all")
    assert ("call", "double") in steps
    assert ("return", "double") in steps
    assert ("line", "double") not in steps
    assert ("line", "test_all") in steps  # the rest of the plan is unchanged


def test_exclude_wins_and_takes_module_and_path_globs(project: pytest.Pytester) -> None:
    run(
        project,
        "--scope",
        "--scope-include", "ext*",
        "--scope-include", "shop.slow",
        "--scope-exclude", "shop.sl*",
        "--scope-exclude", "site-packages/extlib.py",
    )  # fmt: skip
    assert functions_of(project.path, "test_all") == {"test_all", "price"}


def test_an_excluded_test_file_records_none_of_its_steps(project: pytest.Pytester) -> None:
    result = run(project, "--scope", "--scope-exclude", "test_other.py")
    result.assert_outcomes(passed=2)
    # The project code it calls is still the project's.
    assert functions_of(project.path, "test_other") == {"price"}
    assert functions_of(project.path, "test_all") == {"test_all", "price", "crunch"}


def test_patterns_from_pyproject_toml(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        scope = true
        scope_include = ["extlib"]
        scope_exclude = ["shop/slow"]
        """
    )
    run(project)
    assert functions_of(project.path, "test_all") == {"test_all", "double", "price"}


def test_an_empty_pattern_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--scope", "--scope-exclude", " ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*scope_exclude patterns must not be empty*"])


def test_plan_patterns_match_modules_by_sys_path_and_paths_by_rootdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    library = tmp_path.parent / f"{tmp_path.name}-lib"
    monkeypatch.syspath_prepend(str(library))
    plan = Plan(tmp_path, ["test_*.py"], include=["thing"], exclude=["pkg.core", "src/pkg/x*"])
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "core.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "core" / "sub.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "xy.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "corex.py")) is Level.CALLS
    assert plan.level_for_file(str(tmp_path / "test_a.py")) is Level.LINES
    assert plan.level_for_file(str(library / "thing.py")) is Level.CALLS
    assert plan.level_for_file(str(library / "thing" / "sub.py")) is Level.CALLS
    assert plan.level_for_file(str(library / "things.py")) is Level.SKIP
