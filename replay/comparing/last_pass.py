"""Finding the recording to compare a test with: its last passing one, or one in a named run.

"Last passing" is relative to the recording shown, not to today: a failing attempt is
compared with a later passing attempt of the same run (a flaky test under
``--reruns``), else with the newest passing recording in the runs older than its own.
Runs are small SQLite files and ``tests`` has an index on ``nodeid``, so asking each
kept run costs one query; retention keeps every test's latest pass on disk.

A test is known by its place in the project, not by its node id alone: pytest writes node
ids relative to its rootdir, and a run whose rootdir was a directory above (an argument
that moved it) writes ``proj/tests/test_x.py::test_a`` where another wrote
``tests/test_x.py::test_a``. Two ids name one test when they are equal, or when one is the
other with a path in front and the other's rootdir ends with that path (``same_test``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pytest_scope.errors import NotFoundError, TraceFileError
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.scope_dir import RUN_TIME, ScopeDir, run_files, run_order
from replay.comparing.plans import plan_of, same_plan

LAST_PASS = "last-pass"


def last_pass(
    runs: list[Path], shown_path: Path, shown: RecordedTest
) -> tuple[TraceFile, RecordedTest] | None:
    """The newest passing recording of ``shown``'s test other than ``shown`` itself.

    ``runs`` is newest first; only ``shown_path`` and the runs after it in that list are
    searched. A file outside ``runs`` (a CI artifact) is searched, then every run. An
    unreadable older run is passed over: it must not hide the newer ones' state. A pass
    recorded under the same plan (``replay.comparing.plans``) is taken where one is kept, however
    old; else the newest pass of another plan. The caller closes the returned file.
    """

    def passed(test: RecordedTest, own_run: bool) -> bool:
        return test.outcome == "passed" and not (own_run and test.id == shown.id)

    return _newest(runs, shown_path, shown, passed, same_plan_only=True) or _newest(
        runs, shown_path, shown, passed
    )


def last_failure(
    runs: list[Path], shown_path: Path, shown: RecordedTest
) -> tuple[TraceFile, RecordedTest] | None:
    """The newest failed recording of ``shown``'s test before ``shown``: an earlier attempt
    in its run (a flaky test), else one in an older run. What a passing test's divergence
    explains. The caller closes the returned file."""
    return _newest(
        runs,
        shown_path,
        shown,
        lambda test, own_run: test.outcome == "failed" and not (own_run and test.id > shown.id),
    )


def _newest(
    runs: list[Path],
    shown_path: Path,
    shown: RecordedTest,
    wanted: Callable[[RecordedTest, bool], bool],
    same_plan_only: bool = False,
) -> tuple[TraceFile, RecordedTest] | None:
    """The newest recording of ``shown``'s test that is ``wanted`` (given whether it is in
    ``shown``'s own run), searched as ``last_pass`` says.

    A file of recordings copied from several runs (an exported baseline) orders as the
    newest of them, and holds older ones: its recording is kept only if no run between its
    own run and the file has one."""
    resolved = [path.resolve() for path in runs]
    here = shown_path.resolve()
    shown_root: str | None = None
    shown_plan: dict[str, Any] | None = None
    older = runs[resolved.index(here) + 1 :] if here in resolved else runs
    best: tuple[TraceFile, RecordedTest, str] | None = None
    for position, path in enumerate([shown_path, *older]):
        if best is not None and _file_started(path) <= best[2]:
            break
        try:
            trace = TraceFile(path)
        except TraceFileError:
            if position == 0:
                raise
            continue
        try:
            tests = trace.tests()
        except TraceFileError:
            trace.close()
            if position == 0:
                raise
            continue
        if position == 0:
            shown_root = trace.meta_of(shown).get("rootdir")
            shown_plan = plan_of(trace, shown)
        found = [
            test
            for test in tests
            if _same_test(trace, test, shown.nodeid, shown_root)
            and test.first_step <= test.steps  # some steps recorded
            and wanted(test, position == 0)
            and (not same_plan_only or same_plan(plan_of(trace, test), shown_plan))
        ]
        if found and position == 0:
            return trace, found[-1]
        started = _run_started(trace, found[-1]) if found else ""
        if found and (best is None or started > best[2]):
            if best is not None:
                best[0].close()
            best = trace, found[-1], started
        else:
            trace.close()
    return None if best is None else (best[0], best[1])


def same_test(nodeid: str, rootdir: str | None, other: str, other_rootdir: str | None) -> bool:
    """Whether two node ids, each with the rootdir it is relative to, name one test (the
    module docstring)."""
    return nodeid == other or _below(nodeid, other, other_rootdir) or _below(other, nodeid, rootdir)


def _below(longer: str, shorter: str, shorter_rootdir: str | None) -> bool:
    """Whether ``longer`` is ``PREFIX/shorter`` and ``shorter``'s rootdir ends with PREFIX."""
    if shorter_rootdir is None or not longer.endswith("/" + shorter):
        return False
    prefix = [part for part in longer[: -len(shorter) - 1].split("/") if part]
    root = [part for part in shorter_rootdir.replace("\\", "/").split("/") if part]
    return bool(prefix) and ".." not in prefix and root[-len(prefix) :] == prefix


def _same_test(trace: TraceFile, test: RecordedTest, nodeid: str, rootdir: str | None) -> bool:
    if test.nodeid == nodeid:
        return True
    if not (test.nodeid.endswith("/" + nodeid) or nodeid.endswith("/" + test.nodeid)):
        return False  # the cheap test first: the rootdir is in the run's meta
    return same_test(test.nodeid, trace.meta_of(test).get("rootdir"), nodeid, rootdir)


def _file_started(path: Path) -> str:
    try:
        return run_order(path)[0]
    except OSError:  # pruned meanwhile
        return ""


def _run_started(trace: TraceFile, test: RecordedTest) -> str:
    """When the run of ``test`` started, as ``run_order`` tells it (``%Y%m%d-%H%M%S``)."""
    if test.origin is None:
        return _file_started(trace.path)
    run_id = trace.run_id_of(test)
    return run_id[:15] if RUN_TIME.match(run_id) else _file_started(trace.path)


def in_run(path: Path, nodeid: str, rootdir: str | None = None) -> tuple[TraceFile, RecordedTest]:
    """The test ``nodeid`` (relative to ``rootdir``) in one run: its last passing attempt,
    else its last attempt."""
    trace = TraceFile(path)
    attempts = [test for test in trace.tests() if _same_test(trace, test, nodeid, rootdir)]
    if not attempts:
        trace.close()
        raise NotFoundError(f"run {trace.run_id} did not record {nodeid}; pick another --against")
    passed = [test for test in attempts if test.outcome == "passed"]
    return trace, (passed or attempts)[-1]


def baseline_runs(places: Iterable[Path]) -> list[Path]:
    """The trace files in each place given as a baseline: a ``.sqlite`` file, a scope
    directory (its ``runs/``) or a directory of trace files, such as one restored from a
    CI cache. A place that does not exist holds none: the first build has no cache yet."""
    found: list[Path] = []
    for place in places:
        if place.is_file():
            found.append(place)
        elif place.is_dir():
            runs = ScopeDir(place).runs_dir
            found.extend(run_files(runs if runs.is_dir() else place))
    return found


def newest_first(paths: Iterable[Path]) -> list[Path]:
    """Runs from anywhere (the scope directory, baselines) in one order, newest first, so
    that the newest pass wins wherever it is; a file reached twice counts once."""
    unique = {path.resolve(): path for path in paths}
    return sorted(unique.values(), key=run_order, reverse=True)


def describe(trace: TraceFile, test: RecordedTest, file: str | None = None) -> str:
    """Which build a recording comes from: ``run R attempt 1 (commit C on main), FILE``
    (``file``: the trace file's path as the reader knows it)."""
    meta = trace.meta_of(test)
    build = meta.get("git_commit", "")[:12]
    branch = meta.get("git_branch")
    if build and branch:
        build += f" on {branch}"
    where = f" (commit {build})" if build else ""
    return f"run {trace.run_id_of(test)} attempt {test.attempt}{where}, {file or trace.path}"


def recorded_baselines(trace: TraceFile) -> list[Path]:
    """The trace files of the baselines the run of ``trace`` was given (``--scope-baseline``,
    kept in its meta), as they are now; a meta value that is not a list of paths is none."""
    try:
        places = json.loads(trace.meta.get("baselines", "[]"))
    except ValueError:
        return []
    if not isinstance(places, list):
        return []
    return baseline_runs(Path(place) for place in places if isinstance(place, str))
