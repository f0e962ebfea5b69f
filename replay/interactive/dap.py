"""``scope-replay [TEST_ID] --dap``: a Debug Adapter Protocol server over a recording.

An editor (VS Code with ``editors/vscode``, nvim-dap, any DAP client) talks to it over
stdio, or over TCP on the loopback interface with ``--dap-port``. It steps through the
recording forwards and backwards (``supportsStepBack``), jumps to any step of a line
(``gotoTargets``/``goto``), and stops at line, function, conditional and hit-count
breakpoints, all with a ``Cursor`` (``replay.reading.cursor``); every value shown comes from
``replay.reading.state.state_at``. Nothing recorded is evaluated: ``evaluate`` takes a path or
``history(PATH)``.

Thread and step semantics are the recording's: one DAP thread per recorded thread, and
every stop is a recorded step. Frame and variable references are valid until the next
stop, as the protocol allows. A request that is malformed, unknown, or comes out of order
(``stackTrace`` before ``launch``) gets an error response; a message that is not even
JSON gets an ``output`` event. The server never stops on a bad message, only on
``disconnect`` or the end of its input.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pytest_scope.errors import ScopeError
from pytest_scope.trace.reader import RecordedTest, TraceFile
from replay.comparing.compare import Comparer, Recorded
from replay.interactive.dap_values import ValueReferences, arrow, type_name
from replay.interactive.dap_wire import Connection
from replay.reading.cursor import FAILURE, RAISED, BreakpointError, Cursor, names_at
from replay.reading.format_facts import exception_message, exception_type
from replay.reading.query import ExpressionError, parse_path, resolve
from replay.reading.state import State
from replay.reading.value_history import FOLLOWS_OBJECT, history, seen_text
from replay.views.text_view import format_value

_HISTORY_CALL: Final = ("history(", ")")
EXCEPTION_FILTERS: Final[list[dict[str, Any]]] = [
    {"filter": FAILURE, "label": "The test's failure", "default": True},
    {"filter": RAISED, "label": "Every raised exception", "default": False},
]
CAPABILITIES: Final = {
    "supportsConfigurationDoneRequest": True,
    "supportsStepBack": True,
    "supportsGotoTargetsRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsFunctionBreakpoints": True,
    "supportsEvaluateForHovers": True,
    "supportsTerminateRequest": True,
    "supportsExceptionInfoRequest": True,
    "exceptionBreakpointFilters": EXCEPTION_FILTERS,
}


class RequestError(Exception):
    """A request that cannot be answered; its message goes back in the error response."""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What a ``launch``/``attach`` names; None leaves the command line's choice."""

    test: str | None
    run: str | None
    attempt: int | None
    against: str | None
    scope_dir: str | None


Loaded = tuple[TraceFile, RecordedTest, Recorded | None]
# A request's response body, and what to send after the response (a stopped event, say).
Answer = tuple[dict[str, Any] | None, Callable[[], None] | None]
Loader = Callable[[LaunchRequest], Loaded]


def _pending(spec: dict[str, Any]) -> dict[str, Any]:
    """A breakpoint asked for before launch: checked, and announced, once the test is loaded."""
    answer = {"id": spec["id"], "verified": False, "message": "set when launched"}
    if "line" in spec:
        answer["line"] = spec["line"]
    return answer


class DebugSession:
    """One DAP session over one recorded test; ``serve`` feeds it the client's requests."""

    def __init__(self, connection: Connection, load: Loader, preset: LaunchRequest) -> None:
        self.connection = connection
        self.load = load
        self.preset = preset
        self.cursor: Cursor | None = None
        self.against: Recorded | None = None
        self.configured = False
        self.started = False
        self.done = False
        self._seq = 0
        self._sources: dict[str, list[dict[str, Any]]] = {}
        self._functions: list[dict[str, Any]] = []
        self._breakpoint_ids = 0  # the client's ids, kept from before launch to after
        self._filters: set[str] = {FAILURE}
        self._source_refs: dict[int, str] = {}
        self._frames: dict[int, tuple[int, int]] = {}
        self.values = ValueReferences()
        self.compared: Comparer | None = None

    # The protocol.

    def send(self, message: dict[str, Any]) -> None:
        self._seq += 1
        self.connection.write({"seq": self._seq, **message})

    def event(self, name: str, body: dict[str, Any] | None = None) -> None:
        self.send({"type": "event", "event": name, **({"body": body} if body else {})})

    def handle(self, message: dict[str, Any] | str) -> None:
        """Answer one message; nothing a client sends can stop the loop but ``disconnect``."""
        if isinstance(message, str):
            self.event("output", {"category": "stderr", "output": f"ignored {message}\n"})
            return
        command = message.get("command")
        request_seq = message.get("seq") if type(message.get("seq")) is int else 0
        if message.get("type") != "request" or not isinstance(command, str):
            self.event("output", {"category": "stderr", "output": "ignored a non-request\n"})
            return
        handler = getattr(self, "_" + command) if command in _REQUESTS else None
        answer: dict[str, Any] = {
            "type": "response",
            "request_seq": request_seq,
            "command": command,
        }
        arguments = message.get("arguments", {})
        try:
            if handler is None:
                raise RequestError(f"{command!r} is not a request this server answers")
            if not isinstance(arguments, dict):
                raise RequestError("arguments must be an object")
            if command not in _BEFORE_LAUNCH and self.cursor is None:
                raise RequestError(f"{command} before launch: launch or attach first")
            body, after = handler(arguments)
        except (RequestError, ScopeError, ExpressionError) as exc:
            self.send({**answer, "success": False, "message": " ".join(str(exc).split())})
            return
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            problem = f"malformed {command} request ({type(exc).__name__}: {exc})"
            self.send({**answer, "success": False, "message": problem})
            return
        except RecursionError:
            message_text = "a recorded value is nested too deeply to show"
            self.send({**answer, "success": False, "message": message_text})
            return
        except Exception as exc:  # a bug of ours: the editor says so, the session goes on
            problem = f"{command} failed: {type(exc).__name__}: {exc}"
            self.send({**answer, "success": False, "message": problem})
            return
        self.send({**answer, "success": True, **({"body": body} if body is not None else {})})
        if after is not None:
            try:
                after()
            except Exception as exc:  # the stop that follows a move: a corrupt chunk there
                problem = f"{command}: {' '.join(str(exc).split())}\n"
                self.event("output", {"category": "stderr", "output": problem})

    # Requests: each returns (body, what to do after the response is sent).

    def _initialize(self, arguments: dict[str, Any]) -> Answer:
        return dict(CAPABILITIES), lambda: self.event("initialized")

    def _launch(self, arguments: dict[str, Any]) -> Answer:
        if self.cursor is not None:
            raise RequestError("already launched: one session replays one test")
        attempt = arguments.get("attempt")
        if attempt is not None and type(attempt) is not int:
            raise RequestError(f"attempt must be a number, not {attempt!r}")
        for key in ("test", "run", "against", "scopeDir", "cwd"):
            if arguments.get(key) is not None and not isinstance(arguments[key], str):
                raise RequestError(f"{key} must be a string, not {arguments[key]!r}")
        if arguments.get("cwd"):
            try:
                os.chdir(arguments["cwd"])
            except OSError as exc:
                raise RequestError(f"cannot use cwd {arguments['cwd']}: {exc.strerror}") from None
        request = LaunchRequest(
            arguments.get("test") or self.preset.test,
            arguments.get("run") or self.preset.run,
            attempt if attempt is not None else self.preset.attempt,
            arguments.get("against") or self.preset.against,
            arguments.get("scopeDir") or self.preset.scope_dir,
        )
        if not request.test:
            raise RequestError('no test to replay: give "test" in the launch configuration')
        trace, test, self.against = self.load(request)
        try:
            self.cursor = Cursor(trace, test)
        except BaseException:
            trace.close()
            if self.against is not None:
                self.against.trace.close()
                self.against = None
            raise
        self.cursor.exception_stops = set(self._filters)
        if self.against is not None:
            self.compared = Comparer(Recorded(trace, test), self.against)
        return None, self._apply_breakpoints_and_start

    _attach = _launch

    def _configurationDone(self, arguments: dict[str, Any]) -> Answer:
        self.configured = True
        return None, self._start

    def _apply_breakpoints_and_start(self) -> None:
        cursor = self.cursor
        assert cursor is not None
        answers = [
            answer
            for path, requested in self._sources.items()
            for answer in self._set_source_breakpoints(path, requested)
        ]
        for answer in answers + self._set_function_breakpoints(self._functions):
            self.event("breakpoint", {"reason": "changed", "breakpoint": answer})
        self._start()

    def _start(self) -> None:
        """The first stop, at the failure point, once launched and configured."""
        if self.started or self.cursor is None or not self.configured:
            return
        self.started = True
        for thread in self._thread_ids():
            if thread != self.cursor.row()["thread"]:
                self.event("thread", {"reason": "started", "threadId": thread})
        at_failure = self.cursor.step == self.cursor.test.failure_step
        reason = "exception" if at_failure else "entry"
        self._stop(reason, "the failure point" if at_failure else "the last step")

    def _disconnect(self, arguments: dict[str, Any]) -> Answer:
        self.done = True
        return None, None

    def _terminate(self, arguments: dict[str, Any]) -> Answer:
        return None, lambda: self.event("terminated")

    def _threads(self, arguments: dict[str, Any]) -> Answer:
        threads = [{"id": thread, "name": f"thread {thread}"} for thread in self._thread_ids()]
        return {"threads": threads}, None

    def _setExceptionBreakpoints(self, arguments: dict[str, Any]) -> Answer:
        filters = arguments["filters"]
        known = {item["filter"] for item in EXCEPTION_FILTERS}
        if not isinstance(filters, list) or not set(filters) <= known:
            raise RequestError(f"exception filters are {sorted(known)}, not {filters!r}")
        self._filters = set(filters)
        if self.cursor is not None:
            self.cursor.exception_stops = set(filters)
        return None, None

    def _setBreakpoints(self, arguments: dict[str, Any]) -> Answer:
        path = self._source_path(arguments["source"])
        requested = arguments.get("breakpoints", [])
        if not isinstance(requested, list) or not all(isinstance(b, dict) for b in requested):
            raise RequestError("breakpoints must be a list of objects")
        requested = [{**spec, "id": self._new_breakpoint_id()} for spec in requested]
        self._sources[path] = requested
        if self.cursor is None:
            return {"breakpoints": [_pending(spec) for spec in requested]}, None
        return {"breakpoints": self._set_source_breakpoints(path, requested)}, None

    def _setFunctionBreakpoints(self, arguments: dict[str, Any]) -> Answer:
        requested = arguments["breakpoints"]
        if not isinstance(requested, list) or not all(isinstance(b, dict) for b in requested):
            raise RequestError("breakpoints must be a list of objects")
        requested = [{**spec, "id": self._new_breakpoint_id()} for spec in requested]
        self._functions = requested
        if self.cursor is None:
            return {"breakpoints": [_pending(spec) for spec in requested]}, None
        return {"breakpoints": self._set_function_breakpoints(requested)}, None

    def _new_breakpoint_id(self) -> int:
        self._breakpoint_ids += 1
        return self._breakpoint_ids

    def _stackTrace(self, arguments: dict[str, Any]) -> Answer:
        state = self._thread_state(int(arguments["threadId"]))
        if state is None:
            return {"stackFrames": [], "totalFrames": 0}, None
        frames = []
        for depth in range(len(state.stack) - 1, -1, -1):
            frame = state.stack[depth]
            frame_id = len(self._frames) + 1
            self._frames[frame_id] = (state.step, depth)
            frames.append(
                {
                    "id": frame_id,
                    "name": frame["function"],
                    "source": self._source_of(frame["file"]),
                    "line": frame["line"],
                    "column": 1,
                }
            )
        start = int(arguments.get("startFrame", 0))
        levels = int(arguments.get("levels", 0)) or len(frames)
        return {"stackFrames": frames[start : start + levels], "totalFrames": len(frames)}, None

    def _scopes(self, arguments: dict[str, Any]) -> Answer:
        state, depth = self._frame(arguments["frameId"])
        names = dict(state.stack[depth]["locals"])
        if depth == len(state.stack) - 1 and state.event["kind"] in ("return", "yield"):
            names["(return value)"] = state.return_value
        scopes = [self.values.scope("Locals", names, "locals")]
        if state.exception is not None:
            scopes.append(self.values.scope("Exception", {"exception": state.exception}, None))
        if state.watched:
            scopes.append(self.values.scope("Watched", dict(state.watched), None))
        if self.compared is not None:
            reference = self.values.remember(lambda: self._diff_variables(state))
            scopes.append(
                {
                    "name": "Diff with last pass",
                    "variablesReference": reference,
                    "expensive": True,
                }
            )
        return {"scopes": scopes}, None

    def _variables(self, arguments: dict[str, Any]) -> Answer:
        reference = arguments["variablesReference"]
        listing = self.values.listing(reference)
        if listing is None:
            raise RequestError(f"no variables {reference!r}: references last until the next stop")
        variables = listing()
        start = int(arguments.get("start", 0))
        count = int(arguments.get("count", 0)) or len(variables)
        return {"variables": variables[start : start + count]}, None

    def _evaluate(self, arguments: dict[str, Any]) -> Answer:
        expression = arguments["expression"]
        if not isinstance(expression, str):
            raise RequestError("expression must be a string")
        cursor = self._cursor()
        if "frameId" in arguments:
            state, depth = self._frame(arguments["frameId"])
        else:
            state, depth = cursor.state(), len(cursor.state().stack) - 1
        text = expression.strip()
        if text.startswith(_HISTORY_CALL[0]) and text.endswith(_HISTORY_CALL[1]):
            return self._history(text[len(_HISTORY_CALL[0]) : -len(_HISTORY_CALL[1])], state, depth)
        value = resolve(names_at(state, depth), parse_path(text))
        return {
            "result": format_value(value),
            "type": type_name(value),
            "variablesReference": self.values.reference(value, text),
        }, None

    def _source_of(self, filename: str) -> dict[str, Any]:
        """A frame's source: its path, and a reference to the recorded text when the file
        here is missing or differs (a recording from CI), so the editor shows what ran."""
        source: dict[str, Any] = {"name": Path(filename).name, "path": filename}
        cursor = self._cursor()
        recorded = cursor.trace.source(filename, cursor.test)
        try:
            same = Path(filename).read_text(encoding="utf-8") == recorded
        except (OSError, UnicodeDecodeError):
            same = False
        if not same and recorded is not None:
            reference = next(
                (ref for ref, name in self._source_refs.items() if name == filename),
                len(self._source_refs) + 1,
            )
            self._source_refs[reference] = filename
            source["sourceReference"] = reference
            source["origin"] = "recorded"
        return source

    def _source(self, arguments: dict[str, Any]) -> Answer:
        """``source``: the recorded text of a file, by reference or by path."""
        reference = arguments.get("sourceReference")
        source = arguments.get("source")
        filename = self._source_refs.get(reference) if type(reference) is int else None
        if filename is None and isinstance(source, dict):
            inner = source.get("sourceReference")
            filename = self._source_refs.get(inner) if type(inner) is int else None
            if filename is None and isinstance(source.get("path"), str):
                filename = self._recorded_file(source["path"])
        if filename is None:
            raise RequestError(f"no recorded source {reference!r}")
        cursor = self._cursor()
        text = cursor.trace.source(filename, cursor.test)
        if text is None:
            raise RequestError(f"the source of {filename} was not recorded")
        return {"content": text, "mimeType": "text/x-python"}, None

    def _gotoTargets(self, arguments: dict[str, Any]) -> Answer:
        path = self._source_path(arguments["source"])
        line = arguments["line"]
        cursor = self._cursor()
        targets = [
            {"id": row["step"], "label": f"step {row['step']}: {row['kind']} in {row['function']}",
             "line": row["line"]}
            for row in cursor.rows
            if row["line"] == line and cursor.file_matches(path, row["file"])
        ]  # fmt: skip
        return {"targets": targets}, None

    def _goto(self, arguments: dict[str, Any]) -> Answer:
        step = arguments["targetId"]
        cursor = self._cursor()
        if type(step) is not int or not cursor.first <= step <= cursor.last:
            raise RequestError(
                f"no step {step!r}: goto targets are steps {cursor.first}-{cursor.last}"
            )
        return None, lambda: self._move(step, "goto", f"step {step}")

    def _next(self, arguments: dict[str, Any]) -> Answer:
        return self._stepping(arguments, lambda cursor: cursor.step_over(), "the end")

    def _stepIn(self, arguments: dict[str, Any]) -> Answer:
        return self._stepping(arguments, lambda cursor: cursor.step_into(), "the end")

    def _stepOut(self, arguments: dict[str, Any]) -> Answer:
        return self._stepping(arguments, lambda cursor: cursor.step_out(), "the end")

    def _stepBack(self, arguments: dict[str, Any]) -> Answer:
        return self._stepping(arguments, lambda cursor: cursor.step_over(False), "the start")

    def _continue(self, arguments: dict[str, Any]) -> Answer:
        return self._resuming(arguments, forward=True)

    def _reverseContinue(self, arguments: dict[str, Any]) -> Answer:
        return self._resuming(arguments, forward=False)

    def _pause(self, arguments: dict[str, Any]) -> Answer:
        return None, None  # always stopped: a recording does not run

    def _exceptionInfo(self, arguments: dict[str, Any]) -> Answer:
        """The exception in flight at the thread's step, for the editor's exception widget."""
        state = self._thread_state(int(arguments["threadId"]))
        if state is None or state.exception is None:
            raise RequestError("no exception in flight at this step")
        exception = state.exception
        kind = exception_type(exception) or "?"
        message = exception_message(exception) or ""
        failure = state.step == self._cursor().test.failure_step
        return {
            "exceptionId": kind,
            "description": message or format_value(exception),
            "breakMode": "unhandled" if failure else "always",
            "details": {"message": message, "typeName": kind},
        }, None

    # Helpers.

    def _cursor(self) -> Cursor:
        if self.cursor is None:
            raise RequestError("launch or attach first")
        return self.cursor

    def _thread_ids(self) -> list[int]:
        return sorted({int(row["thread"]) for row in self._cursor().rows})

    def _thread_state(self, thread: int) -> State | None:
        """A thread's state at the current stop: its latest step so far."""
        cursor = self._cursor()
        if thread not in self._thread_ids():
            raise RequestError(f"no thread {thread}: the recording has {self._thread_ids()}")
        here = cursor.position()
        for position in range(here, -1, -1):
            if cursor.rows[position]["thread"] == thread:
                return cursor.state(int(cursor.rows[position]["step"]))
        return None

    def _select_thread(self, arguments: dict[str, Any]) -> Cursor:
        """Moves go from the requested thread's latest step, as the editor shows it."""
        cursor = self._cursor()
        thread = arguments.get("threadId")
        if type(thread) is int and thread != cursor.row()["thread"]:
            state = self._thread_state(thread)
            if state is None:
                raise RequestError(f"thread {thread} has not started at this step")
            cursor.step = state.step
        return cursor

    def _stepping(self, arguments: dict[str, Any], move: Callable[[Cursor], int | None],
                  end: str) -> Answer:  # fmt: skip
        cursor = self._select_thread(arguments)
        step = move(cursor)
        if step is None:
            return None, lambda: self._move(cursor.step, "step", f"{end} of the recording")
        return None, lambda: self._move(step, "step", None)

    def _resuming(self, arguments: dict[str, Any], *, forward: bool) -> Answer:
        cursor = self._select_thread(arguments)
        step, why = cursor.resume(forward)
        body = {"allThreadsContinued": True} if forward else None
        if step is None:
            edge = cursor.last if forward else cursor.first
            where = "end" if forward else "start"
            return body, lambda: self._move(edge, "step", f"the {where} of the recording")
        reason = "breakpoint" if why.startswith("breakpoint") else "exception"
        return body, lambda: self._move(step, reason, why)

    def _move(self, step: int, reason: str, description: str | None) -> None:
        self._cursor().step = step
        self._stop(reason, description)

    def _stop(self, reason: str, why: str | None) -> None:
        """The stopped event; its description says the step, which editors show."""
        self._frames.clear()
        self.values.clear()
        cursor = self._cursor()
        description = f"step {cursor.step} of {cursor.test.steps}" + (f": {why}" if why else "")
        self.event(
            "stopped",
            {
                "reason": reason,
                "threadId": cursor.row()["thread"],
                "allThreadsStopped": True,
                "description": description,
            },
        )

    def _frame(self, frame_id: Any) -> tuple[State, int]:
        if type(frame_id) is not int or frame_id not in self._frames:
            raise RequestError(f"no frame {frame_id!r}: frames last until the next stop")
        step, depth = self._frames[frame_id]
        return self._cursor().state(step), depth

    def _diff_variables(self, state: State) -> list[dict[str, Any]]:
        assert self.compared is not None
        diff = self.compared.at(state)
        aligned = "same step" if diff.exact else "last step alike"
        variables = [
            self.values.variable(
                "(aligned)", f"step {diff.state.step} of run {diff.state.run} ({aligned})", None
            )
        ]
        for change in diff.changes:
            where = change["path"]
            if change["frame"] is not None:
                where = f"{change['frame']}: {where}"
            this, against = change["this"], change["against"]
            summary = {"change": change["change"], "this": this, "last pass": against}
            variable = self.values.variable(where, summary, None)
            variable["value"] = f"{format_value(this, 80)} (last pass: {format_value(against, 80)})"
            variables.append(variable)
        if not diff.changes:
            variables.append(self.values.variable("(no differences)", "", None))
        return variables

    def _history(self, text: str, state: State, depth: int) -> Answer:
        cursor = self._cursor()
        path = parse_path(text)
        document = history(cursor, path, depth, state.step)
        changes = document["changes"]
        following = document["follows"] == FOLLOWS_OBJECT
        listing = {f"step {change['step']}": change for change in changes}
        result = f"{len(changes)} change(s) of {document['path']}"
        reference = self.values.remember(
            lambda: [
                {
                    **self.values.variable(name, change, None),
                    "value": arrow(change["old"], change["new"])
                    + (f" ({seen_text(change['seen'])})" if following else ""),
                }
                for name, change in listing.items()
            ]
        )
        return {"result": result, "variablesReference": reference}, None

    def _source_path(self, source: Any) -> str:
        if not isinstance(source, dict):
            raise RequestError("source must be an object")
        reference = source.get("sourceReference")
        if type(reference) is int and reference in self._source_refs:
            return self._source_refs[reference]
        path = source.get("path")
        if not isinstance(path, str) or not path:
            raise RequestError("source needs a path or a known sourceReference")
        return path

    def _recorded_file(self, path: str) -> str | None:
        """The recorded file an editor's path means: the same path, else the one sharing
        the longest tail of it (a checkout elsewhere than where the recording was made)."""
        files = {str(row["file"]) for row in self._cursor().rows}
        if path in files:
            return path
        parts = Path(path).parts
        for start in range(len(parts)):
            tail = "/".join(parts[start:]).lstrip("/")
            found = sorted(name for name in files if name.endswith("/" + tail) or name == tail)
            if found:
                return found[0]
        return None

    def _set_source_breakpoints(
        self, path: str, requested: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        cursor = self._cursor()
        recorded = self._recorded_file(path)
        for breakpoint in [bp for bp in cursor.breakpoints if bp.file == recorded]:
            cursor.remove_breakpoint(breakpoint.number)  # the request replaces the file's
        answers = []
        for spec in requested:
            line = spec.get("line")
            answer: dict[str, Any] = {"id": spec["id"], "verified": False, "line": line}
            if recorded is None:
                answer["message"] = "no step of the recording is in this file"
            elif type(line) is not int or not any(
                row["file"] == recorded and row["line"] == line for row in cursor.rows
            ):
                answer["message"] = "no step of the recording is at this line"
            else:
                _add_breakpoint(cursor, f"{recorded}:{line}", spec, answer)
            answers.append(answer)
        return answers

    def _set_function_breakpoints(self, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = self._cursor()
        for breakpoint in [bp for bp in cursor.breakpoints if bp.function is not None]:
            cursor.remove_breakpoint(breakpoint.number)
        answers = []
        for spec in requested:
            answer: dict[str, Any] = {"id": spec["id"], "verified": False}
            _add_breakpoint(cursor, str(spec["name"]), spec, answer)
            answers.append(answer)
        return answers


def _add_breakpoint(
    cursor: Cursor, where: str, spec: dict[str, Any], answer: dict[str, Any]
) -> None:
    """Set one requested breakpoint; ``answer`` tells the editor whether it holds, or why not."""
    try:
        cursor.add_breakpoint(where, spec.get("condition"), spec.get("hitCondition"))
    except BreakpointError as exc:
        answer["message"] = str(exc)
    else:
        answer["verified"] = True


_REQUESTS: Final = frozenset(
    {
        "initialize", "launch", "attach", "configurationDone", "disconnect", "terminate",
        "setBreakpoints", "setFunctionBreakpoints", "setExceptionBreakpoints", "threads",
        "stackTrace", "scopes", "variables", "evaluate", "source", "gotoTargets", "goto",
        "next", "stepIn", "stepOut", "stepBack", "continue", "reverseContinue", "pause",
        "exceptionInfo",
    }
)  # fmt: skip
_BEFORE_LAUNCH: Final = frozenset(
    {
        "initialize", "launch", "attach", "configurationDone", "disconnect", "terminate",
        "setBreakpoints", "setFunctionBreakpoints", "setExceptionBreakpoints",
    }
)  # fmt: skip


def serve(load: Loader, preset: LaunchRequest, port: int | None = None) -> None:
    """Answer one client, on stdio or on ``127.0.0.1:port``, until it disconnects."""
    if port is None:
        _serve(Connection(sys.stdin.buffer, sys.stdout.buffer), load, preset)
        return
    with socket.create_server(("127.0.0.1", port)) as server:
        print(f"scope-replay: DAP server on 127.0.0.1:{server.getsockname()[1]}", file=sys.stderr)
        client, _ = server.accept()
        with client, client.makefile("rb") as reader, client.makefile("wb") as writer:
            _serve(Connection(reader, writer), load, preset)


def _serve(connection: Connection, load: Loader, preset: LaunchRequest) -> None:
    session = DebugSession(connection, load, preset)
    try:
        while not session.done:
            message = connection.read()
            if message is None:
                break
            session.handle(message)
    finally:
        if session.cursor is not None:
            session.cursor.close()
            session.cursor.trace.close()
        if session.against is not None:
            session.against.trace.close()
