"""The pytest plugin, run in subprocesses: sys.monitoring state is per interpreter."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from support.paths import REPO

from pytest_scope.capture.event_path import PURE_PYTHON_VARIABLE

pytestmark = pytest.mark.slow

SUITE = """
import threading
import pytest

from shop import Cart

@pytest.fixture
def cart():
    return Cart()

def test_total(cart):
    cart.add("apple", 3)
    print("total is", cart.total())
    assert cart.total() == 3

def test_discount_fails(cart):
    cart.add("pear", 2)
    cart.add("plum", 5)
    discounted = cart.total() * 0.9
    assert discounted == 7

def test_skipped():
    pytest.skip("not today")

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert Cart().total() == 1

def test_raises_in_project_code(cart):
    with pytest.raises(KeyError):
        cart.remove("ghost")

def test_threads(cart):
    def worker(n):
        cart.add(f"item{n}", n)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cart.total() == 3
"""

SHOP = """
class Cart:
    def __init__(self):
        self.items = {}

    def add(self, name, count):
        self.items[name] = self.items.get(name, 0) + count

    def remove(self, name):
        del self.items[name]

    def total(self):
        return sum(self.items.values())
"""


@pytest.fixture
def shop(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(shop=SHOP, test_shop=SUITE)
    return pytester


def _trace_files(root: Path) -> list[Path]:
    return sorted((root / ".scope" / "runs").glob("*.sqlite"))


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    outcomes = {}
    for line in result.outlines:
        if line.startswith("test_shop.py::"):
            nodeid, _, outcome = line.partition(" ")
            outcomes[nodeid] = outcome.split()[0]
    return outcomes


def test_outcomes_and_output_unchanged(shop: pytest.Pytester) -> None:
    plain = shop.runpytest_subprocess("-v", "-s", "-p", "no:cacheprovider")
    recorded = shop.runpytest_subprocess("-v", "-s", "-p", "no:cacheprovider", "--scope")
    plain.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1)
    recorded.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1)
    assert _outcomes(recorded) == _outcomes(plain)
    assert "total is 3" in recorded.stdout.str()


def test_trace_file_holds_every_test(shop: pytest.Pytester) -> None:
    shop.runpytest_subprocess("--scope")
    (trace,) = _trace_files(shop.path)
    with closing(sqlite3.connect(trace)) as db:
        rows = {
            nodeid: (outcome, steps, failure)
            for nodeid, outcome, steps, failure in db.execute(
                "SELECT nodeid, outcome, steps, failure_step FROM tests"
            )
        }
        functions = {name for (name,) in db.execute("SELECT qualname FROM codes")}
        sources = {Path(name).name for (name,) in db.execute("SELECT filename FROM sources")}
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert rows["test_shop.py::test_total"][0] == "passed"
    assert rows["test_shop.py::test_discount_fails"][0] == "failed"
    assert rows["test_shop.py::test_xfail"][0] == "xfailed"
    assert rows["test_shop.py::test_discount_fails"][2] is not None
    assert all(steps > 0 for _, steps, _ in rows.values())
    assert {"test_total", "Cart.add", "Cart.total", "cart"} <= functions
    assert sources == {"test_shop.py", "shop.py"}
    assert chunks >= len(rows)
    assert (shop.path / ".scope" / ".gitignore").read_text().strip().endswith("*")
    assert (shop.path / ".scope" / "CACHEDIR.TAG").exists()


def test_summary_names_the_trace_and_the_replay_command(shop: pytest.Pytester) -> None:
    result = shop.runpytest_subprocess("--scope")
    result.stdout.fnmatch_lines(
        [
            "*- pytest-scope -*",
            "trace: .scope/runs/*.sqlite (* MB)",
            "recorded 6 tests, * steps (0 dropped by the 32 MB buffer cap)",
            "replay the failures:",
            "  scope-replay test_shop.py::test_discount_fails",
        ]
    )
    assert "Hypothesis" not in result.stdout.str(), "no @given test ran: nothing to say"


REPLAY_LOADED = """
import pathlib, sys

def pytest_unconfigure(config):  # after the summary
    loaded = sorted(m for m in sys.modules if m == "replay" or m.startswith("replay."))
    pathlib.Path("replay-loaded").write_text(" ".join(loaded))
"""

FLAKY = """
tries = []

def test_flaky():
    tries.append(1)
    assert len(tries) == 2
"""


def test_replay_is_loaded_only_to_read_a_failure_back(shop: pytest.Pytester) -> None:
    """The summary reads recordings back with replay (and deepdiff) for failed and flaky
    tests only: a recorded run whose tests all pass never pays for importing it."""
    shop.makeconftest(REPLAY_LOADED)
    shop.makepyfile(test_flaky=FLAKY)
    passing = shop.runpytest_subprocess("--scope", "test_shop.py::test_total")
    assert passing.ret == pytest.ExitCode.OK, passing.stdout.str() + passing.stderr.str()
    assert (shop.path / "replay-loaded").read_text() == ""
    result = shop.runpytest_subprocess("--scope", "--reruns", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    loaded = (shop.path / "replay-loaded").read_text().split()
    assert {"replay.comparing.last_pass", "replay.comparing.compare"} <= set(loaded)
    result.stdout.fnmatch_lines(
        [
            "replay the failures:",
            "  scope-replay test_shop.py::test_discount_fails",
            "      no last pass to compare with in .scope",
            "flaky (failed, then passed on a rerun):",
            "  test_flaky.py::test_flaky: attempt 1 failed, attempt 2 passed; they part ways *",
        ],
        consecutive=False,
    )


def test_a_written_recording_is_not_kept_in_memory(shop: pytest.Pytester) -> None:
    """pytest keeps every test item until the session ends: a test's ring buffer must not
    stay with its item once the recording is written, or memory grows with the suite."""
    shop.makeconftest(
        """
        import gc, pathlib

        def pytest_sessionfinish(session):
            from pytest_scope.capture.buffer import RingBuffer
            gc.collect()
            alive = sum(isinstance(o, RingBuffer) for o in gc.get_objects())
            pathlib.Path("buffers-alive").write_text(f"{len(session.items)} {alive}")
        """
    )
    # Passing tests only: pytest keeps the last failure's traceback, and its frames.
    shop.runpytest_subprocess("--scope", "-k", "test_total or test_threads")
    assert (shop.path / "buffers-alive").read_text() == "2 0"


def test_scope_dir_option_and_ini(shop: pytest.Pytester) -> None:
    result = shop.runpytest_subprocess("--scope", "--scope-dir", "traces")
    assert len(list((shop.path / "traces" / "runs").glob("*.sqlite"))) == 1
    result.stdout.fnmatch_lines(["  scope-replay test_shop.py::test_discount_fails --dir traces"])
    shop.makeini("[pytest]\nscope = true\nscope_dir = from-ini\n")
    shop.runpytest_subprocess()
    assert len(list((shop.path / "from-ini" / "runs").glob("*.sqlite"))) == 1


def test_bad_ini_level_is_a_usage_error(shop: pytest.Pytester) -> None:
    shop.makeini("[pytest]\nscope_level = everything\n")
    result = shop.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*scope_level must be one of calls, lines, not 'everything'*"])


def test_without_scope_nothing_is_written(shop: pytest.Pytester) -> None:
    shop.runpytest_subprocess()
    assert not (shop.path / ".scope").exists()


def _python_311() -> str | None:
    found = shutil.which("python3.11")
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob("versions/3.11.*/bin/python3.11"))
    return str(candidates[-1]) if candidates else found


@pytest.mark.skipif(_python_311() is None, reason="no Python 3.11 on this machine")
def test_older_python_is_refused_in_one_line(tmp_path: Path) -> None:
    python = _python_311()
    assert python is not None
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYENV_VERSION": "3.11.7",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # the checkout itself advertises the plugin
    }
    probe = subprocess.run([python, "-c", "import pytest"], env=env, capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Python 3.11 here has no pytest")
    result = subprocess.run(
        [python, "-m", "pytest", "-p", "pytest_scope.plugin", "--scope", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    assert "--scope needs Python 3.12 or newer (sys.monitoring); this is Python 3.11" in errors[0]


def test_no_free_tool_id_runs_the_tests_unrecorded(shop: pytest.Pytester) -> None:
    shop.makeconftest(
        """
        import sys
        for tool_id in range(6):
            if sys.monitoring.get_tool(tool_id) is None:
                sys.monitoring.use_tool_id(tool_id, f"other tool {tool_id}")
        """
    )
    result = shop.runpytest_subprocess("--scope")
    result.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["pytest-scope: tests run unrecorded: no free sys.monitoring tool id (4: other tool 4*"]
    )
    assert "scope-replay" not in result.stdout.str()


def test_a_recorder_fault_leaves_the_test_alone_and_marks_it_incomplete(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault is injected by replacing a method of the object table, which the
    compiled recorder calls directly: the run uses the pure-Python path (the same
    source)."""
    monkeypatch.setenv(PURE_PYTHON_VARIABLE, "1")
    pytester.makeconftest(
        """
        from pytest_scope.capture.objects import ObjectTable

        local_form = ObjectTable.local_form

        def faulty(self, name, value, *args):
            if name == "explode":
                raise RuntimeError("injected")
            return local_form(self, name, value, *args)

        ObjectTable.local_form = faulty
        """
    )
    pytester.makepyfile(
        test_fault="""
        def test_faulted():
            explode = [1]
            explode.append(2)
            print("still running", explode)
            assert explode == [1, 2]

        def test_untouched():
            value = 3
            assert value == 3
        """
    )
    result = pytester.runpytest_subprocess("--scope", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*still running ?1, 2?",
            "pytest-scope: test_fault.py::test_faulted: recording incomplete: recorder fault"
            " at step 3: RuntimeError: injected",
        ]
    )
    (trace,) = _trace_files(pytester.path)
    with closing(sqlite3.connect(trace)) as db:
        incomplete = dict(db.execute("SELECT nodeid, incomplete FROM tests"))
    assert incomplete["test_fault.py::test_untouched"] is None
    assert "RuntimeError: injected" in incomplete["test_fault.py::test_faulted"]


def test_hypothesis_keeps_its_tool_id_to_explain_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_prop="""
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_small(n):
            assert n < 10
        """
    )
    plain = pytester.runpytest_subprocess("-W", "error")
    recorded = pytester.runpytest_subprocess("-W", "error", "--scope")
    plain.assert_outcomes(failed=1)
    recorded.assert_outcomes(failed=1)
    assert "avoiding tracing" not in recorded.stdout.str() + recorded.stderr.str()
    recorded.stdout.fnmatch_lines(["*test_small(", "*n=10,"])


def test_hypothesis_deadlines_do_not_count_the_recorder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
        import time
        from hypothesis import given, settings, strategies as st

        @settings(max_examples=3, deadline=50)
        @given(st.integers())
        def test_own_deadline_kept(n):
            time.sleep(0.1)

        @settings(max_examples=3)
        @given(st.integers())
        def test_default_deadline(n):
            total = 0
            for i in range(20_000):  # a few ms plain; 40,000 recorded line steps
                total += i
        """
    )
    pytester.makeconftest(
        """
        from hypothesis import settings

        # Hypothesis drops the default deadline when $CI is set; this project keeps one.
        settings.register_profile("project", deadline=200)
        settings.load_profile("project")
        """
    )
    pytester.makeini("[pytest]\nscope_level = lines\n")
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    recorded = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--scope")
    plain.assert_outcomes(passed=1, failed=1)
    recorded.assert_outcomes(passed=1, failed=1)
    recorded.stdout.fnmatch_lines(
        [
            "Hypothesis deadlines were lifted while recording (tests that set one keep it)",
            "FAILED test_slow.py::test_own_deadline_kept*",
        ]
    )


def test_a_test_that_traces_its_own_memory_is_not_disturbed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_memory="""
        import tracemalloc

        def step(state):
            state.append(len(state))
            state.pop()

        def test_loop_keeps_no_memory():
            state = []
            step(state)
            tracemalloc.start()
            try:
                for _ in range(10_000):
                    step(state)
                retained = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            assert retained < 64 * 1024
        """
    )
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    recorded = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--scope")
    plain.assert_outcomes(passed=1)
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(
        [
            "pytest-scope: test_memory.py::test_loop_keeps_no_memory: recording incomplete:"
            " recording stopped at step *: the test started tracemalloc, *"
        ]
    )


def test_the_summary_counts_one_test_in_the_singular(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--scope")
    result.stdout.fnmatch_lines(["recorded 1 test, * steps (0 dropped by the 32 MB buffer cap)"])


def test_a_test_whose_subtest_failed_is_recorded_as_failed(pytester: pytest.Pytester) -> None:
    """pytest reports each subtest through the call phase's report hook, before the test's
    own call report, which says passed: the recording keeps the failure, so that it never
    serves as a later run's last pass."""
    pytester.makepyfile(
        test_sub="""
        import unittest

        class Windows(unittest.TestCase):
            def test_each(self):
                for size in (1, 2, 3):
                    with self.subTest(size=size):
                        self.assertLess(size, 3)

            def test_all_pass(self):
                for size in (1, 2):
                    with self.subTest(size=size):
                        self.assertLess(size, 3)
        """
    )
    result = pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (trace,) = _trace_files(pytester.path)
    with closing(sqlite3.connect(trace)) as db:
        outcomes = dict(db.execute("SELECT nodeid, outcome FROM tests"))
    assert outcomes == {
        "test_sub.py::Windows::test_each": "failed",
        "test_sub.py::Windows::test_all_pass": "passed",
    }
