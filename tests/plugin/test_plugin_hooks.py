"""Plugins extend pytest-scope through its hooks: encoders of their own types, and more
secret-name patterns. The example plugin lives in fixtures/encoder_plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.paths import FIXTURES
from support.recordings import python_path
from support.replaycli import replay_json

from pytest_scope.capture.objects import ObjectTable
from pytest_scope.capture.values import ValueEncoder

EXAMPLE_PLUGIN = FIXTURES / "encoder_plugin"


class Plain:
    def __init__(self) -> None:
        self.size = 1


class Summarized:
    def __init__(self, rows: list[int]) -> None:
        self.rows = rows


def test_the_encoder_is_asked_once_per_type_it_does_not_handle() -> None:
    asked: list[str] = []

    def summarize(value: object, type_name: str) -> object:
        asked.append(type_name.rpartition(".")[2])
        if type(value) is Summarized:
            return {"count": len(value.rows), "first": value.rows[:1]}
        return None

    encoder = ValueEncoder(plugin_encoder=summarize)
    for _ in range(3):
        assert encoder.encode(Plain()) == {"$type": f"{__name__}.Plain", "attrs": {"size": 1}}
        assert encoder.encode([1, "text", {"a": (2.5, None)}]) == [1, "text", {"a": [2.5, None]}]
    summarized = Summarized([7, 8, 9])
    form = encoder.encode(summarized)
    assert form == {"$type": f"{__name__}.Summarized", "attrs": {"count": 3, "first": [7]}}
    assert asked == ["Plain", "Summarized"]
    # Recorded by identity, a summarized object is summarized again at each check.
    table = ObjectTable(encoder)
    table.form(summarized)
    assert [entry[2] for entry in table.take_changes()] == [form]
    table.end_step()
    table.form(summarized)
    assert table.take_changes() == []
    table.end_step()
    summarized.rows.append(10)
    table.form(summarized)
    assert [entry[2]["attrs"]["count"] for entry in table.take_changes()] == [4]
    assert asked == ["Plain", "Summarized", "Summarized", "Summarized", "Summarized"]


def test_a_failing_encoder_is_recorded_in_place_of_the_value() -> None:
    def explode(value: object, type_name: str) -> object:
        raise ZeroDivisionError("plugin bug")

    encoder = ValueEncoder(plugin_encoder=explode)
    form = encoder.encode({"inside": Plain()})
    assert form == {
        "inside": {
            "$type": f"{__name__}.Plain",
            "repr": "<pytest_scope_encode_value failed: ZeroDivisionError>",
        }
    }


@pytest.mark.parametrize(
    ("summary", "form"),
    [
        ("2x3 of int64", {"repr": "2x3 of int64"}),
        ([1, 2], {"items": [1, 2]}),
        (list(range(40)), {"items": list(range(32)), "$truncated": 40}),
        ({"token": "abc", "n": 1}, {"attrs": {"token": {"$redacted": True}, "n": 1}}),
        ({1: "one"}, {"repr": "<pytest_scope_encode_value returned a dict>"}),
    ],
)
def test_summaries_take_the_trace_forms(summary: object, form: dict[str, Any]) -> None:
    encoder = ValueEncoder(plugin_encoder=lambda value, type_name: summary)
    assert encoder.encode(Plain()) == {"$type": f"{__name__}.Plain", **form}


SUITE = """
from scope_example_encoder import Matrix


def test_matrix():
    matrix = Matrix([[1, 2], [3, 4], [5, 6]])
    matrix.scale(10)
    pin_code = "1234"
    assert matrix.shape == (3, 2) and pin_code
"""


@pytest.fixture
def with_example_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", python_path(EXAMPLE_PLUGIN))
    pytester.makepyfile(test_matrix=SUITE)
    return pytester


def locals_at_the_end(root: Path) -> dict[str, Any]:
    state = replay_json(root, "test_matrix")
    return state["stack"][-1]["locals"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_the_example_plugin_encodes_its_matrix_and_redacts_pins(
    with_example_plugin: pytest.Pytester,
) -> None:
    result = with_example_plugin.runpytest_subprocess(
        "-p", "scope_example_encoder", "--scope", "--strict-markers"
    )
    result.assert_outcomes(passed=1)
    final = locals_at_the_end(with_example_plugin.path)
    assert final["matrix"] == {
        "$type": "scope_example_encoder.Matrix",
        "attrs": {"shape": [3, 2], "head": [[10, 20], [30, 40]]},  # scaled in place
    }
    assert final["pin_code"] == {"$redacted": True}


@pytest.mark.slow
def test_without_the_plugin_the_matrix_is_its_attributes(
    with_example_plugin: pytest.Pytester,
) -> None:
    with_example_plugin.runpytest_subprocess("--scope").assert_outcomes(passed=1)
    final = locals_at_the_end(with_example_plugin.path)
    assert final["matrix"]["attrs"] == {"_rows": [[10, 20], [30, 40], [50, 60]]}
    assert final["pin_code"] == "1234"


@pytest.mark.slow
def test_the_example_plugin_loads_without_scope(with_example_plugin: pytest.Pytester) -> None:
    result = with_example_plugin.runpytest_subprocess("-p", "scope_example_encoder")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_a_plugin_fault_never_reaches_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_scope_encode_value(value, type_name):
            if type_name.endswith("Fragile"):
                raise RuntimeError("the plugin's bug")
        """
    )
    pytester.makepyfile(
        test_matrix="""
        class Fragile:
            pass

        def test_matrix():
            fragile = Fragile()
            assert fragile
        """
    )
    pytester.runpytest_subprocess("--scope").assert_outcomes(passed=1)
    final = locals_at_the_end(pytester.path)
    assert final["fragile"] == {
        "$type": "test_matrix.Fragile",
        "repr": "<pytest_scope_encode_value failed: RuntimeError>",
    }


@pytest.mark.slow
def test_a_bad_redaction_pattern_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_scope_redact_patterns():
            return ["pin(", "fine"]
        """
    )
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pytest_scope_redact_patterns returned a bad pattern 'pin(': *"]
    )
