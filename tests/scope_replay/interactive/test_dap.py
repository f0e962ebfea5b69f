"""``scope-replay --dap`` driven by a DAP client over stdio (and once over TCP).

The recordings are fixtures/demo's (``test_ship_takes_every_line`` fails) and
fixtures/compare's ``test_price`` (passing, then broken) for the diff scope. Expected steps
come from the recording's own timeline.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.dapclient import TIMEOUT, DapClient, frame, read_message
from support.recordings import record_caught, record_compare, record_history
from support.replaycli import replay_json, run_replay
from support.tracebuilder import Recording, write_trace

from pytest_scope.trace.schema import Kind
from replay.interactive.dap_wire import Connection

pytestmark = pytest.mark.slow

TEST = "test_ship_takes_every_line"
NODEID = "test_sample.py::test_main"
STEP = re.compile(r"^step (\d+) of (\d+)")


@pytest.fixture(scope="module")
def rows(demo: Path) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = replay_json(demo, TEST, "--timeline")
    return timeline


def steps(rows: list[dict[str, Any]], **wanted: Any) -> list[int]:
    return [row["step"] for row in rows if all(row[k] == v for k, v in wanted.items())]


def started(client: DapClient, launch: dict[str, Any]) -> dict[str, Any]:
    """initialize, launch, configurationDone: the first stopped event."""
    capabilities = client.request("initialize", {"adapterID": "pytest-scope"})
    assert capabilities["supportsStepBack"] is True
    client.event("initialized")
    client.request("launch", launch)
    client.request("configurationDone")
    return client.event("stopped")


@pytest.fixture
def client(demo: Path) -> Iterator[DapClient]:
    """A session launched on the demo's failing test (named by the launch request)."""
    client = DapClient(demo)
    started(client, {"test": TEST})
    yield client
    client.close()


def stopped_at(event: dict[str, Any]) -> int:
    found = STEP.match(event["body"]["description"])
    assert found, event
    return int(found.group(1))


def move(client: DapClient, command: str) -> int:
    client.request(command, {"threadId": 1})
    return stopped_at(client.event("stopped"))


def top_frame(client: DapClient) -> dict[str, Any]:
    frames: list[dict[str, Any]] = client.request("stackTrace", {"threadId": 1})["stackFrames"]
    return frames[0]


def variables(client: DapClient, reference: int) -> dict[str, dict[str, Any]]:
    listed = client.request("variables", {"variablesReference": reference})["variables"]
    return {variable["name"]: variable for variable in listed}


def test_a_lone_surrogate_of_a_recorded_str_is_sent_as_its_json_escape() -> None:
    """UTF-8 cannot hold a lone surrogate: the message carries its escape, and reads back
    the same str."""
    written = io.BytesIO()
    Connection(io.BytesIO(), written).write({"value": "caf\udce9.txt"})
    header, body = written.getvalue().split(b"\r\n\r\n", 1)
    assert header == b"Content-Length: %d" % len(body)
    assert json.loads(body) == {"value": "caf\udce9.txt"}


def test_initialize_announces_reverse_debugging(demo: Path) -> None:
    client = DapClient(demo, TEST)
    capabilities = client.request("initialize", {"adapterID": "pytest-scope"})
    for capability in (
        "supportsStepBack",
        "supportsGotoTargetsRequest",
        "supportsConditionalBreakpoints",
        "supportsHitConditionalBreakpoints",
        "supportsConfigurationDoneRequest",
    ):
        assert capabilities[capability] is True
    filters = {item["filter"] for item in capabilities["exceptionBreakpointFilters"]}
    assert filters == {"raised", "failure"}
    client.event("initialized")
    client.request("disconnect")
    assert client.close() == 0


def test_it_stops_at_the_failure_with_stack_and_exception(
    client: DapClient, rows: list[dict[str, Any]]
) -> None:
    assert client.request("threads")["threads"] == [{"id": 1, "name": "thread 1"}]
    frames = client.request("stackTrace", {"threadId": 1})
    assert [f["name"] for f in frames["stackFrames"]] == [TEST]
    assert frames["stackFrames"][0]["line"] == 39
    assert frames["stackFrames"][0]["source"]["path"].endswith("tests/test_stock.py")
    scopes = client.request("scopes", {"frameId": frames["stackFrames"][0]["id"]})["scopes"]
    assert [scope["name"] for scope in scopes] == ["Locals", "Exception"]
    (exception,) = variables(client, scopes[1]["variablesReference"]).values()
    assert exception["type"] == "AssertionError"
    info = client.request("exceptionInfo", {"threadId": 1})
    assert (info["exceptionId"], info["breakMode"]) == ("AssertionError", "unhandled")
    assert info["description"].startswith("assert {'apple': 9, ... 4, 'plum': 5} ==")
    client.request("goto", {"threadId": 1, "targetId": 1})
    client.event("stopped")
    assert "no exception in flight" in client.failure("exceptionInfo", {"threadId": 1})


def test_variables_expand_lazily_by_reference(client: DapClient) -> None:
    frame_id = top_frame(client)["id"]
    (local_scope, _) = client.request("scopes", {"frameId": frame_id})["scopes"]
    local_vars = variables(client, local_scope["variablesReference"])
    assert set(local_vars) >= {"stock", "order", "shipped"}
    assert local_vars["shipped"] == {
        "name": "shipped",
        "value": "2",
        "type": "int",
        "variablesReference": 0,
        "evaluateName": "shipped",
    }
    stock = local_vars["stock"]
    assert stock["type"] == "inventory.stock.Stock"
    fields = variables(client, stock["variablesReference"])
    assert fields["levels"]["evaluateName"] == "stock.levels"
    levels = variables(client, fields["levels"]["variablesReference"])
    assert {name: v["value"] for name, v in levels.items()} == {
        "apple": "9",
        "pear": "4",
        "plum": "5",
    }
    assert levels["pear"]["evaluateName"] == "stock.levels['pear']"


def test_step_back_and_forward_follow_the_timeline(
    client: DapClient, rows: list[dict[str, Any]]
) -> None:
    own = steps(rows, function=TEST)
    (raised,) = steps(rows, kind="exception")
    back = [move(client, "stepBack") for _ in own[: own.index(raised)]]
    assert back == own[: own.index(raised)][::-1]
    client.request("stepBack", {"threadId": 1})
    stopped = client.event("stopped")  # at the start: it stays, and says so
    assert (
        stopped["body"]["description"]
        == f"step {own[0]} of {len(rows)}: the start of the recording"
    )
    forward = [move(client, "next") for _ in own[1:]]
    assert forward == own[1:]
    first_call = steps(rows, function="Stock.take", kind="call")[0]
    client.request("goto", {"threadId": 1, "targetId": first_call})
    assert stopped_at(client.event("stopped")) == first_call
    assert move(client, "stepOut") == steps(rows, function="Stock.take", kind="return")[0]
    assert move(client, "stepIn") == first_call + 2


def test_breakpoints_with_condition_and_hit_count(
    client: DapClient, demo: Path, rows: list[dict[str, Any]]
) -> None:
    source = {"path": str(demo / "src" / "inventory" / "stock.py")}
    calls = steps(rows, function="Stock.take", kind="call")
    take_line = rows[rows.index(next(r for r in rows if r["step"] == calls[0]))]["line"]
    answer = client.request(
        "setBreakpoints",
        {
            "source": source,
            "breakpoints": [
                {"line": take_line, "condition": "sku == 'plum'"},
                {"line": 2},  # the module docstring: no step there
                {"line": take_line, "condition": "sku =="},
            ],
        },
    )["breakpoints"]
    assert [b["verified"] for b in answer] == [True, False, False]
    assert answer[1]["message"] == "no step of the recording is at this line"
    assert "not a valid expression" in answer[2]["message"]
    client.request("goto", {"threadId": 1, "targetId": 1})
    client.event("stopped")
    client.request("continue", {"threadId": 1})
    stopped = client.event("stopped")
    assert (stopped["body"]["reason"], stopped_at(stopped)) == ("breakpoint", calls[1])
    # Replaced by a hit count: the first call only.
    client.request(
        "setBreakpoints",
        {"source": source, "breakpoints": [{"line": take_line, "hitCondition": "1"}]},
    )
    client.request("reverseContinue", {"threadId": 1})
    stopped = client.event("stopped")
    assert (stopped["body"]["reason"], stopped_at(stopped)) == ("breakpoint", calls[0])
    client.request("reverseContinue", {"threadId": 1})
    assert stopped_at(client.event("stopped")) == rows[0]["step"]


def test_continue_passes_caught_exceptions_unless_the_raised_filter_is_set(
    tmp_path: Path,
) -> None:
    """fixtures/caught: three exceptions caught, then a call to total, then the failure.
    As the prompt's c: the default filter stops at the failure only; "raised" at each."""
    record_caught(tmp_path)
    timeline = replay_json(tmp_path, "test_total_skips_words", "--timeline")
    (call,) = steps(timeline, function="total", kind="call")
    raised = steps(timeline, kind="exception")
    assert len(raised) == 4
    client = DapClient(tmp_path)
    try:
        assert stopped_at(started(client, {"test": "test_total_skips_words"})) == raised[-1]
        client.request("setFunctionBreakpoints", {"breakpoints": [{"name": "total"}]})
        client.request("goto", {"threadId": 1, "targetId": 1})
        client.event("stopped")
        assert move(client, "continue") == call
        assert move(client, "continue") == raised[-1]
        client.request("setExceptionBreakpoints", {"filters": ["failure", "raised"]})
        assert move(client, "reverseContinue") == call
        assert move(client, "reverseContinue") == raised[2]
    finally:
        client.close()


def test_exception_filters_and_function_breakpoints(
    client: DapClient, rows: list[dict[str, Any]]
) -> None:
    (raised,) = steps(rows, kind="exception")
    client.request("setExceptionBreakpoints", {"filters": []})
    client.request("goto", {"threadId": 1, "targetId": 1})
    client.event("stopped")
    client.request("continue", {"threadId": 1})
    stopped = client.event("stopped")
    assert stopped_at(stopped) == rows[-1]["step"]
    assert stopped["body"]["description"].endswith("the end of the recording")
    client.request("setExceptionBreakpoints", {"filters": ["raised"]})
    answer = client.request("setFunctionBreakpoints", {"breakpoints": [{"name": "Stock.ship"}]})
    assert answer["breakpoints"][0]["verified"] is True
    client.request("reverseContinue", {"threadId": 1})
    assert stopped_at(client.event("stopped")) == raised
    client.request("reverseContinue", {"threadId": 1})
    stopped = client.event("stopped")
    assert stopped_at(stopped) == steps(rows, function="Stock.ship", kind="call")[0]
    assert stopped["body"]["reason"] == "breakpoint"


def test_goto_targets_are_the_steps_of_a_line(
    client: DapClient, demo: Path, rows: list[dict[str, Any]]
) -> None:
    source = {"path": str(demo / "tests" / "test_stock.py")}
    targets = client.request("gotoTargets", {"source": source, "line": 38})["targets"]
    assert [t["id"] for t in targets] == steps(rows, line=38, function=TEST)
    client.request("goto", {"threadId": 1, "targetId": targets[0]["id"]})
    assert stopped_at(client.event("stopped")) == targets[0]["id"]
    assert top_frame(client)["line"] == 38


def test_evaluate_paths_and_history(client: DapClient, demo: Path) -> None:
    frame_id = top_frame(client)["id"]
    result = client.request("evaluate", {"expression": "order.lines[0]", "frameId": frame_id})
    assert result["result"] == "('pear', 1)"
    history = client.request("evaluate", {"expression": "history(order.lines)"})
    assert history["result"] == "6 change(s) of order.lines"
    changes = variables(client, history["variablesReference"])
    expected = replay_json(demo, TEST, "--history", "order.lines")["changes"]
    assert list(changes) == [f"step {change['step']}" for change in expected]
    assert list(changes.values())[-1]["value"] == (
        "[('pear', 1), ('plum', 1)] → [('pear', 1)] (as order.lines in Stock.ship)"
    )
    message = client.failure("evaluate", {"expression": "__import__('os')"})
    assert "is not a path" in message
    assert "no 'nosuch' here" in client.failure("evaluate", {"expression": "nosuch"})


def test_history_follows_an_object_into_a_callee(tmp_path: Path) -> None:
    """fixtures/history: history(items) lists fill()'s steps, where items is acc, with
    fill's function and line, as --history does."""
    record_history(tmp_path)
    test = "test_items_are_filled_elsewhere"
    client = DapClient(tmp_path)
    try:
        started(client, {"test": test})
        history = client.request("evaluate", {"expression": "history(items)"})
        assert history["result"] == "4 change(s) of items"
        changes = variables(client, history["variablesReference"])
        expected = replay_json(tmp_path, test, "--history", "items")["changes"]
        assert list(changes) == [f"step {change['step']}" for change in expected]
        assert changes["step 7"]["value"] == "[] → [0] (as acc in fill)"
        parts = variables(client, changes["step 7"]["variablesReference"])
        by = variables(client, parts["by"]["variablesReference"])
        assert (by["function"]["value"], by["line"]["value"]) == (
            "'fill'",
            str(expected[1]["by"]["line"]),
        )
        seen = variables(client, parts["seen"]["variablesReference"])
        assert (seen["function"]["value"], seen["path"]["value"]) == ("'fill'", "'acc'")
    finally:
        client.close()


def test_source_is_the_recorded_text(client: DapClient, demo: Path) -> None:
    path = demo / "tests" / "test_stock.py"
    frame_source = top_frame(client)["source"]
    assert "sourceReference" not in frame_source  # the file here is the one recorded
    assert client.request("source", {"source": {"path": str(path)}})["content"] == (
        path.read_text()
    )
    path.write_text(path.read_text().replace("grace", "GRACE"))  # the checkout moved on
    try:
        client.request("goto", {"threadId": 1, "targetId": 1})
        client.event("stopped")
        recorded = top_frame(client)["source"]
        assert recorded["sourceReference"] > 0
        content = client.request("source", {"sourceReference": recorded["sourceReference"]})
        assert 'Order("grace")' in content["content"]
    finally:
        path.write_text(path.read_text().replace("GRACE", "grace"))


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        ("frobnicate", {}, "'frobnicate' is not a request this server answers"),
        ("variables", {"variablesReference": 999}, "no variables 999"),
        ("variables", {}, "malformed variables request (KeyError"),
        ("scopes", {"frameId": "x"}, "no frame 'x'"),
        ("stackTrace", {"threadId": 7}, "no thread 7"),
        ("goto", {"threadId": 1, "targetId": 10_000}, "no step 10000"),
        ("setExceptionBreakpoints", {"filters": ["all"]}, "exception filters are"),
        ("setBreakpoints", {"source": 3}, "source must be an object"),
        ("launch", {"test": TEST}, "already launched"),
        ("evaluate", {"expression": 5}, "expression must be a string"),
        ("next", [], "arguments must be an object"),
    ],
)
def test_a_bad_request_gets_an_error_response(
    client: DapClient, command: str, arguments: Any, message: str
) -> None:
    assert message in client.failure(command, arguments)
    assert top_frame(client)["name"] == TEST  # still answering


def test_out_of_order_and_garbage_never_stop_the_server(demo: Path, tmp_path: Path) -> None:
    client = DapClient(demo)
    assert "before launch" in client.failure("stackTrace", {"threadId": 1})
    assert "before launch" in client.failure("next", {"threadId": 1})
    client.send_raw(b"Content-Length: 5\r\n\r\n{nope")
    assert "not JSON" in client.event("output")["body"]["output"]
    client.send_raw(frame({"seq": 9, "type": "event", "event": "x"}))
    assert "non-request" in client.event("output")["body"]["output"]
    client.send_raw(frame([1, 2]))  # type: ignore[arg-type]
    assert "not a JSON object" in client.event("output")["body"]["output"]
    client.send_raw(b"Content-Length: -3\r\n\r\n")
    assert "negative Content-Length" in client.event("output")["body"]["output"]
    deep = b"[" * 100_000 + b"]" * 100_000
    client.send_raw(b"Content-Length: %d\r\n\r\n" % len(deep) + deep)
    assert "nested too deeply" in client.event("output")["body"]["output"]
    capabilities = client.request("initialize", {"adapterID": "pytest-scope"})
    assert capabilities["supportsStepBack"]
    assert "no test to replay" in client.failure("launch", {})
    assert "no recorded test matches" in client.failure("launch", {"test": "no_such_test_anywhere"})
    assert "attempt must be a number" in client.failure("launch", {"test": TEST, "attempt": "2"})
    (run,) = (demo / ".scope" / "runs").glob("*.sqlite")
    damaged = Path(shutil.copy(run, tmp_path / run.name))
    with sqlite3.connect(damaged) as connection:
        connection.execute("UPDATE chunks SET data = x'789c03000000000001'")
    connection.close()
    message = client.failure("launch", {"test": TEST, "run": str(damaged)})
    assert f"corrupt chunk 0 of tests/test_stock.py::{TEST}" in message
    client.request("launch", {"test": TEST})
    client.request("configurationDone")
    assert client.event("stopped")["body"]["reason"] == "exception"
    client.request("disconnect")
    assert client.close() == 0


def test_the_diff_with_the_last_pass_is_a_scope(tmp_path: Path) -> None:
    record_compare(tmp_path)
    client = DapClient(tmp_path, "test_price")
    started(client, {})
    frame_id = top_frame(client)["id"]
    scopes = client.request("scopes", {"frameId": frame_id})["scopes"]
    (diff,) = [scope for scope in scopes if scope["name"] == "Diff with last pass"]
    assert diff["expensive"] is True
    changes = variables(client, diff["variablesReference"])
    assert changes["test_price: charged"]["value"] == "80.0 (last pass: 90.0)"
    assert changes["(aligned)"]["value"].endswith("(last step alike)'")
    client.request("disconnect")
    assert client.close() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dap-port", "4711"), "--dap-port goes with --dap"),
        (("--dap", "--step", "3"), "--dap stops at the failure point"),
        (("--dap", "--dap-port", "70000"), "'70000' is not a port number"),
    ],
)
def test_bad_dap_options_are_one_line(demo: Path, args: tuple[str, ...], message: str) -> None:
    result = run_replay(demo, TEST, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_over_tcp_on_loopback(demo: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "replay.cli", TEST, "--dap", "--dap-port", "0"],
        cwd=demo,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        announced = server.stderr.readline()
        found = re.fullmatch(r"scope-replay: DAP server on 127\.0\.0\.1:(\d+)\n", announced)
        assert found, announced
        port = int(found[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection,
            connection.makefile("rwb") as stream,
        ):
            stream.write(frame({"seq": 1, "type": "request", "command": "initialize"}))
            stream.flush()
            response = read_message(stream)
            assert response is not None and response["body"]["supportsStepBack"] is True
            stream.write(frame({"seq": 2, "type": "request", "command": "disconnect"}))
            stream.flush()
        assert server.wait(timeout=TIMEOUT) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stderr is not None
        server.stderr.close()


def test_breakpoints_set_before_launch_are_confirmed_after_it(
    demo: Path, rows: list[dict[str, Any]]
) -> None:
    """VS Code may send breakpoints before the launch: they are answered pending, then
    announced by ``breakpoint`` events under the same ids once the recording is loaded."""
    client = DapClient(demo)
    client.request("initialize", {"adapterID": "pytest-scope"})
    client.event("initialized")
    source = {"path": str(demo / "tests" / "test_stock.py")}
    lines = client.request("setBreakpoints", {"source": source, "breakpoints": [{"line": 38}]})
    functions = client.request(
        "setFunctionBreakpoints", {"breakpoints": [{"name": "Stock.ship"}, {"name": "nope"}]}
    )
    pending = lines["breakpoints"] + functions["breakpoints"]
    assert [(b["verified"], b["message"]) for b in pending] == [(False, "set when launched")] * 3
    client.request("launch", {"test": TEST})
    client.request("configurationDone")
    changed = {}
    for _ in pending:
        body = client.event("breakpoint")["body"]
        assert body["reason"] == "changed"
        changed[body["breakpoint"]["id"]] = body["breakpoint"]["verified"]
    assert changed == {pending[0]["id"]: True, pending[1]["id"]: True, pending[2]["id"]: False}
    client.event("stopped")
    client.request("goto", {"threadId": 1, "targetId": 1})
    client.event("stopped")
    client.request("continue", {"threadId": 1})
    assert stopped_at(client.event("stopped")) == steps(rows, line=38, function=TEST)[0]
    client.request("continue", {"threadId": 1})
    assert stopped_at(client.event("stopped")) == steps(rows, function="Stock.ship")[0]
    client.request("disconnect")
    assert client.close() == 0


def test_one_dap_thread_per_recorded_thread(tmp_path: Path) -> None:
    """Thread 2 shows its stack as of its latest step before the stop in thread 1."""
    rec = Recording()
    rec.event(Kind.CALL, thread=1, code_no=1, line=10)  # 1
    rec.event(Kind.CALL, thread=2, code_no=5, line=40, l={"job": "a"})  # 2
    rec.event(Kind.CALL, thread=2, code_no=2, line=1)  # 3
    rec.event(Kind.LINE, thread=1, code_no=1, line=11)  # 4
    rec.event(Kind.RETURN, thread=2, code_no=2, line=2)  # 5
    rec.event(Kind.LINE, thread=1, code_no=1, line=12)  # 6
    write_trace(tmp_path / ".scope" / "runs" / "20250101-000000-1.sqlite", {NODEID: rec})
    client = DapClient(tmp_path, "test_main")
    first = started(client, {})  # a test that passed: it stops at its last step
    assert (first["body"]["reason"], first["body"]["description"]) == (
        "entry",
        "step 6 of 6: the last step",
    )
    threads = client.request("threads")["threads"]
    assert threads == [{"id": 1, "name": "thread 1"}, {"id": 2, "name": "thread 2"}]
    other = client.request("stackTrace", {"threadId": 2})["stackFrames"]
    assert [(f["name"], f["line"]) for f in other] == [("helper", 2), ("worker", 40)]
    assert move(client, "stepBack") == 4  # thread 1's own steps only
    client.request("stepIn", {"threadId": 2})  # from thread 2's latest step, 3
    assert stopped_at(client.event("stopped")) == 5
    client.request("stepIn", {"threadId": 2})  # thread 2 has no step after 5
    stopped = client.event("stopped")
    assert stopped["body"]["description"] == "step 5 of 6: the end of the recording"
    assert stopped["body"]["threadId"] == 2
    client.request("disconnect")
    assert client.close() == 0


def test_attach_pause_and_terminate(demo: Path) -> None:
    """attach is launch by another name; pause has nothing to stop; terminate ends it."""
    client = DapClient(demo, TEST)
    client.request("initialize", {"adapterID": "pytest-scope"})
    client.request("attach", {})
    client.request("configurationDone")
    assert client.event("stopped")["body"]["reason"] == "exception"
    client.request("pause", {"threadId": 1})
    client.request("terminate")
    client.event("terminated")
    client.request("disconnect")
    assert client.close() == 0
