"""A number names one object for the whole test: an object that died is forgotten, and
whatever takes its address later is a new object (fixtures/lifetimes, fixtures/raised).

Each fixture test that depends on memory reuse asserts it happened, and each test here
first checks that its fixture test passed, so no test here passes without the reuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.recordings import copy_fixture, record
from support.replaycli import replay_json

from pytest_scope.trace.scope_dir import ScopeDir
from replay.reading.references import reference
from replay.reading.state import walk

pytestmark = pytest.mark.slow


def _recorded(tmp_path_factory: pytest.TempPathFactory, fixture: str) -> Path:
    root = tmp_path_factory.mktemp(fixture)
    copy_fixture(fixture, root)
    assert record(root) == 0
    return root


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _recorded(tmp_path_factory, "lifetimes")


@pytest.fixture(scope="module")
def raised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _recorded(tmp_path_factory, "raised")


def _steps(
    root: Path, test_name: str
) -> Iterator[tuple[int, list[tuple[str, dict[str, Any]]], dict[int, Any]]]:
    """Each step of a passing test: its frames (function, raw locals) and the objects."""
    trace, test = ScopeDir(root / ".scope").find_test(test_name)
    with trace:
        assert test.outcome == "passed", f"{test_name}: its precondition failed"
        for event, replay in walk(trace, test):
            frames = [
                (trace.code(frame.code_no).qualname, dict(frame.locals))
                for frame in replay.threads[event[2]]
            ]
            yield event[0], frames, replay.objects


def _numbers(root: Path, test_name: str) -> dict[tuple[str, str], list[int]]:
    """For each local of each function: the object numbers it held, in order."""
    held: dict[tuple[str, str], list[int]] = {}
    for _, frames, _ in _steps(root, test_name):
        for function, names in frames:
            for name, raw in names.items():
                number = reference(raw)
                if number is None:
                    continue
                seen = held.setdefault((function, name), [])
                if not seen or seen[-1] != number:
                    seen.append(number)
    return held


def test_a_list_that_died_in_a_callee_is_not_the_next_list(recorded: Path) -> None:
    numbers = _numbers(recorded, "test_a_dead_local_list_and_the_next_list")
    (dead,) = numbers["count", "load_attributes"]
    (made,) = numbers["test_a_dead_local_list_and_the_next_list", "sub_partial"]
    assert dead != made


def test_a_list_that_died_in_a_callee_after_a_keyframe_is_not_the_next_list(
    recorded: Path,
) -> None:
    """A keyframe walks every local again: the callee's list stays its own object, which
    dies with it when it returns."""
    test_name = "test_a_dead_local_list_after_a_keyframe_and_the_next_list"
    numbers = _numbers(recorded, test_name)
    (dead,) = numbers["count_across_a_keyframe", "load_attributes"]
    (made,) = numbers[test_name, "sub_partial"]
    assert dead != made


def test_the_history_of_a_dead_list_stops_where_it_died(recorded: Path) -> None:
    """The defect as a user saw it: ``load_attributes`` "became" ``sub_partial``."""
    test_name = "test_a_dead_local_list_and_the_next_list"
    step = next(
        step
        for step, frames, _ in _steps(recorded, test_name)
        if "load_attributes" in frames[-1][1]
    )
    document = replay_json(recorded, test_name, "--step", str(step), "--history", "load_attributes")
    assert [change["change"] for change in document["changes"]] == ["appeared"]


def test_a_local_rebound_in_a_loop_gets_a_number_per_list(recorded: Path) -> None:
    numbers = _numbers(recorded, "test_a_local_rebound_in_a_loop")
    function = "test_a_local_rebound_in_a_loop"
    xs, copies = numbers[function, "x"], numbers[function, "copy"]
    assert len(xs) == len(copies) == 4
    assert len(set(xs + copies)) == 8


def test_a_nested_local_rebound_in_a_loop_gets_numbers_per_list(recorded: Path) -> None:
    """The lists inside the old x die with it, and are not the next lists either."""
    test_name = "test_a_nested_local_rebound_in_a_loop"
    numbers = _numbers(recorded, test_name)
    outer = numbers[test_name, "x"] + numbers[test_name, "copy"]
    inner: list[int] = []
    for _, _, objects in _steps(recorded, test_name):
        for number in outer:
            entry = objects.get(number)
            if entry is not None and entry[2] is not None:
                inner.extend({reference(item) for item in entry[2]} - {None} - set(inner))
    assert len(outer) == 8 and len(inner) == 8
    assert len(set(outer + inner)) == 16


def test_an_instance_that_died_in_a_container_is_not_the_next_one(recorded: Path) -> None:
    test_name = "test_instances_dropped_by_a_container_and_the_next_ones"
    held: list[int] = []
    for _, frames, objects in _steps(recorded, test_name):
        nodes = reference(frames[-1][1].get("nodes"))
        if nodes is None or objects[nodes][2] is None:
            continue
        inside = [reference(item) for item in objects[nodes][2]]
        if inside and inside[0] is not None and (not held or held[-1] != inside[0]):
            held.append(inside[0])
    assert len(held) == len(set(held)) == 50


def test_a_list_returned_by_its_maker_keeps_its_number(recorded: Path) -> None:
    numbers = _numbers(recorded, "test_a_list_made_in_a_callee_and_returned")
    assert (
        numbers["make_list", "made"] == numbers["test_a_list_made_in_a_callee_and_returned", "got"]
    )


def test_lists_kept_by_a_container_keep_their_numbers(recorded: Path) -> None:
    test_name = "test_lists_kept_by_a_container_after_their_local_is_dropped"
    rows = _numbers(recorded, test_name)[test_name, "row"]
    *_, (_, frames, objects) = _steps(recorded, test_name)
    keep = reference(frames[-1][1]["keep"])
    assert keep is not None
    assert [reference(item) for item in objects[keep][2]] == rows
    assert len(set(rows)) == 3


def test_a_list_stored_by_a_callee_keeps_its_number(recorded: Path) -> None:
    test_name = "test_a_list_stored_by_a_callee_outlives_it"
    (item,) = _numbers(recorded, test_name)["stash", "item"]
    *_, (_, frames, objects) = _steps(recorded, test_name)
    shelf = reference(frames[-1][1]["shelf"])
    assert shelf is not None
    assert [reference(each) for each in objects[shelf][2]] == [item]


def test_the_locals_of_a_frame_a_traceback_keeps_keep_their_numbers(recorded: Path) -> None:
    test_name = "test_a_frame_kept_by_a_traceback_keeps_its_locals"
    numbers = _numbers(recorded, test_name)
    assert numbers["keeps_its_frame", "data"] == numbers[test_name, "data"]


def test_lists_inside_a_dead_local_are_not_the_next_lists(recorded: Path) -> None:
    """``rows`` and the lists in it (one also bound to ``first``) die as ``count_rows``
    returns; the caller's new lists take their addresses on the same line."""
    test_name = "test_lists_inside_a_dead_local_and_the_next_lists"
    numbers = _numbers(recorded, test_name)
    (first,) = numbers["count_rows", "first"]
    (rows,) = numbers["count_rows", "rows"]
    (fresh,) = numbers[test_name, "fresh"]
    held: dict[int, set[int]] = {}
    for _, _, objects in _steps(recorded, test_name):
        for number in (rows, fresh):
            entry = objects.get(number)
            if entry is not None and entry[2] is not None:
                held[number] = {reference(item) for item in entry[2]} - {None}
    assert first in held[rows] and len(held[rows]) == 2
    assert len(held[fresh]) == 2
    assert not ({fresh} | held[fresh]) & ({rows} | held[rows])


def test_an_exception_at_a_dead_ones_address_is_another_object(raised: Path) -> None:
    """Exceptions and tuples take no weak reference and die unseen. Each KeyError here is
    raised once the last one died, at its address, and so are their args: each one is
    told from the last by its args (a tuple never changes its parts), and gets a number of
    its own. No number is recorded with two forms in turn."""
    test_name = "test_exceptions_raised_one_after_another"
    forms: dict[int, list[Any]] = {}
    kinds: dict[int, str] = {}
    for _, _, objects in _steps(raised, test_name):
        for number, entry in objects.items():
            if entry[1] in ("KeyError", "tuple") and entry[2] is not None:
                kinds[number] = entry[1]
                seen = forms.setdefault(number, [])
                if entry[2] not in seen:
                    seen.append(entry[2])
    assert all(len(seen) == 1 for seen in forms.values())
    errors = [number for number, kind in kinds.items() if kind == "KeyError"]
    assert len(errors) == 4
