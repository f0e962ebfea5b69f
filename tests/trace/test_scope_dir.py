"""The scope directory's layout, and its one rule for what a run is."""

from __future__ import annotations

import os
from pathlib import Path

from support.tracebuilder import Recording, write_trace

from pytest_scope.trace.retention import Policy, prune
from pytest_scope.trace.schema import Kind
from pytest_scope.trace.scope_dir import (
    ScopeDir,
    is_run_file,
    lock_path,
    new_run_id,
    recorded_run,
    wal_path,
)
from replay.comparing.last_pass import baseline_runs

OLD, NEW = "20250101-000000-1", "20250102-000000-2"


def _recording() -> Recording:
    rec = Recording()
    rec.event(Kind.CALL, line=10)
    rec.event(Kind.RETURN, line=11, r=None)
    return rec


def _scope(tmp_path: Path) -> tuple[ScopeDir, dict[str, Path]]:
    """Two runs, an xdist part left uncombined, a file put there by hand, and the files
    that are not runs: what SQLite, the writer and combining leave beside a trace file."""
    scope = ScopeDir.create(tmp_path / ".scope")
    runs = {
        "old": write_trace(scope.run_path(OLD), {"t.py::a": _recording()}),
        "part": write_trace(scope.worker_path(OLD, "gw1"), {"t.py::a": _recording()}),
        "new": write_trace(scope.run_path(NEW), {"t.py::a": _recording()}),
        "foreign": write_trace(scope.runs_dir / "from-ci.sqlite", {"t.py::a": _recording()}),
    }
    for name, mtime in (("old", 100), ("part", 200), ("foreign", 0)):  # runs of one second
        os.utime(runs[name], (mtime, mtime))
    return scope, runs


def _not_runs(scope: ScopeDir, run: Path) -> list[Path]:
    others = [
        wal_path(run),
        run.with_name(run.name + "-shm"),
        lock_path(run),
        run.with_name(f"{lock_path(run).name}.123.456"),  # a lock being created
        run.with_name(run.name + ".combining"),
        scope.runs_dir / "notes.txt",
    ]
    for path in others:
        path.write_bytes(b"")
    (scope.runs_dir / "folder.sqlite").mkdir()
    return [*others, scope.runs_dir / "folder.sqlite"]


def test_runs_are_the_sqlite_files_newest_first(tmp_path: Path) -> None:
    scope, runs = _scope(tmp_path)
    others = _not_runs(scope, runs["new"])
    assert scope.runs() == [runs["new"], runs["part"], runs["old"], runs["foreign"]]
    assert not any(is_run_file(path) for path in others)
    assert baseline_runs([scope.path]) == scope.runs()


def test_retention_prunes_by_the_same_rule_the_runs_this_tool_named(tmp_path: Path) -> None:
    scope, runs = _scope(tmp_path)
    old_companions = _not_runs(scope, runs["old"])[:3]
    current = new_run_id()
    write_trace(scope.run_path(current), {"t.py::a": _recording()})
    result = prune(scope, current, [], Policy(keep_runs=2, max_bytes=2**30))
    assert sorted(result.pruned) == sorted([runs["old"].stem, runs["part"].stem])
    assert scope.runs() == [scope.run_path(current), runs["new"], runs["foreign"]]
    assert not any(path.exists() for path in old_companions)  # gone with their run
    assert (scope.runs_dir / "notes.txt").exists()


def test_run_ids_and_worker_files(tmp_path: Path) -> None:
    scope = ScopeDir(tmp_path)
    run = new_run_id()
    assert recorded_run(scope.run_path(run)) == run
    assert recorded_run(scope.worker_path(run, "gw3")) == run
    assert recorded_run(scope.runs_dir / "from-ci.sqlite") is None
    for worker in ("gw0", "gw1"):
        scope.worker_path(run, worker).parent.mkdir(exist_ok=True)
        scope.worker_path(run, worker).write_bytes(b"")
    scope.run_path(run).write_bytes(b"")
    assert scope.worker_files(run) == [scope.worker_path(run, "gw0"), scope.worker_path(run, "gw1")]


def test_a_new_scope_directory_is_marked_as_a_cache(tmp_path: Path) -> None:
    scope = ScopeDir.create(tmp_path / "traces")
    assert scope.runs_dir.is_dir()
    assert (scope.path / ".gitignore").read_text().endswith("*\n")
    assert (scope.path / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d17")
