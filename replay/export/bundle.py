"""The CI artifact of a run: a viewer per failed test, an index, and trimmed trace files.

What someone downloads from a red build must be small and complete. The directory holds:

- ``runs/<run id>.sqlite``: the run's trace file with only its failed tests, and
  ``runs/<other run>.sqlite`` with the passing recordings they are compared with (so
  ``scope-replay TEST --dir DIR`` works there, diff included, as in the scope directory);
- ``<test>.html``: one self-contained viewer per failed test, built from those files;
- ``index.html``: the failures, with links to their viewers.

Each recording keeps its newest chunks within a byte budget (the failure is at the end),
like the ring buffer does; the steps before are marked dropped. A viewer is about 1.4
times its recording's packed chunks, so a failed test costs about 2.4 times the budget.
Files written by an earlier run are listed in a manifest and replaced; nothing else in the
directory is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rich.progress import Progress

from pytest_scope.errors import TraceFileError
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.scope_dir import ScopeDir
from replay.comparing.compare import DivergenceReport, Recorded
from replay.comparing.last_pass import describe, last_pass
from replay.export.copy_tests import copy_tests
from replay.reading.format_facts import exception_summary, exception_type
from replay.reading.state import failure_step, state_at
from replay.views.html_view import export_viewer

MANIFEST: Final = ".pytest-scope-artifacts"
DEFAULT_BUDGET_MB: Final = 2
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_INDEX_CHANGES: Final = 3  # changed values the index shows of a first divergence
_VALUE_CHARS: Final = 60
_SUMMARY_CHARS: Final = 200


@dataclass(slots=True)
class Failure:
    """A failed test in the bundle: its viewer and what the index says of it."""

    nodeid: str
    viewer: str  # file name within the bundle
    steps: int
    first_step: int
    failure_step: int | None
    exception: str
    last_pass: str | None  # which build's pass it is compared with (``history.describe``)
    divergence: str | None  # where it first parts ways with that pass, and what differs


@dataclass(slots=True)
class Bundle:
    directory: Path
    failures: list[Failure] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path in self.files if path.is_file())


def viewer_name(nodeid: str) -> str:
    """A file name for a test's viewer: readable, safe on every filesystem, unique."""
    readable = _UNSAFE.sub("_", nodeid).strip("_.")[:80] or "test"
    return f"{readable}-{hashlib.sha1(nodeid.encode()).hexdigest()[:8]}.html"


def write_bundle(
    run: Path,
    scope_runs: list[Path],
    directory: Path,
    budget_bytes: int,
    progress: Progress | None = None,
) -> Bundle:
    """The artifact of ``run`` in ``directory``; nothing (and no directory) when none failed.

    ``scope_runs`` are the scope directory's runs, newest first, searched for each failed
    test's last passing recording. A viewer takes about half a second to build: with many
    failures, ``progress`` shows how far it got.
    """
    _remove_previous(directory)
    bundle = Bundle(directory)
    with TraceFile(run) as trace:
        failed = _failed(trace)
        if not failed:
            _remove_if_empty(directory)
            return bundle
        runs_dir = ScopeDir(directory).runs_dir
        copies: dict[Path, list[RecordedTest]] = {run.resolve(): list(failed)}
        for test in failed:
            found = last_pass(scope_runs, run, test)
            if found is not None:
                with found[0] as baseline:
                    copies.setdefault(baseline.path.resolve(), []).append(found[1])
        try:
            for source, tests in copies.items():
                target = runs_dir / source.name
                bundle.files.append(target)
                with TraceFile(source) as trace_file:
                    copy_tests([(trace_file, tests)], target, budget_bytes, _copied(trace_file))
                # Runs of the same second are ordered by mtime: keep the originals' order.
                mtime = source.stat().st_mtime
                os.utime(target, (mtime, mtime))
            trimmed_runs = ScopeDir(directory).runs()
            with TraceFile(runs_dir / run.resolve().name) as trimmed:
                tests = _failed(trimmed)
                progress = progress or Progress(disable=True)
                task = progress.add_task("pytest-scope: viewers", total=len(tests))
                for test in tests:
                    bundle.failures.append(_viewer(bundle, trimmed, test, trimmed_runs))
                    progress.advance(task)
            index = directory / "index.html"
            index.write_text(index_page(trace.run_id, bundle.failures), encoding="utf-8")
            bundle.files.append(index)
        finally:
            _write_manifest(directory, bundle.files)
    return bundle


def export_baseline(
    runs: list[Path],
    directory: Path,
    budget_bytes: int,
    unreadable: list[TraceFileError] | None = None,
) -> Bundle:
    """Each test's latest passing recording in ``runs`` (newest first), for a CI cache.

    The recordings are trimmed like the artifacts' and written into one trace file,
    ``directory/runs/<newest run id>.sqlite``, which has the newest run's meta and orders
    as that run; each test keeps the provenance of the run it passed in (its run id,
    commit and branch). ``directory`` is then a baseline for ``--scope-baseline`` and a
    scope directory for ``scope-replay --dir``. What an earlier export left there (its
    manifest) is replaced; nothing else is touched. A run that cannot be read is passed
    over, its error added to ``unreadable``.
    """
    _remove_previous(directory)
    bundle = Bundle(directory)
    seen: set[str] = set()
    traces: list[tuple[TraceFile, list[RecordedTest]]] = []
    try:
        for path in runs:
            try:
                trace = TraceFile(path)
                tests = trace.tests()
            except TraceFileError as exc:  # it must not stop the export of the others
                if unreadable is not None:
                    unreadable.append(exc)
                continue
            passes = {
                test.nodeid: test
                for test in tests
                if test.outcome == "passed" and test.first_step <= test.steps
            }
            fresh = [test for nodeid, test in passes.items() if nodeid not in seen]
            seen.update(passes)
            if fresh:
                traces.append((trace, fresh))
            else:
                trace.close()
        if traces:
            newest, first = traces[0][0], traces[0][1][0]
            target = ScopeDir(directory).run_path(newest.run_id_of(first))
            bundle.files.append(target)
            copy_tests(traces, target, budget_bytes, _copied(newest, first))
            mtime = newest.path.stat().st_mtime  # orders as the newest run it holds
            os.utime(target, (mtime, mtime))
    finally:
        for trace, _ in traces:
            trace.close()
        _write_manifest(directory, bundle.files)
    return bundle


def _copied(trace: TraceFile, test: RecordedTest | None = None) -> dict[str, str]:
    """The meta of a file of recordings copied from ``trace`` (from ``test``'s run)."""
    meta = trace.meta if test is None else trace.meta_of(test)
    return meta | {"artifact": f"trimmed copy of {trace.path.name}"}


def _failed(trace: TraceFile) -> list[RecordedTest]:
    """Tests whose last attempt failed and kept some steps."""
    last: dict[str, RecordedTest] = {}
    for test in trace.tests():
        last[test.nodeid] = test
    return [
        test
        for test in last.values()
        if test.outcome == "failed" and test.steps >= 1 and test.first_step <= test.steps
    ]


def _viewer(bundle: Bundle, trace: TraceFile, test: RecordedTest, runs: list[Path]) -> Failure:
    name = viewer_name(test.nodeid)
    path = bundle.directory / name
    found = last_pass(runs, trace.path, test)
    against = None
    compared = divergence = None
    if found is not None:
        against = Recorded(*found)
        compared = describe(*found, os.path.relpath(found[0].path, bundle.directory))
    try:
        _, comparison = export_viewer(path, trace, test, None, against)
        if comparison.divergence is not None:
            divergence = _divergence_text(comparison.divergence)
    finally:
        if found is not None:
            found[0].close()
    bundle.files.append(path)
    state = state_at(trace, test, failure_step(trace, test))
    return Failure(
        test.nodeid,
        name,
        test.steps,
        test.first_step,
        test.failure_step,
        _exception_cell(state.exception),
        compared,
        divergence,
    )


def _divergence_text(report: DivergenceReport) -> str:
    """``step 12, by value: test_price: total 80.0 (was 90.0); ...``: the index's line,
    after a note where the recordings' plans differ."""
    note = "" if report.plans is None else f"({report.plans}) "
    if report.by is None:
        return note + "never parts ways with its last pass"
    step = "after it ended" if report.this is None else f"step {report.this.step}"
    changes = [
        f"{_place(change)} {_short(change['this'])} (was {_short(change['against'])})"
        for change in report.changes[:_INDEX_CHANGES]
    ]
    more = len(report.changes) + report.omitted - len(changes)
    text = f"{note}{step}, by {report.by}"
    if changes:
        text += ": " + "; ".join(changes) + (f"; and {more} more" if more > 0 else "")
    return text


def _place(change: dict[str, Any]) -> str:
    return change["path"] if change["frame"] is None else f"{change['frame']}: {change['path']}"


def _short(value: Any) -> str:
    """A recorded value in a few characters, as the index shows it."""
    if isinstance(value, dict) and "$type" in value:
        text = str(value.get("repr", value["$type"]))
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _exception_cell(exception: Any) -> str:
    """``AssertionError: assert 12 == 13``: the index's line for the failure's exception."""
    text = exception_summary(exception) or exception_type(exception) or ""
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def index_page(run_id: str, failures: list[Failure]) -> str:
    """The index: static HTML, every recorded string escaped, no script at all."""
    rows = []
    for failure in failures:
        link = urllib.parse.quote(failure.viewer)
        kept = (
            f"{failure.steps:,} steps"
            if failure.first_step <= 1
            else f"steps {failure.first_step:,}-{failure.steps:,} of {failure.steps:,}"
        )
        rows.append(
            "<tr>"
            f'<td><a href="{html.escape(link)}">{html.escape(failure.nodeid)}</a></td>'
            f"<td>{html.escape(failure.exception)}</td>"
            f"<td>{failure.failure_step or ''}</td>"
            f"<td>{kept}</td>"
            f"<td>{html.escape(failure.last_pass or 'none found: no diff')}</td>"
            f"<td>{html.escape(failure.divergence or '')}</td>"
            "</tr>"
        )
    table = "\n".join(rows) or '<tr><td colspan="6">No recorded test failed.</td></tr>'
    return _INDEX.format(run=html.escape(run_id), count=len(failures), rows=table)


_INDEX: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>pytest-scope: failed tests of run {run}</title>
<style>
body {{ font: 14px/1.5 system-ui, sans-serif; margin: 2em; color: #1d1f21; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
td:first-child {{ font-family: ui-monospace, monospace; word-break: break-all; }}
code {{ background: #f3f3f3; padding: 1px 4px; }}
</style>
</head>
<body>
<h1>Failed tests of run {run}</h1>
<p>{count} failed test(s) recorded by pytest-scope. Open a test to step through its recording;
or replay it in a terminal from this directory: <code>scope-replay TEST_ID --dir .</code></p>
<table>
<tr><th>test</th><th>exception</th><th>failure step</th><th>recorded</th>
<th>last pass compared with (baseline)</th><th>first divergence</th></tr>
{rows}
</table>
</body>
</html>
"""


def _remove_previous(directory: Path) -> None:
    """Delete what the last bundle written here listed, and nothing outside ``directory``."""
    manifest = directory / MANIFEST
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    root = directory.resolve()
    for name in listed if isinstance(listed, list) else []:
        path = (directory / str(name)).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()
    manifest.unlink()


def _write_manifest(directory: Path, files: list[Path]) -> None:
    if not files:
        return
    names = [str(path.relative_to(directory)) for path in files]
    (directory / MANIFEST).write_text(json.dumps(names, indent=1), encoding="utf-8")


def _remove_if_empty(directory: Path) -> None:
    for path in (ScopeDir(directory).runs_dir, directory):
        with contextlib.suppress(OSError):  # missing, or holds someone else's files
            path.rmdir()
