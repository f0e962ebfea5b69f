"""A ``@given`` test is recorded as one example, not as every example Hypothesis ran: the
first while examples pass, the minimal failing one replayed after shrinking if one fails."""

from __future__ import annotations

import pytest
from support.replaycli import replay_json

pytestmark = pytest.mark.slow

SUITE = """
from pathlib import Path
from hypothesis import given, settings, strategies as st

def check(n):
    total = 0
    for i in range(3):
        total += i
    return n

@settings(max_examples=200, database=None)
@given(st.integers(min_value=0, max_value=1000))
def test_fails_above_50(n):
    m = check(n)
    assert m <= 50

@settings(max_examples=100, database=None)
@given(st.integers())
def test_passes(n):
    first = Path("first-example.txt")
    if not first.exists():
        first.write_text(str(n))
    m = check(n)
    assert m == n

def test_plain():
    assert check(7) == 7
"""


@pytest.fixture
def recorded(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_examples=SUITE)
    result = pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    # The examples not kept took their time: the summary's rate counts their steps.
    result.stdout.fnmatch_lines(["recording: * (counting * steps of Hypothesis examples not kept)"])
    restarted = result.stdout.str().split("(counting ")[1].split(" steps")[0]
    assert int(restarted.replace(",", "")) > 100  # the shrinking's examples
    return pytester


def test_a_failing_given_test_holds_the_shrunk_example(recorded: pytest.Pytester) -> None:
    plain = replay_json(recorded.path, "test_plain", "--against", "none")
    state = replay_json(recorded.path, "test_fails_above_50", "--against", "none")
    # One example is about as many steps as the plain test that makes the same calls; 200
    # examples and the shrinking would be hundreds of times as many.
    assert state["steps"] <= plain["steps"] + 5
    assert state["event"]["kind"] == "exception"
    assert [frame["function"] for frame in state["stack"]] == ["test_fails_above_50"]
    assert state["stack"][0]["locals"]["n"] == 51
    first = replay_json(recorded.path, "test_fails_above_50", "--step", "1", "--against", "none")
    assert first["event"]["kind"] == "call"
    assert first["event"]["function"] == "test_fails_above_50"


def test_a_passing_given_test_holds_its_first_example(recorded: pytest.Pytester) -> None:
    """Hypothesis tries the simplest example first: the recording of a passing test is the
    same from run to run, for the comparison with its last pass."""
    plain = replay_json(recorded.path, "test_plain", "--against", "none")
    state = replay_json(recorded.path, "test_passes", "--against", "none")
    assert state["steps"] <= plain["steps"] + 5
    first = int((recorded.path / "first-example.txt").read_text())
    # msgpack holds 64-bit ints; a larger one is recorded as its text.
    shown = first if -(2**63) <= first < 2**64 else {"$type": "int", "repr": str(first)}
    assert state["stack"][-1]["locals"]["n"] == shown


def test_drawing_the_examples_is_not_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_drawn="""
        from hypothesis import given, settings, strategies as st

        def make(n):  # 100 line steps a draw, were draws recorded
            total = 0
            for i in range(50):
                total += i
            return n

        @settings(max_examples=100, database=None)
        @given(st.builds(make, st.integers()))
        def test_body(n):
            assert n == n
        """
    )
    result = pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # The first example is kept; the 99 after it pass and are not recorded at all.
    assert "examples not kept" not in result.stdout.str()
    state = replay_json(pytester.path, "test_body", "--against", "none")
    assert [frame["function"] for frame in state["stack"]] == ["test_body"]
    assert state["steps"] <= 5
