"""``scope-replay``: show the recorded state of a test at any step, its timeline, runs and tests.

Every problem a user can cause or meet (bad options, unknown test, step out of range,
missing directory, corrupt or foreign trace file) is one line on stderr and exit code 2,
never a traceback. rich is imported only for text output, so ``--format json`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from pytest_scope.errors import NotFoundError, ScopeError, TraceFileError
from replay.json_view import dumps, runs_document, state_document, tests_document
from replay.state import failure_step, state_at, timeline
from replay.tracefile import DEFAULT_SCOPE_DIR, RecordedTest, ScopeDir, TraceFile, find_test

if TYPE_CHECKING:
    from rich.console import Console

PROG = "scope-replay"


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
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json for scripts",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        type=Path,
        help=f"the scope directory (default: {DEFAULT_SCOPE_DIR} here or in a parent directory)",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--timeline", action="store_true", help="list the steps of TEST_ID")
    what.add_argument("--list", action="store_true", help="list the tests of a run")
    what.add_argument("--runs", action="store_true", help="list the runs, newest first")
    return parser


def _step_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a step number") from None


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if (args.list or args.runs) and (args.test_id or args.step is not None):
            raise _UsageError("--list and --runs take no TEST_ID or --step")
        if not (args.list or args.runs or args.test_id):
            raise _UsageError(f"give a TEST_ID, --list or --runs (see {PROG} --help)")
        if args.timeline and args.step is not None:
            raise _UsageError("--timeline lists every step; leave out --step")
        _run(args)
    except (_UsageError, ScopeError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.runs:
        runs = []
        for path in _scope_dir(args).runs():
            runs.append((path, _run_facts(path)))
        _output(args, runs_document(runs), lambda view, console: view.render_runs(console, runs))
        return
    if args.list:
        path = _run_file(args) if args.run else _scope_dir(args).newest()
        with TraceFile(path) as trace:
            tests = trace.tests()
            run_id = trace.run_id
        _output(
            args,
            tests_document(run_id, tests),
            lambda view, console: view.render_tests(console, run_id, tests),
        )
        return
    if args.run:
        paths, where = [_run_file(args)], f"run {args.run}"
    else:
        scope_dir = _scope_dir(args)
        paths = [scope_dir.newest(), *scope_dir.runs()[1:]]
        where = f"the {len(paths)} run(s) in {scope_dir.path}"
    trace, test = find_test(paths, args.test_id, where=where)
    with trace:
        _show_test(args, trace, test)


def _show_test(args: argparse.Namespace, trace: TraceFile, test: RecordedTest) -> None:
    rootdir = trace.meta.get("rootdir")
    if args.timeline:
        rows = timeline(trace, test)
        _output(
            args,
            rows,
            lambda view, console: view.render_timeline(console, test.nodeid, rows, rootdir),
        )
        return
    step = args.step if args.step is not None else failure_step(trace, test)
    state = state_at(trace, test, step)
    source = trace.source(state.event["file"])
    _output(
        args,
        state_document(state),
        lambda view, console: view.render_state(console, state, source, rootdir),
    )


def _output(
    args: argparse.Namespace, document: Any, render: Callable[[ModuleType, Console], None]
) -> None:
    """JSON straight out; text through rich, imported only now."""
    if args.format == "json":
        print(dumps(document))
        return
    from rich.console import Console

    from replay import text_view

    render(text_view, Console(highlight=False))


def _scope_dir(args: argparse.Namespace) -> ScopeDir:
    if args.dir is not None:
        return ScopeDir(args.dir)
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / DEFAULT_SCOPE_DIR).is_dir():
            return ScopeDir(directory / DEFAULT_SCOPE_DIR)
    raise NotFoundError(
        f"no {DEFAULT_SCOPE_DIR} directory in {here} or its parents; record with "
        "`pytest --scope`, or pass --dir DIR"
    )


def _run_file(args: argparse.Namespace) -> Path:
    """``--run``: the path of a .sqlite file (no scope directory needed) or a run id."""
    candidate = Path(args.run)
    if candidate.suffix == ".sqlite" and candidate.is_file():
        return candidate
    return _scope_dir(args).run(args.run)


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
