"""What a container is comes from the recording, never from its type's name.

fixtures/containers is recorded once: its test fails with a dict subclass not named like
a mapping (``Registry``), a list subclass of pairs named like one (``Verdict``), tuples, a
set, a frozenset subclass, a named tuple, a dict keyed by a tuple and a deque in its
locals. The prompt, the JSON document and the debug adapter must each index and show
them as what they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import CHROMIUM, Viewer
from support.dapclient import DapClient
from support.recordings import record_containers
from support.replaycli import prompt_session, replay_json, run_replay

from replay.reading.query import Condition

pytestmark = pytest.mark.slow

TEST = "test_containers_keep_what_they_are"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("containers")
    record_containers(root)
    return root


def prompt(root: Path, *commands: str) -> dict[str, str]:
    """Each ``p`` command's answer, at the failure point (where every local is bound)."""
    lines = prompt_session(root, TEST, *(f"p {command}" for command in commands))
    found = {}
    for command in commands:
        start = lines.index(f"(scope) p {command}") + 1
        found[command] = lines[start]
    return found


def test_the_prompt_indexes_a_mapping_by_key_and_a_sequence_by_position(recorded: Path) -> None:
    answers = prompt(
        recorded,
        "reg['a']",
        "reg['b'][1]",
        "reg['z']",
        "verdict[1]",
        "verdict[1][1]",
        "verdict[-2][0]",
        "verdict[5]",
        "keyed[(1, 2)]",
        "point[1]",
        "queue[0]",
        "tags[0]",
    )
    assert answers == {
        "reg['a']": "1",
        "reg['b'][1]": "3",
        "reg['z']": "*** reg has no recorded key 'z'",
        "verdict[1]": "(5, 'five')",
        "verdict[1][1]": "'five'",
        "verdict[-2][0]": "1",
        "verdict[5]": "*** verdict has 2 recorded items, no [5]",
        "keyed[(1, 2)]": "'by a tuple'",
        "point[1]": "2",
        "queue[0]": "7",
        "tags[0]": "*** tags is a set: its items have no positions",
    }


def test_the_prompt_shows_each_container_as_python_writes_it(recorded: Path) -> None:
    answers = prompt(
        recorded, "reg", "verdict", "pair", "single", "tags", "frozen", "point", "keyed", "queue"
    )
    assert answers == {
        "reg": "Registry({'a': 1, 'b': [2, 3]})",
        "verdict": "Verdict([(1, 'one'), (5, 'five')])",
        "pair": "('a', 1)",
        "single": "(1,)",
        "tags": "{'x'}",
        "frozen": "Tags({'y'})",
        "point": "Point(x=1, y=2)",
        "keyed": "{(1, 2): 'by a tuple'}",
        "queue": "deque([7])",
    }


@pytest.mark.parametrize(
    "condition",
    [
        "reg['a'] == 1 and len(reg) == 2 and 'b' in reg and reg['b'] == [2, 3]",
        "verdict[1] == (5, 'five') and len(verdict) == 2 and verdict == [(1, 'one'), (5, 'five')]",
        "pair == ('a', 1) and single == (1,)",
        "point == (1, 2) and point.x == 1",
        "'x' in tags and len(frozen) == 1",
    ],
)
def test_conditions_compare_typed_containers_by_their_contents(
    recorded: Path, condition: str
) -> None:
    names = replay_json(recorded, TEST)["stack"][-1]["locals"]
    assert Condition(condition).holds(names)


def test_the_json_state_names_each_containers_kind(recorded: Path) -> None:
    document = replay_json(recorded, TEST)
    names = document["stack"][-1]["locals"]
    module = "test_containers"
    assert names["reg"] == {
        "$type": f"{module}.Registry",
        "$kind": "mapping",
        "items": [["a", 1], ["b", [2, 3]]],
    }
    assert names["verdict"] == {
        "$type": f"{module}.Verdict",
        "$kind": "sequence",
        "items": [[1, "one"], [5, "five"]],
    }
    assert names["pair"] == ["a", 1]  # a tuple is an array, as a list is
    assert names["tags"] == {"$type": "set", "$kind": "set", "items": ["x"]}
    assert names["frozen"] == {"$type": f"{module}.Tags", "$kind": "set", "items": ["y"]}
    assert names["point"] == {
        "$type": f"{module}.Point",
        "$kind": "tuple",
        "attrs": {"x": 1, "y": 2},
    }
    assert names["keyed"] == {
        "$type": "dict",
        "$kind": "mapping",
        "items": [[[1, 2], "by a tuple"]],
    }
    assert names["queue"] == {"$type": "collections.deque", "$kind": "sequence", "items": [7]}
    assert "$kind" not in document["exception"]  # an exception is no container


@pytest.fixture(scope="module")
def adapter(recorded: Path) -> Iterator[DapClient]:
    client = DapClient(recorded)
    client.request("initialize", {"adapterID": "pytest-scope"})
    client.event("initialized")
    client.request("launch", {"test": TEST})
    client.request("configurationDone")
    client.event("stopped")
    yield client
    client.close()


def _variables(client: DapClient, reference: int) -> dict[str, dict[str, Any]]:
    listed = client.request("variables", {"variablesReference": reference})["variables"]
    return {variable["name"]: variable for variable in listed}


def _locals(client: DapClient) -> dict[str, dict[str, Any]]:
    (frame, *_) = client.request("stackTrace", {"threadId": 1})["stackFrames"]
    (scope, *_) = client.request("scopes", {"frameId": frame["id"]})["scopes"]
    return _variables(client, scope["variablesReference"])


def test_dap_variables_of_a_dict_subclass_are_keyed_and_of_a_list_subclass_indexed(
    adapter: DapClient,
) -> None:
    names = _locals(adapter)
    registry = _variables(adapter, names["reg"]["variablesReference"])
    assert {name: (v["value"], v["evaluateName"]) for name, v in registry.items()} == {
        "'a'": ("1", "reg['a']"),
        "'b'": ("[2, 3]", "reg['b']"),
    }
    verdict = _variables(adapter, names["verdict"]["variablesReference"])
    assert {name: (v["value"], v["evaluateName"]) for name, v in verdict.items()} == {
        "[0]": ("(1, 'one')", "verdict[0]"),
        "[1]": ("(5, 'five')", "verdict[1]"),
    }
    assert (names["pair"]["type"], names["pair"]["value"]) == ("tuple", "('a', 1)")
    (item,) = _variables(adapter, names["tags"]["variablesReference"]).values()
    assert item["value"] == "'x'" and "evaluateName" not in item  # a set is not indexed
    for variable in (*registry.values(), *verdict.values()):
        evaluated = adapter.request("evaluate", {"expression": variable["evaluateName"]})
        assert evaluated["result"] == variable["value"]


def test_the_viewer_resolves_kinds_as_replay_does_and_keys_a_mapping(
    recorded: Path, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    page = tmp_path / "viewer.html"
    assert run_replay(recorded, TEST, "--html", str(page)).returncode == 0
    expected = replay_json(recorded, TEST)["stack"][-1]["locals"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            viewer = Viewer(browser, page)
            assert viewer.state()["stack"][-1]["locals"] == expected
            children = {}
            for name in ("reg", "verdict"):
                row = f"#locals > .value-row:has(> .name:text-is('{name}'))"
                viewer.page.click(f"{row} > .toggle")
                children[name] = viewer.page.eval_on_selector_all(
                    f"{row} > .children > .value-row > .name",
                    "names => names.map(n => n.textContent)",
                )
            assert viewer.errors == []
        finally:
            browser.close()
    assert children == {"reg": ["['a']", "['b']"], "verdict": ["[0]", "[1]"]}
