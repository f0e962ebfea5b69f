"""The scope directory's layout, known here only (as pytest's ``Cache`` knows ``.pytest_cache``).

::

    .scope/
        .gitignore, CACHEDIR.TAG   markers: a cache, ignored by git and backups
        last-pass.json             retention's index: node id -> run id of its latest pass
        prune.lock                 held while a process prunes
        runs/
            <run id>.sqlite            a run's trace file (run ids: ``new_run_id``)
            <run id>-<worker>.sqlite   an xdist worker's part, until combined
            <file>.sqlite-wal, -shm, -journal, .lock   beside a trace file being written

A run is any regular ``*.sqlite`` file in ``runs/`` (``run_files``): a file put there by
hand or an uncombined worker part replays like any other. Retention deletes only the runs
this tool named (``recorded_run``); the files beside a run are not runs and go with it.
It imports no SQLite: the reader only when a test is looked up.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pytest_scope.errors import NotFoundError

if TYPE_CHECKING:
    from pytest_scope.trace.reader import RecordedTest, TraceFile

DEFAULT_SCOPE_DIR: Final = ".scope"
RUN_TIME: Final = re.compile(r"^\d{8}-\d{6}")  # run ids start with %Y%m%d-%H%M%S
_RECORDED_RUN: Final = re.compile(r"^(\d{8}-\d{6}-\d+)(-gw\d+)?$")
_SUFFIX: Final = ".sqlite"
# What SQLite and the writer may leave beside a trace file.
_COMPANIONS: Final = ("-wal", "-shm", "-journal", ".lock")
_MAX_CANDIDATES: Final = 5
_MARKERS: Final = {
    ".gitignore": "# Created by pytest-scope.\n*\n",
    "CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pytest-scope.\n",
}


class ScopeDir:
    """A scope directory (or a directory laid out as one, such as a CI artifact): where its
    files are, its runs newest first, and the tests recorded in them."""

    def __init__(self, path: Path | str = DEFAULT_SCOPE_DIR) -> None:
        self.path = Path(path)

    @classmethod
    def existing(cls, path: Path | str) -> ScopeDir:
        """The scope directory at ``path``, which replay needs to be there already."""
        if not Path(path).is_dir():
            raise NotFoundError(
                f"no scope directory at {path}; record with `pytest --scope` or pass --dir DIR"
            )
        return cls(path)

    @classmethod
    def create(cls, path: Path) -> ScopeDir:
        """Make the directory, marked as a cache (like pytest's .pytest_cache): ignored by
        git and backups."""
        scope_dir = cls(path)
        scope_dir.runs_dir.mkdir(parents=True, exist_ok=True)
        scope_dir.mark_as_cache()
        return scope_dir

    def mark_as_cache(self) -> None:
        """Write the markers that git (``.gitignore``) and backup tools (``CACHEDIR.TAG``)
        read, where missing."""
        for name, text in _MARKERS.items():
            marker = self.path / name
            if not marker.exists():
                marker.write_text(text)

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def index(self) -> Path:
        return self.path / "last-pass.json"

    @property
    def prune_lock(self) -> Path:
        return self.path / "prune.lock"

    def run_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}{_SUFFIX}"

    def worker_path(self, run_id: str, worker_id: str) -> Path:
        """The file an xdist worker records its part of run ``run_id`` into."""
        return self.run_path(f"{run_id}-{worker_id}")

    def worker_files(self, run_id: str) -> list[Path]:
        """The files the workers of run ``run_id`` recorded into."""
        return sorted(self.runs_dir.glob(f"{run_id}-*{_SUFFIX}"))

    def runs(self) -> list[Path]:
        """Run files under ``runs/``, newest first."""
        return run_files(self.runs_dir)

    def run(self, run: str) -> Path:
        """A run by its id (the file's stem) or by the path of its file."""
        candidate = Path(run)
        if candidate.suffix == _SUFFIX:
            return _existing_file(candidate)
        runs = self.runs()
        for path in runs:
            if path.stem == run:
                return path
        recent = ", ".join(path.stem for path in runs[:_MAX_CANDIDATES]) or "none"
        raise NotFoundError(f"no run {run!r} in {self.runs_dir} (newest: {recent})")

    def newest(self) -> Path:
        return self.recorded_runs()[0]

    def recorded_runs(self) -> list[Path]:
        """``runs()``, which must find at least one."""
        runs = self.runs()
        if not runs:
            raise NotFoundError(f"no runs in {self.runs_dir}; record some with `pytest --scope`")
        return runs

    def find_test(self, test_id: str, run: str | None = None) -> tuple[TraceFile, RecordedTest]:
        """The test ``test_id`` names, in ``run`` or in the newest run that has it."""
        from pytest_scope.trace.reader import find_test

        if run is not None:
            return find_test([self.run(run)], test_id, where=f"run {run}")
        return find_test(self.recorded_runs(), test_id, where=f"the runs in {self.path}")


def new_run_id() -> str:
    """A run's id: its start time, then the process id for runs of the same second."""
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"


def is_run_file(path: Path) -> bool:
    """The one rule for what a run is: a regular ``*.sqlite`` file."""
    return path.suffix == _SUFFIX and path.is_file()


def run_files(directory: Path) -> list[Path]:
    """The runs in ``directory``, newest first."""
    ordered = []
    for path in directory.glob(f"*{_SUFFIX}"):
        try:
            if is_run_file(path):
                ordered.append((run_order(path), path))
        except FileNotFoundError:  # pruned by a pytest run meanwhile
            continue
    return [path for _, path in sorted(ordered, reverse=True)]


def recorded_run(path: Path) -> str | None:
    """The id of the run ``path`` holds (of the whole run, for a worker's part), if this tool
    named it; None for a file named otherwise, which retention leaves alone."""
    named = _RECORDED_RUN.match(path.stem)
    return named.group(1) if named else None


def run_order(path: Path) -> tuple[str, float]:
    """Run ids begin with their start time; files named otherwise sort by mtime."""
    mtime = path.stat().st_mtime
    named = RUN_TIME.match(path.stem)
    started = named.group() if named else time.strftime("%Y%m%d-%H%M%S", time.localtime(mtime))
    return started, mtime


def lock_path(trace_file: Path) -> Path:
    """The file a trace file's writer holds locked while it writes."""
    return trace_file.with_name(trace_file.name + ".lock")


def wal_path(trace_file: Path) -> Path:
    return trace_file.with_name(trace_file.name + "-wal")


def remove_trace_file(path: Path) -> None:
    """Delete a trace file and what SQLite and its writer may have left beside it."""
    for suffix in ("", *_COMPANIONS):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def _existing_file(path: Path) -> Path:
    """A run named by its file: a typo in the path is reported as such, not as a run id."""
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "no such file"
        raise NotFoundError(f"{path}: {problem}; pass a run's .sqlite file or a run id")
    return path


def run_file(run: str, scope_dir: Callable[[], ScopeDir]) -> Path:
    """``--run``/``--against``: the path of a .sqlite file (no scope directory needed) or a
    run id, looked up in the scope directory ``scope_dir`` finds."""
    candidate = Path(run)
    if candidate.suffix == _SUFFIX:
        return _existing_file(candidate)
    return scope_dir().run(run)
