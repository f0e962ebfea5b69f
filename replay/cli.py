"""``scope-replay``: show the recorded state of a test at any step, its timeline, runs and tests.

Every problem a user can cause or meet (bad options, unknown test, step out of range,
missing directory, corrupt or foreign trace file) is one line on stderr and exit code 2,
never a traceback. rich is imported only for text output, so ``--format json`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pytest_scope.errors import NotFoundError, ScopeError, TraceFileError
from pytest_scope.trace.reader import RecordedTest, TraceFile, find_test
from pytest_scope.trace.scope_dir import DEFAULT_SCOPE_DIR, ScopeDir, run_file
from replay.comparing.compare import Recorded, compare_at, diverge
from replay.comparing.last_pass import (
    LAST_PASS,
    in_run,
    last_failure,
    last_pass,
    newest_first,
    recorded_baselines,
)
from replay.reading.cursor import Cursor
from replay.reading.format_facts import without_assertion_temporaries
from replay.reading.query import ExpressionError, parse_path
from replay.reading.state import State, failure_step, state_at, timeline
from replay.reading.value_history import history
from replay.views.json_view import JsonView

if TYPE_CHECKING:
    from replay.views.text_view import TextView

PROG = "scope-replay"
INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


class _UsageError(Exception):
    """A bad command line; reported like any other error, in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {PROG} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Replay a test recorded with `pytest --scope`: the call stack, locals, "
        "exception and return value at any step, without running the test again.",
        epilog="Exit codes: 0 success, 2 bad input (unknown test, step out of range, "
        "unreadable trace file, wrong options).",
    )
    parser.add_argument(
        "test_id",
        nargs="?",
        metavar="TEST_ID",
        help="a pytest node id, or an unambiguous part of one",
    )
    parser.add_argument(
        "--step",
        type=_step_number,
        metavar="N",
        help="the step to show (default: where the test failed, or its last step)",
    )
    parser.add_argument(
        "--run",
        metavar="RUN",
        help="a run id (see --runs) or the path of a run's .sqlite file "
        "(default: the newest run that recorded TEST_ID)",
    )
    parser.add_argument(
        "--attempt",
        type=_step_number,
        metavar="N",
        help="which attempt of a rerun test (pytest-rerunfailures) to show (default: the last)",
    )
    parser.add_argument(
        "--against",
        metavar="last-pass|RUN|none",
        help="the recording to compare with: the test's last passing one (default), its "
        "recording in run RUN (an id or a .sqlite file), or none",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json for scripts",
    )
    parser.add_argument(
        "--assertion-temporaries",
        action="store_true",
        help="show pytest's assertion temporaries (@py_assert1, @py_format6, ...) among the "
        "locals; hidden by default",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        type=Path,
        help=f"the scope directory (default: {DEFAULT_SCOPE_DIR} here or in a parent directory)",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--timeline", action="store_true", help="list the steps of TEST_ID")
    what.add_argument(
        "--diverge",
        action="store_true",
        help="show the first step where TEST_ID and the recording --against part ways",
    )
    what.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help="write a self-contained HTML viewer of TEST_ID to FILE (opens at --step, "
        "default: the failure point)",
    )
    what.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="a pdb-like prompt over the recording, from the failure point (or --step); "
        "steps backwards too (help at the prompt lists the commands)",
    )
    what.add_argument(
        "--history",
        metavar="PATH",
        help="every step at which the value at PATH (a local, self.items[3]) changed, in the "
        "frame of the failure point (or --step) or its nearest caller holding it",
    )
    what.add_argument(
        "--dap",
        action="store_true",
        help="serve the Debug Adapter Protocol on stdio, for an editor to step through "
        "TEST_ID (or the test its launch configuration names), backwards too",
    )
    parser.add_argument(
        "--dap-port",
        type=_port_number,
        metavar="PORT",
        help="with --dap: listen on 127.0.0.1:PORT instead of stdio (0: any free port)",
    )
    what.add_argument(
        "--list",
        action="store_true",
        help="list the tests of a run (default: the newest); at a terminal a table, piped "
        "one plain line a test",
    )
    parser.add_argument(
        "--failed",
        action="store_true",
        help="with --list: only the tests whose last attempt failed, as the end-of-run "
        "summary lists them",
    )
    what.add_argument(
        "--export-baseline",
        metavar="DIR",
        type=Path,
        help="write each test's latest passing recording, trimmed, under DIR/runs: a "
        "baseline for a CI cache (pytest --scope-baseline=DIR); a DIR made here gets a "
        ".gitignore, one that exists is left as it is",
    )
    what.add_argument("--runs", action="store_true", help="list the runs, newest first")
    return parser


def _step_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a step number") from None


def _port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    # Runs that could not be read and were passed over: said once, in the one error line or
    # in a note after the answer.
    unreadable: list[TraceFileError] = []
    try:
        args = _parser().parse_args(argv)
        args.unreadable = unreadable
        listing = args.list or args.runs or args.export_baseline is not None
        if listing and (args.test_id or args.step is not None):
            raise _UsageError("--list, --runs and --export-baseline take no TEST_ID or --step")
        if args.failed and not args.list:
            raise _UsageError("--failed goes with --list")
        if args.dap_port is not None and not args.dap:
            raise _UsageError("--dap-port goes with --dap")
        if args.dap and args.step is not None:
            raise _UsageError("--dap stops at the failure point; go to a step from the editor")
        if args.dap:
            _serve_dap(args)
            return 0
        if not (listing or args.test_id):
            raise _UsageError(f"give a TEST_ID, --list or --runs (see {PROG} --help)")
        if args.interactive and args.format == "json":
            raise _UsageError("--interactive is a prompt for people; leave out --format json")
        if (args.timeline or args.diverge) and args.step is not None:
            raise _UsageError("--timeline and --diverge find their own steps; leave out --step")
        if (args.timeline or args.list or args.runs or args.history) and args.against is not None:
            raise _UsageError("--against compares states: use it with a step or --diverge")
        if args.diverge and args.against == "none":
            raise _UsageError("--diverge needs a recording to compare with, not --against none")
        _run(args)
        _note_passed_over(args)
    except (_UsageError, ScopeError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        if unreadable:
            message += f" (passed over {_unreadable(unreadable)})"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except RecursionError:  # json, deepdiff and rich recurse into recorded values
        print(
            f"{PROG}: error: a recorded value is nested too deeply to show; the trace file is"
            " corrupt (the recorder keeps values a few levels deep)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a prompt is up, or in a long --history
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `scope-replay ... | head` has read all it wanted
        # Python flushes stdout at exit once more: into the void, not into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.export_baseline is not None:
        _export_baseline(args)
        return
    if args.runs:
        runs = []
        for path in _scope_dir(args).runs():
            runs.append((path, _run_facts(path)))
        _view(args).runs(runs)
        return
    if args.list:
        run_id, tests = _run_tests(args)
        _view(args).tests(run_id, _last_failed(tests) if args.failed else tests)
        return
    trace, test = _find(args)
    with trace:
        _show_test(args, trace, _attempt(args, trace, test))


def _run_tests(args: argparse.Namespace) -> tuple[str, list[RecordedTest]]:
    """The run ``--list`` shows, and its tests: ``--run``'s, else the newest readable one."""
    if args.run:
        with TraceFile(run_file(args.run, lambda: _scope_dir(args))) as trace:
            return trace.run_id, trace.tests()
    scope_dir = _scope_dir(args)
    for path in scope_dir.recorded_runs():
        try:
            with TraceFile(path) as trace:
                return trace.run_id, trace.tests()
        except TraceFileError as exc:
            args.unreadable.append(exc)
    raise NotFoundError(f"no readable run in {scope_dir.runs_dir}")


def _last_failed(tests: list[RecordedTest]) -> list[RecordedTest]:
    """``--failed``: the last attempt of each test, where it failed (a test that failed and
    then passed on a rerun passed)."""
    last = {test.nodeid: test for test in tests}
    return [test for test in last.values() if test.outcome == "failed"]


def _find(args: argparse.Namespace) -> tuple[TraceFile, RecordedTest]:
    if args.run:
        paths, where = [run_file(args.run, lambda: _scope_dir(args))], f"run {args.run}"
        return find_test(paths, args.test_id, where=where)
    scope_dir = _scope_dir(args)
    paths = scope_dir.recorded_runs()
    where = f"the {len(paths)} run(s) in {scope_dir.path}"
    return find_test(paths, args.test_id, where=where, unreadable=args.unreadable)


def _note_passed_over(args: argparse.Namespace) -> None:
    """The runs passed over, in a note on stderr once the answer is out (or, for the prompt,
    before it opens); an error names them in its own line instead."""
    if args.unreadable:
        print(f"{PROG}: note: passed over {_unreadable(args.unreadable)}", file=sys.stderr)
        args.unreadable.clear()


def _unreadable(unreadable: list[TraceFileError]) -> str:
    """The runs that could not be read, each with why: a damaged file must be seen."""
    named = ", ".join(
        f"{Path(exc.filename).stem} ({str(exc).removeprefix(f'{exc.filename}: ')})"
        for exc in unreadable
    )
    return f"{len(unreadable)} unreadable run(s): {named}"


def _serve_dap(args: argparse.Namespace) -> None:
    """The DAP server; a launch request may name another test, run or scope directory."""
    from replay.interactive.dap import LaunchRequest, Loaded, serve

    def load(request: LaunchRequest) -> Loaded:
        chosen = argparse.Namespace(**vars(args))
        chosen.test_id, chosen.run, chosen.attempt = request.test, request.run, request.attempt
        chosen.against = request.against
        chosen.dir = Path(request.scope_dir) if request.scope_dir else args.dir
        trace, test = _find(chosen)
        try:
            test = _attempt(chosen, trace, test)
            return trace, test, _against(chosen, trace, test)
        except BaseException:
            trace.close()
            raise

    preset = LaunchRequest(args.test_id, args.run, args.attempt, args.against, None)
    serve(load, preset, args.dap_port)


def _export_baseline(args: argparse.Namespace) -> None:
    from replay.export.bundle import DEFAULT_BUDGET_MB, export_baseline

    scope_dir = _scope_dir(args)
    directory: Path = args.export_baseline
    if directory.resolve() == scope_dir.path.resolve():
        raise _UsageError("--export-baseline needs a directory other than the scope directory")
    # A directory made here is a cache like the scope directory: git and backups leave it
    # alone. One the user made is theirs, maybe committed on purpose: left as it is.
    made_here = not directory.exists()
    try:
        bundle = export_baseline(
            scope_dir.runs(), directory, DEFAULT_BUDGET_MB * 2**20, args.unreadable
        )
        if made_here and bundle.files:
            ScopeDir(directory).mark_as_cache()
    except OSError as exc:
        raise NotFoundError(f"cannot write {directory}: {exc.strerror}") from None
    if not bundle.files:
        raise NotFoundError(f"no passing recording in {scope_dir.path}: no baseline written")
    for path in bundle.files:
        with TraceFile(path) as trace:
            count = len(trace.tests())
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): {count} passing recording(s)")


def _attempt(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> RecordedTest:
    if args.attempt is None:
        return test
    attempts = [other for other in trace.tests() if other.nodeid == test.nodeid]
    for other in attempts:
        if other.attempt == args.attempt:
            return other
    raise NotFoundError(
        f"{test.nodeid} has attempts 1 to {len(attempts)} in run {trace.run_id}, not {args.attempt}"
    )


def _show_test(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    rootdir = trace.meta_of(test).get("rootdir")
    if args.html:
        _write_html(args, trace, test)
        return
    if args.diverge:
        _show_divergence(args, trace, test)
        return
    if args.interactive:
        _interact(args, trace, test)
        return
    if args.history is not None:
        _show_history(args, trace, test)
        return
    if args.timeline:
        rows = timeline(trace, test)
        marks = _timeline_marks(args, trace, test) if args.format == "text" else {}
        _view(args).timeline(test.nodeid, rows, rootdir, marks)
        return
    step = args.step if args.step is not None else failure_step(trace, test)
    state = state_at(trace, test, step)
    source = trace.source(state.event["file"], test)
    against = _against(args, trace, test)
    try:
        diff = None if against is None else compare_at(state, Recorded(trace, test), against)
    finally:
        if against is not None:
            against.trace.close()
    note = None
    if against is None and args.against != "none":
        note = f"no passing recording of {test.nodeid} to compare with"
        if args.format == "json":
            print(f"{PROG}: note: {note}; diff is null", file=sys.stderr)
    _view(args).state(state, source, rootdir, diff, note, args.assertion_temporaries)


def _show_divergence(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    if test.outcome == "passed" and args.attempt is None and args.against is None:
        # A passing test has nothing to explain; its last failure has, against this pass.
        failure = last_failure(_runs(args), trace.path, test)
        if failure is None:
            raise NotFoundError(
                f"{test.nodeid} passed in run {trace.run_id} and no failed recording of it is"
                " kept: there is no failure to explain; pass --against RUN to compare anyway"
            )
        with failure[0]:
            _report_divergence(args, Recorded(*failure), Recorded(trace, test))
        return
    against = _against(args, trace, test)
    if against is None:
        raise NotFoundError(
            f"no passing recording of {test.nodeid} to compare with; pass --against RUN"
        )
    with against.trace:
        _report_divergence(args, Recorded(trace, test), against)


def _report_divergence(args: argparse.Namespace, this: Recorded, against: Recorded) -> None:
    report = diverge(this, against)
    if not args.assertion_temporaries:
        report = replace(
            report,
            this=None if report.this is None else without_assertion_temporaries(report.this),
            against=(
                None if report.against is None else without_assertion_temporaries(report.against)
            ),
        )
    sides = (
        (this.trace.run_id_of(this.test), this.test.attempt),
        (against.trace.run_id_of(against.test), against.test.attempt),
    )
    sources = (_source(this, report.this), _source(against, report.against))
    _view(args).divergence(
        this.test.nodeid, *sides, report, sources, this.trace.meta_of(this.test).get("rootdir")
    )


def _timeline_marks(
    args: argparse.Namespace, trace: TraceFile, test: RecordedTest
) -> dict[int, str]:
    """The steps a reader of the timeline looks for first: the failure, and the first
    divergence from the last pass when one is kept."""
    marks = {}
    against = _against(args, trace, test)
    if against is not None:
        with against.trace:
            report = diverge(Recorded(trace, test), against)
        if report.this is not None:
            marks[report.this.step] = (
                f"first divergence from run {against.trace.run_id_of(against.test)}"
            )
    if test.failure_step is not None:
        marks[test.failure_step] = "failure"  # where both fall on one step, the failure
    return marks


def _write_html(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    from replay.views.html_view import export_viewer

    against = _against(args, trace, test)
    try:
        size, _ = export_viewer(
            args.html,
            trace,
            test,
            args.step,
            against,
            assertion_temporaries=args.assertion_temporaries,
            against_choice=args.against or LAST_PASS,
        )
    except OSError as exc:
        raise NotFoundError(f"cannot write {args.html}: {exc.strerror}") from None
    finally:
        if against is not None:
            against.trace.close()
    print(f"{args.html} ({size / 1e6:.1f} MB): open it in a browser")


def _cursor(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> Cursor:
    if args.step is not None:
        state_at(trace, test, args.step)  # the range check, with its message
    cursor = Cursor(trace, test)
    if args.step is not None:
        cursor.step = args.step
    return cursor


def _interact(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    from replay.interactive.prompt import interact

    against = _against(args, trace, test)
    try:
        with _cursor(args, trace, test) as cursor:
            _note_passed_over(args)  # before the prompt, not after it closes
            interact(cursor, against)
    finally:
        if against is not None:
            against.trace.close()


def _show_history(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    with _cursor(args, trace, test) as cursor:
        try:
            document = history(cursor, parse_path(args.history), -1)
        except ExpressionError as exc:
            raise _UsageError(f"--history: {exc}") from None
    _view(args).history(document, trace.meta_of(test).get("rootdir"))


def _source(recorded: Recorded, state: State | None) -> str | None:
    return None if state is None else recorded.trace.source(state.event["file"], recorded.test)


def _against(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> Recorded | None:
    """The recording ``--against`` names; None for ``none`` or when no pass is kept."""
    choice = args.against or LAST_PASS
    if choice == "none":
        return None
    if choice == LAST_PASS:
        runs = newest_first([*_runs(args), *recorded_baselines(trace)])
        found = last_pass(runs, trace.path, test)
        return None if found is None else Recorded(*found)
    rootdir = trace.meta_of(test).get("rootdir")
    return Recorded(*in_run(run_file(choice, lambda: _scope_dir(args)), test.nodeid, rootdir))


def _runs(args: argparse.Namespace) -> list[Path]:
    """The runs of the scope directory, newest first; none beside a lone .sqlite file."""
    try:
        return _scope_dir(args).runs()
    except NotFoundError:
        return []  # a lone .sqlite file: only its own attempts can be compared


def _view(args: argparse.Namespace) -> JsonView | TextView:
    """The view ``--format`` asks for: JSON straight out; text through rich, imported only
    now."""
    if args.format == "json":
        return JsonView()
    from rich.console import Console

    from replay.views.text_view import TextView

    return TextView(Console(highlight=False))


def _scope_dir(args: argparse.Namespace) -> ScopeDir:
    if args.dir is not None:
        return ScopeDir.existing(args.dir)
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / DEFAULT_SCOPE_DIR).is_dir():
            return ScopeDir(directory / DEFAULT_SCOPE_DIR)
    raise NotFoundError(
        f"no {DEFAULT_SCOPE_DIR} directory in {here} or its parents; record with "
        "`pytest --scope`, or pass --dir DIR"
    )


def _run_facts(path: Path) -> dict[str, Any]:
    """A line of --runs; an unreadable file is listed as such rather than stopping the list."""
    try:
        with TraceFile(path) as trace:
            tests = trace.tests()
    except TraceFileError as exc:
        return {"error": str(exc).removeprefix(f"{path}: ")}
    return {"tests": len(tests), "failed": sum(test.outcome == "failed" for test in tests)}


if __name__ == "__main__":
    raise SystemExit(main())
