"""The terminal views: the state at a step, the timeline, the lists of runs and tests.

``TextView`` renders what ``scope-replay`` shows people; ``replay.views.json_view.JsonView`` has
the same methods for scripts.

Recorded values are data from the trace file, never rich markup: they are always
rendered as ``Text``.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any, Final

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from pytest_scope.trace.reader import RecordedTest
from replay.comparing.compare import MAX_DEEPDIFF_NODES, DivergenceReport, StateDiff
from replay.comparing.last_pass import describe
from replay.comparing.noise import ADDRESS, HASH, REDACTED, TRUNCATED_SET
from replay.reading.format_facts import exception_summary, without_assertion_temporaries
from replay.reading.state import State
from replay.reading.value_history import APPEARED, DISAPPEARED, FOLLOWS_OBJECT, seen_text

_INSTALL_DIRS: Final = frozenset({"site-packages", "dist-packages"})
SOURCE_CONTEXT: Final = 5  # lines shown above and below the current one


def source_excerpt(source: str, line: int) -> Syntax:
    """The source around ``line``, numbered, with ``line`` highlighted."""
    return Syntax(
        source,
        "python",
        theme="ansi_dark",
        background_color="default",
        line_numbers=True,
        line_range=(max(1, line - SOURCE_CONTEXT), line + SOURCE_CONTEXT),
        highlight_lines={line},
    )


VALUE_CHARS: Final = 300
_MAX_NESTING: Final = 20
_CALLABLE_TYPES: Final = frozenset(
    {
        "function", "builtin_function_or_method", "method", "code", "generator", "coroutine",
        "async_generator", "method-wrapper", "wrapper_descriptor", "method_descriptor",
    }
)  # fmt: skip


def format_value(value: Any, limit: int = VALUE_CHARS) -> str:
    """An encoded value in compact Python-like notation, cut to ``limit`` characters."""
    text = _format(value, 0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format(value: Any, depth: int) -> str:
    if depth > _MAX_NESTING:
        return "…"
    if isinstance(value, list):
        return "[" + _join(value, [], depth) + "]"
    if isinstance(value, tuple):
        return _tuple(_join(list(value), [], depth), len(value) == 1)
    if not isinstance(value, dict):
        return repr(value)
    if not any(isinstance(key, str) and key.startswith("$") for key in value):
        return "{" + ", ".join(f"{k!r}: {_format(v, depth + 1)}" for k, v in value.items()) + "}"
    return _format_object(value, depth)


def _format_object(value: dict[str, Any], depth: int) -> str:
    """The ``$type`` forms and marks of ``pytest_scope.trace.schema``."""
    if value.get("$redacted"):
        return "<redacted>"
    if value.get("$cycle"):
        return "<cycle>"
    type_name = str(value.get("$type", "?"))
    short = type_name.rsplit(".", 1)[-1]
    if value.get("$depth"):
        return f"<{short} …>"
    total = value.get("$truncated")
    kind = value.get("$kind")
    items = value.get("items")
    if isinstance(value.get("attrs"), dict):
        attrs: dict[str, Any] = value["attrs"]
        args = attrs.get("args")
        more = _more(total, len(attrs))
        if list(attrs) == ["args"] and isinstance(args, list | tuple) and not more:
            return f"{short}({_join(list(args), [], depth)})"  # exceptions: KeyError('x')
        parts = [f"{k}={_format(v, depth + 1)}" for k, v in attrs.items()]
        if isinstance(items, list) and isinstance(kind, str):  # a container with attributes
            contents = _container(kind, items, [], depth)
            return f"{short}({', '.join([contents, *parts, *_more(total, len(items))])})"
        return f"{short}({', '.join(parts + more)})"
    if isinstance(items, list):
        return _format_items(type_name, short, kind, items, total, depth)
    if isinstance(value.get("repr"), str):
        text: str = value["repr"]
        if type_name == "str":
            return repr(text) + (f"…+{total - len(text)} more" if isinstance(total, int) else "")
        if type_name in _CALLABLE_TYPES:
            return f"<{type_name} {text}>"
        return text + (f"…({total} in all)" if isinstance(total, int) else "")
    return f"<{short}>"


_BUILTIN_CONTAINERS: Final = frozenset({"dict", "list", "tuple", "set"})


def _format_items(
    type_name: str, short: str, kind: Any, items: list[Any], total: Any, depth: int
) -> str:
    """A container as Python writes it: a builtin as a literal (``{1: 'a'}``, ``(1,)``), a
    subclass as its name around the literal of its kind (``Registry({'a': 1})``); items
    of no kind (a plugin's summary) as ``Name([...])``."""
    more = _more(total, len(items))
    if not isinstance(kind, str):
        return f"{short}([{_join(items, more, depth)}])"
    contents = _container(kind, items, more, depth)
    if type_name in _BUILTIN_CONTAINERS:
        return contents
    if type_name == "frozenset":
        return f"frozenset({contents})" if items or more else "frozenset()"
    return f"{short}({contents})"


def _container(kind: str, items: list[Any], more: list[str], depth: int) -> str:
    """The literal of a container's kind: ``{k: v}``, ``[x]``, ``(x,)``, ``{x}``."""
    if kind == "mapping":
        pairs = [
            f"{_format(item[0], depth + 1)}: {_format(item[1], depth + 1)}"
            if isinstance(item, list) and len(item) == 2
            else _format(item, depth + 1)
            for item in items
        ]
        return "{" + ", ".join(pairs + more) + "}"
    inner = _join(items, more, depth)
    if kind == "tuple":
        return _tuple(inner, len(items) == 1 and not more)
    if kind == "set":
        return "{" + inner + "}" if inner else "set()"
    return f"[{inner}]"


def _tuple(inner: str, single: bool) -> str:
    return f"({inner},)" if single else f"({inner})"


def _join(items: list[Any], more: list[str], depth: int) -> str:
    return ", ".join([_format(item, depth + 1) for item in items] + more)


def _more(total: Any, shown: int) -> list[str]:
    return [f"…+{total - shown} more"] if isinstance(total, int) and total > shown else []


def short_path(filename: str, rootdir: str | None) -> str:
    """Files under the recorded rootdir relative to it, as pytest shows them; installed
    files from their package on, as an import names them."""
    path = PurePath(filename)
    if rootdir:
        try:
            return str(path.relative_to(rootdir))
        except ValueError:
            pass
    for depth in range(len(path.parts) - 2, -1, -1):
        if path.parts[depth] in _INSTALL_DIRS:
            return str(PurePath(*path.parts[depth + 1 :]))
    return filename


def render_state(
    console: Console,
    state: State,
    source: str | None,
    rootdir: str | None = None,
    assertion_temporaries: bool = False,
) -> None:
    """Header, source around the line, call stack, the frame's locals, exception, value.

    pytest's assertion temporaries are left out of the locals, and counted, unless
    ``assertion_temporaries`` asks for them."""
    event = state.event
    location = f"{short_path(event['file'], rootdir)}:{event['line']}"
    console.print(Text(state.test, style="bold"))
    console.print(Text(f"run {state.run} · step {state.step} of {state.steps}"))
    console.print(
        Text(f"{event['kind']} in {event['function']} at {location} (thread {event['thread']})")
    )
    console.print()
    if source is None:
        missing = f"(the source of {short_path(event['file'], rootdir)} was not recorded)"
        console.print(Text(missing, style="dim"))
    else:
        console.print(source_excerpt(source, int(event["line"])))
    console.print()
    stack = Table(title="Call stack (outermost first)", title_justify="left", box=box.SIMPLE)
    for column in ("", "function", "location"):
        stack.add_column(column)
    for depth, frame in enumerate(state.stack):
        current = depth == len(state.stack) - 1
        stack.add_row(
            "→" if current else "",
            Text(frame["function"], style="bold" if current else ""),
            Text(f"{short_path(frame['file'], rootdir)}:{frame['line']}"),
        )
    console.print(stack)
    frame = state.stack[-1]
    names = Table(title=f"Locals of {frame['function']}", title_justify="left", box=box.SIMPLE)
    names.add_column("name")
    names.add_column("value", overflow="fold")
    shown = (
        frame["locals"]
        if assertion_temporaries
        else without_assertion_temporaries(state).stack[-1]["locals"]
    )
    for name, value in shown.items():
        names.add_row(Text(name), Text(format_value(value)))
    if not shown:
        names.add_row(Text("(none)", style="dim"), Text(""))
    console.print(names)
    hidden = len(frame["locals"]) - len(shown)
    if hidden:
        note = f"({hidden} assertion temporaries of pytest not shown; see --assertion-temporaries)"
        console.print(Text(note, style="dim"))
    if state.watched:
        watched = Table(title="Watched", title_justify="left", box=box.SIMPLE)
        watched.add_column("name")
        watched.add_column("value", overflow="fold")
        for name, value in state.watched.items():
            watched.add_row(Text(name), Text(format_value(value)))
        console.print(watched)
    if state.exception is not None:
        shown = exception_summary(state.exception, whole_message=True)
        console.print(
            Text("exception: ", style="bold red") + Text(shown or format_value(state.exception))
        )
    if state.return_value is not None or event["kind"] in ("return", "yield"):
        verb = "yielded" if event["kind"] == "yield" else "returned"
        console.print(Text(f"{verb}: ", style="bold") + Text(format_value(state.return_value)))


def render_timeline(
    console: Console,
    nodeid: str,
    rows: list[dict[str, Any]],
    rootdir: str | None = None,
    marks: dict[int, str] | None = None,
) -> None:
    """The steps, one a row; ``marks`` notes some steps (the failure, the first divergence)."""
    marks = marks or {}
    title = f"Timeline of {nodeid}"
    table = Table(box=box.SIMPLE)
    for column in ("step", "thread", "kind", "function", "location", ""):
        table.add_column(
            column, justify="right" if column in ("step", "thread") else "left", overflow="fold"
        )
    for row in rows:
        mark = marks.get(row["step"])
        table.add_row(
            str(row["step"]),
            str(row["thread"]),
            row["kind"],
            Text(row["function"]),
            Text(f"{short_path(row['file'], rootdir)}:{row['line']}"),
            Text(f"◀ {mark}", style="bold red") if mark else "",
        )
    _print_uncut(console, title, table)


def _print_uncut(console: Console, title: str, table: Table) -> None:
    """Print a titled table of ids and paths without cutting any.

    On a terminal narrower than an id, the id folds onto the next line; output that is not
    a terminal (a pipe, a CI log) gets whole lines, since ``grep`` and scripts read it.
    """
    whole = not console.is_terminal
    if whole:
        needed = Measurement.get(console, console.options.update_width(2**20), table).maximum
        console.width = max(console.width, needed)
    console.print(Text(title, style="table.title"), soft_wrap=whole)
    console.print(table)


_NUMBERS: Final = frozenset({"tests", "failed", "attempt", "steps", "dropped"})


def _print_listing(
    console: Console, title: str, columns: tuple[str, ...], rows: list[list[str | Text]]
) -> None:
    """A list of runs or tests, its widest column (ids, paths) last: a table at a terminal
    (an id too long folds), plain lines elsewhere, each as long as it needs, so that a pipe
    or a CI log never gets a thousand lines padded to the longest parametrized id."""
    if console.is_terminal:
        table = Table(box=box.SIMPLE)
        for column in columns:
            table.add_column(
                column, justify="right" if column in _NUMBERS else "left", overflow="fold"
            )
        for row in rows:
            table.add_row(*row)
        _print_uncut(console, title, table)
        return
    lines: list[list[str]] = [list(columns), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns) - 1)]
    plain = [title]
    for line in lines:
        narrow = [
            cell.rjust(width) if column in _NUMBERS else cell.ljust(width)
            for cell, width, column in zip(line, widths, columns, strict=False)
        ]
        plain.append("  ".join([*narrow, line[-1]]).rstrip())
    console.file.write("\n".join(plain) + "\n")


def render_diff(console: Console, state: State, diff: StateDiff, rootdir: str | None) -> None:
    """What differs from the other recording at the aligned step, side by side."""
    other = diff.state
    match = "the same step" if diff.exact else "the last step both runs did alike"
    console.print()
    console.print(
        Text(
            f"Compared with run {other.run} (attempt {diff.against.test.attempt}),"
            f" step {other.step}: {match}",
            style="bold",
        )
    )
    that = describe(diff.against.trace, diff.against.test)
    console.print(Text(f"(that recording: {that})"), soft_wrap=True)  # a path: never cut
    if diff.plans is not None:
        console.print(Text(f"Note: {diff.plans}", style="bold yellow"))
    if not diff.exact:
        console.print(Text(f"there: {_event_place(other.event, rootdir)}"))
    if diff.parted is not None:
        console.print(Text("from there, the runs went different ways:"))
        for run, row in ((state.run, diff.parted[0]), (other.run, diff.parted[1])):
            went = (
                "(had ended)"
                if row is None
                else f"step {row['step']}: {_event_place(row, rootdir)}"
            )
            console.print(Text(f"  run {run}: {went}"))
    _render_changes(console, diff.changes, diff.omitted, f"run {state.run}", f"run {other.run}")
    _render_cut(console, diff.cut)
    _render_set_aside(console, diff.set_aside)


def _event_place(event: dict[str, Any], rootdir: str | None) -> str:
    where = f"{short_path(event['file'], rootdir)}:{event['line']}"
    return f"{event['kind']} in {event['function']} at {where}"


def render_divergence(
    console: Console,
    nodeid: str,
    this: tuple[str, int],
    against: tuple[str, int],
    report: DivergenceReport,
    sources: tuple[str | None, str | None],
    rootdir: str | None = None,
) -> None:
    """Both runs at the step where they part ways, side by side, then what differs."""
    console.print(Text(nodeid, style="bold"))
    if report.plans is not None:
        console.print(Text(f"Note: {report.plans}", style="bold yellow"))
    if report.by is None:
        console.print(
            Text(
                f"run {this[0]} (attempt {this[1]}) and run {against[0]} (attempt {against[1]})"
                " never part ways: same steps, same values"
            )
        )
        return
    console.print(Text(f"The runs part ways by {report.by}:", style="bold"))
    table = Table(box=box.SIMPLE, show_header=True)
    table.add_column("")
    for run, attempt in (this, against):
        table.add_column(f"run {run} (attempt {attempt})", overflow="fold", ratio=1)
    sides = (report.this, report.against)
    table.add_row("step", *(_step_text(state) for state in sides))
    table.add_row("event", *(_event_text(state, rootdir) for state in sides))
    table.add_row(
        "source",
        *(_source_line(state, source) for state, source in zip(sides, sources, strict=True)),
    )
    table.add_row(
        "stack",
        *(
            Text(" → ".join(frame["function"] for frame in state.stack) if state else "")
            for state in sides
        ),
    )
    console.print(table)
    if report.this is not None and report.against is not None:
        _render_changes(
            console, report.changes, report.omitted, f"run {this[0]}", f"run {against[0]}"
        )
        _render_cut(console, report.cut)
        _render_set_aside(console, report.set_aside)


def _step_text(state: State | None) -> Text:
    if state is None:
        return Text("(this run had already ended)", style="dim")
    return Text(f"{state.step} of {state.steps}")


def _event_text(state: State | None, rootdir: str | None) -> Text:
    if state is None:
        return Text("")
    event = state.event
    where = f"{short_path(event['file'], rootdir)}:{event['line']}"
    return Text(f"{event['kind']} in {event['function']} at {where}")


def _source_line(state: State | None, source: str | None) -> Text:
    if state is None or source is None:
        return Text("")
    lines = source.splitlines()
    line = int(state.event["line"])
    return Text(lines[line - 1].strip() if 0 < line <= len(lines) else "")


def _render_changes(
    console: Console, changes: list[dict[str, Any]], omitted: int, this: str, against: str
) -> None:
    """One row per change record: where, this run's value, the other run's value."""
    if not changes:
        console.print(
            Text("no differences in the stack, locals, watched objects, exception or value")
        )
        return
    table = Table(title="Differences", title_justify="left", box=box.SIMPLE)
    table.add_column("where", overflow="fold")
    table.add_column(this, overflow="fold", ratio=1)
    table.add_column(against, overflow="fold", ratio=1)
    for change in changes:
        where = (
            change["path"] if change["frame"] is None else f"{change['frame']}: {change['path']}"
        )
        mine, theirs = _changed_values(change)
        table.add_row(Text(where), mine, theirs)
    console.print(table)
    if omitted:
        console.print(
            Text(f"({omitted} more differences; see --assertion-temporaries)", style="dim")
        )


def _render_cut(console: Console, cut: list[str]) -> None:
    """Where the comparison stopped short of the end: there may be more differences."""
    if cut:
        console.print(
            Text(
                f"(the comparison stopped at its limit of {MAX_DEEPDIFF_NODES} values in"
                f" {', '.join(cut)}: more may differ there)",
                style="dim",
            )
        )


_REASONS: Final = {
    ADDRESS: "addresses, which change with every run",
    HASH: "hashes, which change with every run unless PYTHONHASHSEED is set",
    REDACTED: "redacted in one run only",
    TRUNCATED_SET: "elements kept of sets cut short at the same size (iteration order decides)",
}
_SET_ASIDE_NAMED: Final = 5  # places named for each reason


def _render_set_aside(console: Console, set_aside: list[dict[str, Any]]) -> None:
    """The differences the comparison did not count, by reason (``replay.comparing.noise``)."""
    places: dict[str, list[str]] = {}
    for record in set_aside:
        place = (
            record["path"] if record["frame"] is None else f"{record['frame']}: {record['path']}"
        )
        places.setdefault(record["reason"], []).append(place)
    for reason, where in places.items():
        named = ", ".join(where[:_SET_ASIDE_NAMED])
        more = f" and {len(where) - _SET_ASIDE_NAMED} more" if len(where) > _SET_ASIDE_NAMED else ""
        console.print(
            Text(
                f"(set aside, not differences: {len(where)} value(s) that are"
                f" {_REASONS.get(reason, reason)}: {named}{more})",
                style="dim",
            )
        )


def _changed_values(change: dict[str, Any]) -> tuple[Text, Text]:
    """The two sides of a change, the side that lacks the place shown as absent."""
    absent = Text("(absent)", style="dim")
    mine = Text(format_value(change["this"]), style="bold yellow")
    theirs = Text(format_value(change["against"]), style="bold green")
    if change["change"] == "added":
        return mine, absent
    if change["change"] == "removed":
        return absent, theirs
    return mine, theirs


class TextView:
    """``scope-replay``'s text output: each method renders on ``console``."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def runs(self, runs: list[tuple[Path, dict[str, Any]]]) -> None:
        rows: list[list[str | Text]] = []
        for path, facts in runs:
            if "error" in facts:
                rows.append([Text(path.stem), "", "", Text(f"unreadable: {facts['error']}")])
            else:
                counts = [str(facts["tests"]), str(facts["failed"])]
                rows.append([Text(path.stem), *counts, Text(str(path))])
        _print_listing(
            self.console, "Runs (newest first)", ("run", "tests", "failed", "file"), rows
        )

    def tests(self, run: str, tests: list[RecordedTest]) -> None:
        rows: list[list[str | Text]] = []
        for test in tests:
            incomplete = f"  (incomplete: {test.incomplete})" if test.incomplete else ""
            rows.append(
                [
                    Text(test.outcome, style="red" if test.outcome == "failed" else ""),
                    str(test.attempt),
                    f"{test.steps:,}",
                    f"{test.dropped_steps:,}",
                    Text(test.nodeid + incomplete),
                ]
            )
        columns = ("outcome", "attempt", "steps", "dropped", "test")
        _print_listing(self.console, f"Tests of run {run}", columns, rows)

    def timeline(
        self,
        nodeid: str,
        rows: list[dict[str, Any]],
        rootdir: str | None,
        marks: dict[int, str],
    ) -> None:
        render_timeline(self.console, nodeid, rows, rootdir, marks)

    def state(
        self,
        state: State,
        source: str | None,
        rootdir: str | None,
        diff: StateDiff | None,
        note: str | None,
        assertion_temporaries: bool,
    ) -> None:
        """The state, then the diff from the recording compared with, or why there is none."""
        render_state(self.console, state, source, rootdir, assertion_temporaries)
        if diff is not None:
            render_diff(self.console, state, diff, rootdir)
        elif note is not None:
            self.console.print()
            self.console.print(Text(note, style="dim"))

    def divergence(
        self,
        nodeid: str,
        this: tuple[str, int],
        against: tuple[str, int],
        report: DivergenceReport,
        sources: tuple[str | None, str | None],
        rootdir: str | None,
    ) -> None:
        render_divergence(self.console, nodeid, this, against, report, sources, rootdir)

    def history(self, document: dict[str, Any], rootdir: str | None) -> None:
        render_history(self.console, document, rootdir)


def render_history(console: Console, document: dict[str, Any], rootdir: str | None) -> None:
    """The text form of ``history_document``: one block per change, oldest first. Output
    that is not a terminal (a pipe, a CI log) keeps each line whole, for ``grep``."""
    whole = not console.is_terminal
    held = "watched" if document["frame"] is None else f"in {document['frame']}"
    following = document["follows"] == FOLLOWS_OBJECT
    if following:
        held = f"the object {held}, in every frame that holds it"
    count = len(document["changes"])
    title = f"history of {document['path']} ({held}): {count} change(s)"
    console.print(Text(title, style="bold"), soft_wrap=whole)
    for change in document["changes"]:
        old = "(absent)" if change["change"] == APPEARED else format_value(change["old"])
        new = "(absent)" if change["change"] == DISAPPEARED else format_value(change["new"])
        line = Text(f"step {change['step']}: ", style="bold") + Text(f"{old} → {new}")
        if following:
            line += Text(f"  ({seen_text(change['seen'])})", style="italic")
        console.print(line, soft_wrap=whole)
        by = change["by"]
        if by is not None:
            where = f"{short_path(by['file'], rootdir)}:{by['line']}"
            text = f"    after step {by['after_step']}, in {by['function']} at {where}"
            if by["source"]:
                text += f": {by['source']}"
            console.print(Text(text, style="dim"), soft_wrap=whole)
