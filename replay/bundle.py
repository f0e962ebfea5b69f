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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rich.progress import Progress

from pytest_scope.codec import unpack_chunk
from pytest_scope.errors import TraceFileError
from pytest_scope.writer import Chunk, TestRecord, TraceWriter
from replay.compare import DivergenceReport, Recorded
from replay.history import describe, last_pass
from replay.html_view import export_viewer
from replay.state import failure_step, state_at
from replay.tracefile import RecordedTest, ScopeDir, TraceFile

MANIFEST: Final = ".pytest-scope-artifacts"
DEFAULT_BUDGET_MB: Final = 2
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_INDEX_CHANGES: Final = 3  # changed values the index shows of a first divergence
_VALUE_CHARS: Final = 60


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
        runs_dir = directory / "runs"
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
                    _copy(trace_file, tests, target, budget_bytes)
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


def export_baseline(runs: list[Path], directory: Path, budget_bytes: int) -> Bundle:
    """Each test's latest passing recording in ``runs`` (newest first), for a CI cache.

    The recordings are trimmed like the artifacts' and written under ``directory/runs``, one
    trace file per run that holds some, with that run's id and meta (its commit and branch):
    after a green run that is one file. ``directory`` is then a baseline for
    ``--scope-baseline`` and a scope directory for ``scope-replay --dir``. What an earlier
    export left there (its manifest) is replaced; nothing else is touched.
    """
    _remove_previous(directory)
    bundle = Bundle(directory)
    seen: set[str] = set()
    latest: dict[Path, list[RecordedTest]] = {}
    for path in runs:
        try:
            with TraceFile(path) as trace:
                tests = trace.tests()
        except TraceFileError:
            continue  # an unreadable run must not stop the export of the others
        passes = {
            test.nodeid: test
            for test in tests
            if test.outcome == "passed" and test.first_step <= test.steps
        }
        fresh = [test for nodeid, test in passes.items() if nodeid not in seen]
        seen.update(passes)
        if fresh:
            latest[path] = fresh
    try:
        for source, tests in latest.items():
            target = directory / "runs" / source.name
            bundle.files.append(target)
            with TraceFile(source) as trace:
                _copy(trace, tests, target, budget_bytes)
            mtime = source.stat().st_mtime
            os.utime(target, (mtime, mtime))
    finally:
        _write_manifest(directory, bundle.files)
    return bundle


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
        _summary(state.exception),
        compared,
        divergence,
    )


def _divergence_text(report: DivergenceReport) -> str:
    """``step 12, by value: test_price: total 80.0 (was 90.0); ...``: the index's line."""
    if report.by is None:
        return "never parts ways with its last pass"
    step = "after it ended" if report.this is None else f"step {report.this.step}"
    changes = [
        f"{_place(change)} {_short(change['this'])} (was {_short(change['against'])})"
        for change in report.changes[:_INDEX_CHANGES]
    ]
    more = len(report.changes) + report.omitted - len(changes)
    text = f"{step}, by {report.by}"
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


def _copy(trace: TraceFile, tests: Iterable[RecordedTest], target: Path, budget: int) -> None:
    """Write ``tests`` of ``trace`` into a new trace file, each within ``budget`` bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    meta = {key: value for key, value in trace.meta.items()}
    meta["artifact"] = f"trimmed copy of {trace.path.name}"
    writer = TraceWriter(target, meta)
    try:
        for test in tests:
            chunks = _within(trace.packed_chunks(test), test, budget)
            code_nos = _codes_of(trace, chunks)
            files = set()
            for code_no in sorted(code_nos):
                code = trace.code(code_no)
                writer.add_code(code_no, code.qualname, code.filename, code.firstlineno)
                files.add(code.filename)
            for filename in sorted(files):
                text = trace.source(filename)
                if text is not None:
                    writer.add_source(filename, text)
            started, duration = trace.timing(test)
            first = chunks[0].first_step if chunks else test.steps + 1
            writer.write_test(
                TestRecord(
                    nodeid=test.nodeid,
                    attempt=test.attempt,
                    outcome=test.outcome,
                    started=started,
                    duration=duration,
                    steps=test.steps,
                    first_step=first,
                    dropped_steps=first - 1,
                    failure_step=test.failure_step,
                    incomplete=test.incomplete,
                ),
                chunks,
            )
    finally:
        writer.close()


def _within(stored: list[tuple[int, int, bytes]], test: RecordedTest, budget: int) -> list[Chunk]:
    """The newest chunks that fit ``budget``, always including the failure's chunk."""
    start = len(stored)
    total = 0
    while start > 0 and (total + len(stored[start - 1][2]) <= budget or start == len(stored)):
        start -= 1
        total += len(stored[start][2])
    failure = test.failure_step
    if failure is not None:
        for index, (first, last, _) in enumerate(stored):
            if first <= failure <= last:
                start = min(start, index)
    return [Chunk(first, last, data) for first, last, data in stored[start:]]


def _codes_of(trace: TraceFile, chunks: list[Chunk]) -> set[int]:
    code_nos: set[int] = set()
    for chunk in chunks:
        try:
            keyframe, events = unpack_chunk(chunk.data)
            for _, frames in keyframe.get("threads", ()):
                code_nos.update(frame[1] for frame in frames)
            code_nos.update(frame[1] for frame in keyframe.get("suspended", ()))
            code_nos.update(event[4] for event in events)
        except (ValueError, TypeError, IndexError) as exc:
            raise TraceFileError(trace.path, f"corrupt chunk ({exc})") from None
    return code_nos


def _summary(exception: Any) -> str:
    """``AssertionError: assert 12 == 13`` from a recorded exception value."""
    if not isinstance(exception, dict):
        return ""
    name = str(exception.get("$type", "exception"))
    attrs = exception.get("attrs")
    args = attrs.get("args") if isinstance(attrs, dict) else None
    message = args[0] if isinstance(args, list) and args else None
    if isinstance(message, dict) and message.get("$type") == "str":
        message = message.get("repr")  # a long message, cut by the recorder
    if isinstance(message, str) and message.strip():
        return f"{name}: {message.strip().splitlines()[0][:200]}"
    return name


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
    for path in (directory / "runs", directory):
        with contextlib.suppress(OSError):  # missing, or holds someone else's files
            path.rmdir()
