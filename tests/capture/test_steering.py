"""The user steers what is recorded: include/exclude patterns, the ``scope`` marker,
``pytest_scope.watch`` and ``pytest_scope.paused``. Recorded in subprocesses, checked by
reading the trace back with the replay API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.paths import REPO
from support.replaycli import replay_json, run_replay

from pytest_scope.capture.plan import Level, Plan
from pytest_scope.trace.reader import RecordedTest, TraceFile
from replay.reading.state import State, state_at, timeline

EXTLIB = """
REGISTRY = {}


def double(number):
    doubled = number * 2
    return doubled


def register(name):
    REGISTRY.update({name: len(REGISTRY) + 1})
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


@pytest.mark.slow
def test_by_default_the_library_is_left_out(project: pytest.Pytester) -> None:
    run(project, "--scope")
    assert functions_of(project.path, "test_all") == {"test_all", "price", "crunch"}


@pytest.mark.slow
def test_include_records_a_library_at_the_calls_level(project: pytest.Pytester) -> None:
    run(project, "--scope", "--scope-include", "extlib")
    steps = steps_of(project.path, "test_all")
    assert ("call", "double") in steps
    assert ("return", "double") in steps
    assert ("line", "double") not in steps
    assert ("line", "test_all") in steps  # the rest of the plan is unchanged


@pytest.mark.slow
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


@pytest.mark.slow
def test_an_excluded_test_file_records_none_of_its_steps(project: pytest.Pytester) -> None:
    result = run(project, "--scope", "--scope-exclude", "test_other.py")
    result.assert_outcomes(passed=2)
    # The project code it calls is still the project's.
    assert functions_of(project.path, "test_other") == {"price"}
    assert functions_of(project.path, "test_all") == {"test_all", "price", "crunch"}


@pytest.mark.slow
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


@pytest.mark.slow
def test_an_empty_pattern_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--scope", "--scope-exclude", " ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --scope-exclude: needs a pattern, not an empty value*"])


def test_plan_patterns_match_modules_by_sys_path_and_paths_by_rootdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    library = tmp_path.parent / f"{tmp_path.name}-lib"
    monkeypatch.syspath_prepend(str(library))
    plan = Plan(
        tmp_path,
        ["test_*.py"],
        include=["thing"],
        exclude=["pkg.core", "src/pkg/x*", f"{tmp_path}/src/pkg/absolute.py"],
    )
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "absolute.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "core.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "core" / "sub.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "xy.py")) is Level.SKIP
    assert plan.level_for_file(str(tmp_path / "src" / "pkg" / "corex.py")) is Level.CALLS
    assert plan.level_for_file(str(tmp_path / "test_a.py")) is Level.LINES
    assert plan.level_for_file(str(library / "thing.py")) is Level.CALLS
    assert plan.level_for_file(str(library / "thing" / "sub.py")) is Level.CALLS
    assert plan.level_for_file(str(library / "things.py")) is Level.SKIP


# -- watch and paused ---------------------------------------------------------------------

WATCHING_SUITE = """
import pytest
import pytest_scope

import extlib
from shop.core import price


@pytest.fixture
def watched_in_setup():
    pytest_scope.watch(extlib.REGISTRY, "from_fixture")
    yield
    pytest_scope.watch(extlib.REGISTRY, "from_teardown")


def test_watch(watched_in_setup):
    pytest_scope.watch(extlib.REGISTRY, "registry")
    extlib.register("apple")
    extlib.register("pear")
    with pytest_scope.paused():  # a pause
        extlib.register("plum")
    assert len(extlib.REGISTRY) == 3


def test_after():
    assert extlib.REGISTRY


def test_paused():
    first = price(1)
    values = []
    with pytest_scope.paused():  # the loop
        for number in range(3):
            values.append(price(number))
    total = sum(values)
    assert total == 9
"""


def line_of(text: str) -> int:
    """The line number of the suite's only line that holds ``text``."""
    (number,) = [
        number
        for number, line in enumerate(WATCHING_SUITE.strip().splitlines(), start=1)
        if text in line
    ]
    return number


def line_states(root: Path, name: str) -> dict[int, State]:
    """The state at the first line step of each line of the test ``name``."""
    with only_trace(root) as trace:
        test = recorded_test(trace, name)
        states: dict[int, State] = {}
        for row in timeline(trace, test):
            if row["kind"] == "line" and row["function"] == name:
                states.setdefault(row["line"], state_at(trace, test, row["step"]))
        return states


@pytest.fixture
def watching(project: pytest.Pytester) -> pytest.Pytester:
    project.makepyfile(test_watching=WATCHING_SUITE)
    run(project, "--scope", "test_watching.py")
    return project


@pytest.mark.slow
def test_a_watched_object_changed_by_unrecorded_code_shows_at_the_next_step(
    watching: pytest.Pytester,
) -> None:
    states = line_states(watching.path, "test_watch")
    at_apple, at_pear, at_pause, at_assert = (
        states[line_of(text)]
        for text in ('register("apple")', 'register("pear")', "a pause", "len(extlib")
    )
    assert at_apple.watched == {"from_fixture": {}, "registry": {}}
    assert at_pear.watched["registry"] == {"apple": 1}  # extlib is not recorded
    assert at_pause.watched["registry"] == {"apple": 1, "pear": 2}
    assert at_assert.watched["registry"] == {"apple": 1, "pear": 2, "plum": 3}
    assert at_assert.watched["from_fixture"] == at_assert.watched["registry"]


@pytest.mark.slow
def test_a_watch_lasts_until_its_test_ends(watching: pytest.Pytester) -> None:
    (state,) = line_states(watching.path, "test_after").values()
    assert state.watched == {}


@pytest.mark.slow
def test_watched_objects_in_the_json_and_text_views(watching: pytest.Pytester) -> None:
    document = replay_json(watching.path, "::test_watch")
    assert document["watched"]["registry"] == {"apple": 1, "pear": 2, "plum": 3}
    text = run_replay(watching.path, "::test_watch")
    assert text.returncode == 0, text.stderr
    assert "Watched" in text.stdout
    assert "{'apple': 1, 'pear': 2, 'plum': 3}" in text.stdout
    assert "watched" not in replay_json(watching.path, "::test_after")


@pytest.mark.slow
def test_nothing_is_recorded_while_paused_and_the_state_after_is_right(
    watching: pytest.Pytester,
) -> None:
    steps = steps_of(watching.path, "test_paused")
    assert steps.count(("call", "price")) == 1  # price(1), not the three paused calls
    states = line_states(watching.path, "test_paused")
    assert set(states) == {
        line_of(text) for text in ("first =", "values = []", "the loop", "total = sum", "== 9")
    }  # not the loop inside the pause
    assert states[line_of("total = sum")].stack[-1]["locals"]["values"] == [0, 3, 6]
    assert line_of('register("plum")') not in line_states(watching.path, "test_watch")


@pytest.mark.slow
def test_watch_and_paused_do_nothing_without_scope(watching: pytest.Pytester) -> None:
    result = watching.runpytest_subprocess("-p", "no:cacheprovider", "test_watching.py")
    result.assert_outcomes(passed=3)


def _python_311() -> str | None:
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob("versions/3.11.*/bin/python3.11"))
    return str(candidates[-1]) if candidates else None


@pytest.mark.slow
@pytest.mark.skipif(_python_311() is None, reason="no Python 3.11 on this machine")
def test_the_api_imports_and_does_nothing_on_python_311() -> None:
    python = _python_311()
    assert python is not None
    script = (
        "import pytest_scope\n"
        "pytest_scope.watch([], 'things')\n"
        "with pytest_scope.paused():\n"
        "    print('ran')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYENV_VERSION": "3.11"}
    result = subprocess.run([python, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"


def test_watch_needs_a_name() -> None:
    import pytest_scope

    with pytest.raises(TypeError, match="non-empty str name, not int"):
        pytest_scope.watch([], 3)  # type: ignore[arg-type]


# -- the scope marker ---------------------------------------------------------------------

MARKED_SUITE = """
import pytest
from shop.core import price


def test_default():
    total = price(2)
    assert total == 6


@pytest.mark.scope(level="lines")
def test_lines():
    total = price(2)
    assert total == 6


@pytest.mark.scope(level="calls")
def test_calls():
    total = price(2)
    assert total == 6


@pytest.mark.scope(off=True)
def test_off():
    total = price(2)
    assert total == 6


@pytest.mark.scope(level="lines")
class TestLines:
    def test_in_class(self):
        total = price(2)
        assert total == 6

    @pytest.mark.scope(off=True)
    def test_own_marker_wins(self):
        assert price(2) == 6


def test_default_again():
    total = price(2)
    assert total == 6
"""

MODULE_MARKED_SUITE = """
import pytest
from shop.core import price

pytestmark = pytest.mark.scope(level="calls")


def test_in_module():
    total = price(2)
    assert total == 6
"""


@pytest.mark.slow
def test_the_marker_sets_the_level_of_one_test(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED_SUITE, test_module_marked=MODULE_MARKED_SUITE)
    result = run(project, "--scope", "--strict-markers", "test_marked.py", "test_module_marked.py")
    result.assert_outcomes(passed=8)
    with only_trace(project.path) as trace:
        recorded = {test.nodeid.rpartition("::")[2] for test in trace.tests()}
    assert "test_off" not in recorded
    assert "test_own_marker_wins" not in recorded
    lines = {
        name: {function for kind, function in steps_of(project.path, name) if kind == "line"}
        for name in recorded
    }
    assert lines == {
        "test_default": {"test_default"},
        "test_lines": {"test_lines", "price"},
        "test_calls": set(),
        "test_in_class": {"TestLines.test_in_class", "price"},
        "test_default_again": {"test_default_again"},  # the override ended with its test
        "test_in_module": set(),
    }
    assert ("call", "price") in steps_of(project.path, "test_calls")


@pytest.mark.slow
def test_the_marker_is_known_without_scope(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED_SUITE)
    result = project.runpytest_subprocess("--strict-markers", "test_marked.py")
    result.assert_outcomes(passed=7)
    assert not (project.path / ".scope").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('"lines"', "got positional arguments ('lines',)"),
        ('level="everything"', "not level='everything'"),
        ('level="lines", off=True', "not both"),
        ("off=1", "off must be True or False, not 1"),
        ("depth=3", "got depth"),
        ("", "got neither"),
    ],
)
def test_a_bad_marker_is_a_usage_error_naming_the_test(
    pytester: pytest.Pytester, arguments: str, problem: str
) -> None:
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        def test_fine():
            pass

        @pytest.mark.scope({arguments})
        def test_wrong():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_bad.py::test_wrong: @pytest.mark.scope takes level='calls' or"
            f" level='lines', or off=True; {problem}"
        ]
    )


@pytest.mark.slow
def test_the_marker_holds_after_a_test_whose_recording_stopped(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_after_stop="""
        import tracemalloc
        import pytest
        from shop.core import price

        def test_stops_recording():  # tracemalloc stops its recording, muting the recorder
            assert price(1) == 3
            tracemalloc.start()
            tracemalloc.stop()

        @pytest.mark.scope(level="lines")
        def test_lines_after():
            total = price(2)
            assert total == 6
        """
    )
    result = run(project, "--scope", "test_after_stop.py")
    result.assert_outcomes(passed=2)
    lines = {f for kind, f in steps_of(project.path, "test_lines_after") if kind == "line"}
    assert lines == {"test_lines_after", "price"}


@pytest.mark.slow
def test_a_given_test_in_an_excluded_file_still_records_the_project(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_given_excluded="""
        from hypothesis import given, settings, strategies as st
        from shop.core import price

        @settings(max_examples=5, database=None)
        @given(st.integers(1, 9))
        def test_prices(n):
            assert price(n) == 3 * n
        """
    )
    result = run(
        project, "--scope", "--scope-exclude=test_given_excluded.py", "test_given_excluded.py"
    )
    result.assert_outcomes(passed=1)
    assert ("call", "price") in steps_of(project.path, "test_prices")
