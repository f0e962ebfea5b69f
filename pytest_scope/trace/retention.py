"""Bounded disk for the scope directory: the last runs, every test's latest pass, a budget.

Comparing a failure with the test's last passing recording only works if that recording
is still on disk, however many runs ago it was made; so besides the newest runs,
retention keeps every run that holds some test's latest pass. The *last-pass index*
(``last-pass.json``: node id -> run id) says which runs those are without opening every
trace file. It is a cache: a missing or unreadable index is rebuilt from the runs.
Above the disk budget the oldest runs go first, runs holding a latest pass last, the
current run never.

Several pytest processes may share a scope directory. A run another process is still
writing (its writer holds ``scope_dir.lock_path``) is neither pruned nor counted; prunes
take turns (``prune.lock``), so that each reads the index the previous one wrote. Which
files are runs, and which of them this tool named, is ``scope_dir``'s to say.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pytest_scope.trace.scope_dir import (
    ScopeDir,
    lock_path,
    recorded_run,
    remove_trace_file,
    wal_path,
)

_INDEX_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Policy:
    keep_runs: int
    max_bytes: int


@dataclass(slots=True)
class Retention:
    """What pruning did, for the end-of-run summary."""

    kept: int = 0
    kept_for_passes: int = 0  # of ``kept``, runs kept only because they hold a latest pass
    kept_bytes: int = 0
    pruned: list[str] = field(default_factory=list)
    pruned_bytes: int = 0
    lost_passes: int = 0  # tests whose latest passing recording went over the budget


def load_index(scope_dir: ScopeDir) -> dict[str, str]:
    """The index, rebuilt from the runs if it is missing or not one this version wrote."""
    try:
        document = json.loads(scope_dir.index.read_text())
        tests = document["tests"] if document["version"] == _INDEX_VERSION else None
        if isinstance(tests, dict) and all(
            isinstance(key, str) and isinstance(value, str) for key, value in tests.items()
        ):
            return tests
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return _rebuild_index(scope_dir)


def prune(
    scope_dir: ScopeDir, current_run: str, passed: Iterable[str], policy: Policy
) -> Retention:
    """Index the tests that passed in the current run, then delete the runs the policy does
    not keep; the index forgets the passes they held."""
    with _turn(scope_dir):
        return _prune(scope_dir, current_run, passed, policy)


def _prune(
    scope_dir: ScopeDir, current_run: str, passed: Iterable[str], policy: Policy
) -> Retention:
    index = {
        nodeid: run
        for nodeid, run in load_index(scope_dir).items()
        if scope_dir.run_path(run).is_file()
    }
    index.update(dict.fromkeys(passed, current_run))
    holding_passes = set(index.values())
    runs = _runs(scope_dir)
    busy = {path.stem for path in runs if path.stem != current_run and _being_written(path)}
    sizes = {path.stem: _size(path) for path in runs if path.stem not in busy}
    # The current run's xdist worker files left uncombined are the current run's too.
    current = [
        path.stem for path in runs if path.stem in sizes and recorded_run(path) == current_run
    ]
    older = [run for run in sizes if run not in current]
    recent = set(older[: max(policy.keep_runs - 1, 0)])
    kept = [run for run in older if run in recent or run in holding_passes]
    result = Retention()
    for run in older:
        if run not in kept:
            _delete(scope_dir, run, sizes[run], result)
    total = sum(sizes[run] for run in current + kept)
    # Over budget: oldest first, and runs holding a latest pass only after all others.
    for run in sorted(reversed(kept), key=lambda run: run in holding_passes):
        if total <= policy.max_bytes:
            break
        kept.remove(run)
        total -= sizes[run]
        _delete(scope_dir, run, sizes[run], result)
        result.lost_passes += sum(1 for held in index.values() if held == run)
    result.kept = len(kept) + bool(current)
    result.kept_for_passes = sum(1 for run in kept if run not in recent)
    result.kept_bytes = total
    _save_index(
        scope_dir,
        {
            nodeid: run
            for nodeid, run in index.items()
            if run in kept or run in busy or run == current_run
        },
    )
    return result


@contextmanager
def _turn(scope_dir: ScopeDir) -> Iterator[None]:
    """Wait for any other process's prune of ``scope_dir`` to end, then hold it off."""
    descriptor = os.open(scope_dir.prune_lock, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _being_written(path: Path) -> bool:
    """Whether a live writer holds the run's lock (a killed one holds nothing)."""
    try:
        descriptor = os.open(lock_path(path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _runs(scope_dir: ScopeDir) -> list[Path]:
    """The runs this tool named, newest first: files named otherwise are left alone."""
    return [path for path in scope_dir.runs() if recorded_run(path) is not None]


def _size(path: Path) -> int:
    size = 0
    for sibling in (path, wal_path(path)):
        with suppress(FileNotFoundError):  # a WAL goes when its writer closes
            size += sibling.stat().st_size
    return size


def _delete(scope_dir: ScopeDir, run: str, size: int, result: Retention) -> None:
    remove_trace_file(scope_dir.run_path(run))
    result.pruned.append(run)
    result.pruned_bytes += size


def _rebuild_index(scope_dir: ScopeDir) -> dict[str, str]:
    """Each test's newest passing run, asking every run; unreadable runs are skipped."""
    index: dict[str, str] = {}
    for path in _runs(scope_dir):
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                rows = db.execute(
                    "SELECT DISTINCT nodeid FROM tests WHERE outcome = 'passed'"
                ).fetchall()
        except (sqlite3.Error, UnicodeDecodeError):
            continue
        for (nodeid,) in rows:
            index.setdefault(str(nodeid), path.stem)
    return index


def _save_index(scope_dir: ScopeDir, index: dict[str, str]) -> None:
    """Write atomically: a run killed meanwhile leaves the old index, never half of one."""
    path = scope_dir.index
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": _INDEX_VERSION, "tests": index}, indent=1))
    os.replace(temporary, path)
