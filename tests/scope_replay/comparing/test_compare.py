"""deepdiff's findings as change records: places a user recognizes, both values, plain JSON."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from pytest_scope.capture.redaction import MARKER
from pytest_scope.trace.schema import REDACTED_TEXT
from replay.comparing.compare import DEEPDIFF_OPTIONS, MAX_CHANGES, state_changes, state_findings
from replay.comparing.last_pass import same_test
from replay.reading.state import State


def _state(
    *frames: tuple[str, int, dict[str, Any]],
    exception: Any = None,
    watched: dict[str, Any] | None = None,
) -> State:
    return State(
        test="t.py::test_it",
        run="run",
        step=1,
        steps=1,
        event={"kind": "line", "function": frames[-1][0], "file": "t.py", "line": 1, "thread": 1},
        stack=[
            {"function": function, "file": "t.py", "line": line, "locals": values}
            for function, line, values in frames
        ],
        exception=exception,
        return_value=None,
        watched=watched or {},
    )


def _stock(levels: dict[str, int], shipped: list[str]) -> dict[str, Any]:
    return {"$type": "inventory.Stock", "attrs": {"levels": levels, "shipped": shipped}}


def _change(path: str, change: str, this: Any, against: Any, frame: str = "Stock.take") -> Any:
    depth = 1 if frame == "Stock.take" else 0
    return {
        "frame": frame,
        "depth": depth,
        "path": path,
        "change": change,
        "this": this,
        "against": against,
    }


def test_attribute_item_and_local_changes_name_their_place() -> None:
    this = _state(
        ("test_ship", 5, {"order": ["plum", "pear"]}),
        ("Stock.take", 9, {"self": _stock({"plum": 5}, ["plum", "pear"]), "count": 2}),
    )
    against = _state(
        ("test_ship", 5, {"order": ["plum"]}),
        ("Stock.take", 9, {"self": _stock({"plum": 6}, ["plum"]), "sku": "plum"}),
    )
    changes, omitted = state_changes(this, against)
    assert omitted == 0
    assert changes == [
        _change("order[1]", "added", "pear", None, frame="test_ship"),
        _change("count", "added", 2, None),
        _change("self.levels['plum']", "changed", 5, 6),
        _change("self.shipped[1]", "added", "pear", None),
        _change("sku", "removed", None, "plum"),
    ]
    json.dumps(changes)  # plain JSON: nothing of deepdiff left in them


def test_a_recorded_repr_changes_the_object_as_a_whole() -> None:
    this = _state(("test_it", 3, {"when": {"$type": "datetime.date", "repr": "date(2025, 1, 2)"}}))
    against = _state(
        ("test_it", 3, {"when": {"$type": "datetime.date", "repr": "date(2025, 1, 1)"}})
    )
    changes, _ = state_changes(this, against)
    assert changes == [
        _change(
            "when",
            "changed",
            {"$type": "datetime.date", "repr": "date(2025, 1, 2)"},
            {"$type": "datetime.date", "repr": "date(2025, 1, 1)"},
            frame="test_it",
        )
    ]


def test_a_different_frame_line_and_exception_are_changes_too() -> None:
    error = {"$type": "KeyError", "attrs": {"args": ["plum"]}}
    this = _state(("test_it", 4, {}), ("Stock.take", 9, {}), exception=error)
    against = _state(("test_it", 5, {}), ("Stock.ship", 12, {}), ("Stock.take", 9, {}))
    changes, _ = state_changes(this, against)
    assert changes == [
        _change("(line)", "changed", 4, 5, frame="test_it"),
        {
            "frame": "Stock.take",
            "depth": 1,
            "path": "(function)",
            "change": "changed",
            "this": "Stock.take",
            "against": "Stock.ship",
        },
        {
            "frame": "Stock.take",
            "depth": 2,
            "path": "(function)",
            "change": "removed",
            "this": None,
            "against": "Stock.take",
        },
        {
            "frame": None,
            "depth": None,
            "path": "(exception)",
            "change": "added",
            "this": error,
            "against": None,
        },
    ]


def _watched_change(path: str, change: str, this: Any, against: Any) -> Any:
    return {
        "frame": None,
        "depth": None,
        "path": path,
        "change": change,
        "this": this,
        "against": against,
    }


def test_watched_objects_are_compared_like_locals_under_their_own_marker() -> None:
    tags = {"$type": "set", "$kind": "set", "items": ["b", "a"]}
    this = _state(
        ("test_it", 3, {"n": 1}),
        watched={"stock": _stock({"plum": 5}, ["plum"]), "cache": {"a": 1}, "tags": tags},
    )
    against = _state(
        ("test_it", 3, {"n": 1}),
        watched={
            "stock": _stock({"plum": 6}, []),
            "seen": [1],
            "tags": {"$type": "set", "$kind": "set", "items": ["a", "b"]},
        },
    )
    changes, omitted = state_changes(this, against)
    assert omitted == 0
    assert changes == [
        _watched_change("(watched) cache", "added", {"a": 1}, None),
        _watched_change("(watched) seen", "removed", None, [1]),
        _watched_change("(watched) stock.levels['plum']", "changed", 5, 6),
        _watched_change("(watched) stock.shipped[0]", "added", "plum", None),
    ]
    assert state_changes(this, _state(("test_it", 3, {"n": 1}), watched=this.watched)) == ([], 0)


def test_noise_is_no_change_and_assertion_temporaries_are_left_out() -> None:
    this = _state(
        (
            "test_it",
            3,
            {"ratio": 0.1 + 0.2, "tags": {"$type": "set", "$kind": "set", "items": ["b", "a"]}},
        ),
    )
    against = _state(
        (
            "test_it",
            3,
            {"ratio": 0.3, "tags": {"$type": "set", "$kind": "set", "items": ["a", "b"]}},
        ),
    )
    this.stack[0]["locals"]["@py_assert1"] = 1
    assert state_changes(this, against) == ([], 0)


def test_many_changes_are_capped_and_counted() -> None:
    count = MAX_CHANGES + 7
    this = _state(("test_it", 3, {f"v{n}": n for n in range(count)}))
    against = _state(("test_it", 3, {f"v{n}": -n - 1 for n in range(count)}))
    changes, omitted = state_changes(this, against)
    assert (len(changes), omitted) == (MAX_CHANGES, 7)


def _in_file(state: State, depth: int, file: str) -> State:
    state.stack[depth]["file"] = file
    return state


def test_one_file_spelled_two_ways_is_one_frame() -> None:
    this = _in_file(_state(("test_it", 3, {}), ("Bag.add", 7, {"n": 1})), 1, "/p/pkg/mod.py")
    against = _in_file(
        _state(("test_it", 3, {}), ("Bag.add", 7, {"n": 2})), 1, "/p/tests/../pkg/mod.py"
    )
    changes, _ = state_changes(this, against)
    assert changes == [_change("n", "changed", 1, 2, frame="Bag.add") | {"depth": 1}]


def test_a_difference_never_renders_the_same_on_both_sides() -> None:
    this = _in_file(_state(("test_it", 3, {}), ("Bag.add", 7, {})), 1, "/p/pkg/mod.py")
    against = _in_file(_state(("test_it", 3, {}), ("Bag.add", 7, {})), 1, "/p/old/mod.py")
    (change,) = state_changes(this, against)[0]
    assert change["path"] == "(function)"
    assert (change["this"], change["against"]) == (
        "Bag.add (/p/pkg/mod.py)",
        "Bag.add (/p/old/mod.py)",
    )


def test_a_large_frame_is_compared_to_its_last_value(caplog: pytest.LogCaptureFixture) -> None:
    """deepdiff counts every node it visits against its limit: one comparison of a whole
    frame stopped inside a big equal local and missed the change after it, with deepdiff's
    own warning on stderr."""
    big = [{"v": n} for n in range(1_000)]
    this = _state(("test_it", 3, {"big": big, "total": 2}))
    against = _state(("test_it", 3, {"big": [dict(item) for item in big], "total": 1}))
    with caplog.at_level(logging.WARNING):
        found = state_findings(this, against)
    assert found.changes == [_change("total", "changed", 2, 1, frame="test_it")]
    assert found.cut == []
    assert caplog.records == []


def test_a_comparison_cut_at_its_limit_says_so_in_its_own_words(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(DEEPDIFF_OPTIONS, "max_diffs", 50)
    this = _state(("test_it", 3, {"big": [{"v": n} for n in range(200)], "n": 1}))
    against = _state(("test_it", 3, {"big": [{"v": -n} for n in range(200)], "n": 1}))
    with caplog.at_level(logging.WARNING):
        found = state_findings(this, against)
    assert found.cut == ["test_it: big"]
    assert caplog.records == []  # deepdiff's warning is not passed on


def test_addresses_are_set_aside_and_said_so() -> None:
    """``copy.deepcopy``'s memo is keyed by ``id()``, and default reprs print addresses:
    they differ in every run and say nothing about the code."""
    memo_here = {"$type": "dict", "items": [[140106984241792, ["a"]], [140106984241808, 1]]}
    memo_there = {"$type": "dict", "items": [[140013942158400, ["a"]], [140013942158416, 1]]}
    this = _state(
        ("Field.__deepcopy__", 3, {"memo": memo_here, "shown": "<Box object at 0x7f6c4a2b1c10>"})
    )
    against = _state(
        ("Field.__deepcopy__", 3, {"memo": memo_there, "shown": "<Box object at 0x7f01ffe00a90>"})
    )
    found = state_findings(this, against)
    assert found.changes == []
    assert sorted((record["path"], record["reason"]) for record in found.set_aside) == [
        ("memo[0][0]", "address"),
        ("memo[1][0]", "address"),
        ("shown", "address"),
    ]


def test_values_that_only_look_like_addresses_on_one_side_are_differences() -> None:
    this = _state(("test_it", 3, {"n": 140106984241792, "small": 4096, "odd": 4_294_967_297}))
    against = _state(("test_it", 3, {"n": 7, "small": 8192, "odd": 4_294_971_393}))
    found = state_findings(this, against)
    assert [record["path"] for record in found.changes] == ["n", "odd", "small"]
    assert found.set_aside == []


def test_a_value_redacted_in_one_run_only_is_set_aside_and_said_so() -> None:
    """What the recorder knows is secret grows during a test: a value learned as a secret
    is redacted in every step of one run, and not at all in a run that never learned it."""
    redacted_title = {"$type": "str", "repr": "<redacted>'s blog", "$redacted": True}
    this = _state(("test_blog", 3, {"title": "Monty's blog", "owner": "Monty"}))
    against = _state(("test_blog", 3, {"title": redacted_title, "owner": {"$redacted": True}}))
    found = state_findings(this, against)
    assert found.changes == []
    assert sorted((record["path"], record["reason"]) for record in found.set_aside) == [
        ("owner", "redacted"),
        ("title", "redacted"),
    ]
    other_title = _state(("test_blog", 3, {"title": "Monty's vlog", "owner": "Monty"}))
    assert [record["path"] for record in state_findings(other_title, against).changes] == ["title"]


def test_the_recorder_redacts_with_the_text_the_comparison_looks_for() -> None:
    """The recorder keeps its own spelling of the text (its module is imported in every
    pytest run, before the trace package may be)."""
    assert MARKER == REDACTED_TEXT


def test_node_ids_under_rootdirs_a_directory_apart_name_one_test() -> None:
    nodeid = "tests/test_x.py::test_a"
    assert same_test(nodeid, "/ci/proj", "proj/" + nodeid, "/ci")
    assert same_test("proj/" + nodeid, "/home/me", nodeid, "/work/proj")  # another checkout
    assert not same_test("other/" + nodeid, "/ci", nodeid, "/ci/proj")
    assert not same_test("proj/" + nodeid, "/ci", nodeid, None)
    assert not same_test("tests/test_y.py::test_a", "/ci", nodeid, "/ci")


def test_hashes_are_set_aside_and_said_so() -> None:
    """``hash()`` of a str changes with every process unless PYTHONHASHSEED is set: a
    cached hash, an int subclass holding one, code generated around one."""
    this = _state(
        (
            "TestAddHash.test_hash_works",
            3,
            {
                "original_hash": 2924371503249985607,
                "cached": {"$type": "_CacheHashWrapper", "repr": "8119694963222208502"},
                "script": "return hash((-784605925131643939, self.a))",
                "small": 12,
            },
        )
    )
    against = _state(
        (
            "TestAddHash.test_hash_works",
            3,
            {
                "original_hash": -2118774775767424987,
                "cached": {"$type": "_CacheHashWrapper", "repr": "2315426570112169088"},
                "script": "return hash((6477612195317190612, self.a))",
                "small": 13,
            },
        )
    )
    found = state_findings(this, against)
    assert [record["path"] for record in found.changes] == ["small"]
    assert sorted((record["path"], record["reason"]) for record in found.set_aside) == [
        ("cached", "hash"),
        ("original_hash", "hash"),
        ("script", "hash"),
    ]


def test_sets_cut_short_at_the_same_size_keep_elements_their_order_chose() -> None:
    """The recorder keeps a large set's first elements in iteration order, which follows
    the hashes of texts (randomized per process): two runs keep other elements of one
    set. A set of another size is a difference."""
    kept_here = {"$type": "set", "$kind": "set", "items": ["w44", "w52"], "$truncated": 100}
    kept_there = {"$type": "set", "$kind": "set", "items": ["w65", "w20"], "$truncated": 100}
    this = _state(("test_words", 3, {"words": kept_here, "names": {"words": kept_here}}))
    against = _state(("test_words", 3, {"words": kept_there, "names": {"words": kept_there}}))
    found = state_findings(this, against)
    assert found.changes == []
    assert sorted((record["path"], record["reason"]) for record in found.set_aside) == [
        ("names['words'][0]", "truncated set"),
        ("names['words'][1]", "truncated set"),
        ("words[0]", "truncated set"),
        ("words[1]", "truncated set"),
    ]
    larger = {**kept_there, "$truncated": 101}
    other = _state(("test_words", 3, {"words": larger, "names": {"words": kept_there}}))
    paths = sorted(record["path"] for record in state_findings(this, other).changes)
    assert paths == ["words", "words[0]", "words[1]"]
