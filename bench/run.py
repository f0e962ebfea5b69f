"""The benchmark: pytest-scope on real test suites, against plain pytest in the same run.

Run it with ``tox -e bench`` (or ``python bench/run.py`` in an environment with the project,
coverage and hypothesis installed). For each suite it downloads the sdist from PyPI,
installs it into the running environment, and runs the suite's tests under each
configuration, round-robin so that the machine's noise spreads over all of them:

- plain ``pytest``;
- ``--scope`` (the default plan), ``--scope-level calls``, ``--scope-level lines``;
- the floor of each: the same events and plan delivered to callbacks that record nothing
  (``scope_floor.py``);
- coverage.py with ``COVERAGE_CORE=sysmon``.

Every figure is the median of the repetitions with its min-max; ratios are taken per round
(each configuration against the plain run of the same round), then their median. Then it
replays random steps of the last recording through the replay API, and the failure point
of the longest test through the ``scope-replay`` CLI.

Then the diagnosis benchmark (``diagnosis.py``): injected bugs in real projects, and how
often the first divergence and the failure point's diff lead to them.

Options: ``--repeat N`` (or ``BENCH_REPEAT``; default 3), ``--suite NAME`` (repeatable),
``--work DIR`` (downloads and unpacked sources; default ``pytest-scope-bench`` in the
temporary directory, outside any project),
``--replays N`` random steps replayed (default 200), ``--diagnosis-only`` or
``--no-diagnosis``, and the diagnosis benchmark's own options (``--diagnosis-suite NAME``,
``--mutants N``, ``--twins N``, ...: ``diagnosis.py``).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pytest_scope.trace.reader import TraceFile
from pytest_scope.trace.schema import KIND_NAMES, Kind
from replay.reading.state import failure_step, state_at

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


@dataclass(frozen=True)
class Suite:
    """A suite measured: a release on PyPI (or the benchmark's own) and how its tests are run."""

    name: str
    version: str
    test_path: str
    note: str
    deselect: tuple[str, ...] = ()
    deselect_why: str = ""
    local: bool = False  # the benchmark's own suite, in bench/NAME (nothing to download)


SUITES = (
    Suite(
        "more-itertools",
        "11.2.1",
        "tests",
        "the stress case: generator-heavy",
        deselect=(
            "tests/test_recipes.py::PrimeFunctionTests::test_primes",
            "tests/test_more.py::TestConcurrentTee::test_concurrent_consumers",
            "tests/test_more.py::TestSerialize::test_concurrent_calls",
        ),
        deselect_why="a prime sieve and two thread-contention tests, which take most of "
        "the suite's time",
    ),
    Suite("attrs", "26.1.0", "tests", "typical: classes, slots, descriptors, metaclasses"),
    Suite(
        "marshmallow",
        "4.4.0",
        "tests",
        "class-heavy, src layout: schemas of dozens of fields, recorded as the project's "
        "code from site-packages (its tests need simplejson)",
    ),
    Suite(
        "shapes",
        "1.0",
        "tests",
        "the benchmark's own: per-step cost beside big state and deep in a recursion",
        local=True,
    ),
)


@dataclass
class Config:
    """One way of running the suite."""

    name: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    coverage: bool = False
    scope: bool = False
    floor_of: str | None = None  # the config this one is the floor of


CONFIGS = (
    Config("plain"),
    Config("scope default", ("--scope",), scope=True),
    Config("floor default", ("-p", "scope_floor", "--scope-floor", "default"),
           floor_of="scope default"),
    Config("scope calls", ("--scope", "--scope-level", "calls"), scope=True),
    Config("floor calls", ("-p", "scope_floor", "--scope-floor", "calls"),
           floor_of="scope calls"),
    Config("scope lines", ("--scope", "--scope-level", "lines"), scope=True),
    Config("floor lines", ("-p", "scope_floor", "--scope-floor", "lines"),
           floor_of="scope lines"),
    Config("coverage sysmon", env={"COVERAGE_CORE": "sysmon"}, coverage=True),
)  # fmt: skip


@dataclass
class Run:
    seconds: float
    max_rss: int  # bytes
    summary: str
    trace: Path | None = None
    trace_bytes: int = 0
    steps: int = 0
    durations: dict[str, float] = field(default_factory=dict)  # by node id, from JUnit XML
    test_steps: dict[str, int] = field(default_factory=dict)  # by node id, from the trace


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")))
    parser.add_argument("--suite", action="append", choices=[s.name for s in SUITES])
    # Outside the checkout: pytest would take its pyproject.toml for the suites' ini file.
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "pytest-scope-bench"
    )
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop a run after this many seconds; its figures become bounds",
    )
    parser.add_argument("--config", action="append", choices=[c.name for c in CONFIGS],
                        help="only these configurations (plain is always run)")  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--diagnosis-only", action="store_true")
    which.add_argument("--no-diagnosis", action="store_true")
    import diagnosis  # here: it imports this module's suites and downloads

    diagnosis.add_options(parser, prefix="diagnosis-")
    args = parser.parse_args(argv)
    console = Console(width=120)
    console.print(_machine())
    configs = [c for c in CONFIGS if c.name == "plain" or not args.config or c.name in args.config]
    for suite in SUITES:
        if args.diagnosis_only or (args.suite and suite.name not in args.suite):
            continue
        source = _install(suite, args.work.resolve(), console)
        _bench(suite, source, configs, args.repeat, args.replays, args.timeout, console)
    if not args.no_diagnosis:
        diagnosis.run(args, console)
    return 0


def _machine() -> str:
    import platform

    import coverage
    import pytest

    from pytest_scope.capture.event_path import compiled

    path = "compiled (mypyc)" if compiled() else "pure Python"
    cores = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"pytest {pytest.__version__}, coverage {coverage.__version__}, event path {path}, "
        f"{platform.platform()}, {cores} cores, {_cpu_model()}, load {load:.1f} at start"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu unknown"


def _install(suite: Suite, work: Path, console: Console) -> Path:
    """Download the sdist (once), unpack it, install it here; the unpacked source dir."""
    if suite.local:
        source = work / "src" / suite.name
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(BENCH_DIR / suite.name, source)
        return source
    downloads = work / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    stem = f"{suite.name.replace('-', '_')}-{suite.version}"
    sdists = [p for p in downloads.glob("*.tar.gz") if p.name.lower().startswith(stem.lower())]
    if not sdists:
        console.print(f"downloading {suite.name}=={suite.version} (sdist) from PyPI")
        _pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(downloads),
             f"{suite.name}=={suite.version}")  # fmt: skip
        sdists = [p for p in downloads.glob("*.tar.gz") if p.name.lower().startswith(stem.lower())]
    sdist = sdists[0]
    source = work / "src" / sdist.name.removesuffix(".tar.gz")
    if not source.is_dir():
        with tarfile.open(sdist) as archive:
            archive.extractall(work / "src", filter="data")
    console.print(f"installing {suite.name} from {sdist.name}")
    _pip("install", "--no-deps", "--force-reinstall", str(source))
    return source


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True)


def _bench(
    suite: Suite,
    source: Path,
    configs: list[Config],
    repeat: int,
    replays: int,
    timeout: float | None,
    console: Console,
) -> None:
    console.rule(f"{suite.name} {suite.version}: {suite.note}")
    if suite.deselect:
        console.print(f"deselected: {len(suite.deselect)} tests, {suite.deselect_why}:")
        for nodeid in suite.deselect:
            console.print(f"  {nodeid}")
    runs: dict[str, list[Run]] = {c.name: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="scope-bench-") as tmp:
        scratch = Path(tmp)
        for round_no in range(repeat):
            for config in configs:
                run = _run_suite(
                    suite, source, config, scratch / f"{config.name}-{round_no}", timeout
                )
                console.print(
                    f"  round {round_no + 1}/{repeat} {config.name:<16} {run.seconds:7.2f} s"
                    f"  {run.summary}",
                    highlight=False,
                )
                previous = runs[config.name][-1:] if round_no else []
                for old in previous:  # keep only the newest trace on disk
                    if old.trace is not None:
                        shutil.rmtree(old.trace.parent.parent, ignore_errors=True)
                runs[config.name].append(run)
        _report_runs(suite, configs, runs, console)
        _report_steps(configs, runs, console)
        if suite.local:
            _report_per_step(configs, runs, console)
        last = runs.get("scope default", [])
        if last and last[-1].trace is not None:
            _report_replay(last[-1].trace, source, replays, console)


def _command(suite: Suite, config: Config, scope_dir: Path) -> list[str]:
    command = [sys.executable, "-m"]
    if config.coverage:
        command += ["coverage", "run", f"--data-file={scope_dir / 'coverage'}", "-m"]
    command += ["pytest", "-p", "no:cacheprovider", "-q", "-W", "ignore::DeprecationWarning",
                "--rootdir", ".", suite.test_path, f"--junitxml={scope_dir / 'junit.xml'}",
                *config.args]  # fmt: skip
    for nodeid in suite.deselect:
        command += ["--deselect", nodeid]
    if config.scope:
        command += [f"--scope-dir={scope_dir}"]
    return command


def _run_suite(
    suite: Suite, source: Path, config: Config, scope_dir: Path, timeout: float | None
) -> Run:
    scope_dir.mkdir(parents=True)
    env = {**os.environ, **config.env, "PYTHONPATH": str(BENCH_DIR)}
    if not config.coverage:
        env.pop("COVERAGE_CORE", None)
    started = time.perf_counter()
    with open(scope_dir / "out.txt", "wb") as out:
        process = subprocess.Popen(
            _command(suite, config, scope_dir), cwd=source, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        timer = threading.Timer(timeout, process.kill) if timeout else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        if timer is not None:
            timer.cancel()
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = (scope_dir / "out.txt").read_text(errors="replace")
    if timeout and seconds >= timeout:
        summary = f"STOPPED after {timeout:.0f} s: wall time and ratios are lower bounds"
    else:
        summary = _summary(output, process.returncode)
    run = Run(seconds, usage.ru_maxrss * 1024, summary)
    run.durations = _durations(scope_dir / "junit.xml")
    if config.scope:
        traces = sorted((scope_dir / "runs").glob("*.sqlite"))
        if traces:
            run.trace = traces[-1]
            run.trace_bytes = sum(
                p.stat().st_size for p in traces[-1].parent.glob(traces[-1].name + "*")
            )
            with TraceFile(run.trace) as trace:
                tests = trace.tests()
                run.steps = sum(test.steps for test in tests)
                run.test_steps = {test.nodeid: test.steps for test in tests}
    return run


def _durations(junit: Path) -> dict[str, float]:
    """Each test's time as pytest reports it (its call phase and fixtures), by node id."""
    if not junit.is_file():
        return {}
    import xml.etree.ElementTree as ET

    durations = {}
    for case in ET.parse(junit).iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        durations[f"{path}::{case.get('name')}"] = float(case.get("time", "0"))
    return durations


def _report_per_step(configs: list[Config], runs: dict[str, list[Run]], console: Console) -> None:
    """What a step costs in each test: its time above the plain run's, per step recorded,
    and as a multiple of the first test's (the one-int loop), medians over the rounds. A
    step is one event (a line, a call, a return, a resume, a yield...): at the default level,
    two in three of the generator shape's are resumes and yields."""
    plain = runs["plain"]
    for config in configs:
        these = runs[config.name]
        # At the calls level a loop in a test makes no steps: nothing to compare per step.
        if not config.scope or not these or min(these[0].test_steps.values(), default=0) < 1000:
            continue
        table = Table(title=f"{config.name}: recording cost per step, by test")
        for column in ("test", "steps", "plain s", "recorded s", "us per step", "x first"):
            table.add_column(column, justify="left" if column == "test" else "right")
        first: float | None = None
        for nodeid in these[0].test_steps:
            costs = [
                (run.durations.get(nodeid, 0.0) - base.durations.get(nodeid, 0.0))
                / max(run.test_steps.get(nodeid, 0), 1)
                for run, base in zip(these, plain, strict=True)
            ]
            cost = statistics.median(costs) * 1e6
            first = cost if first is None else first
            table.add_row(
                nodeid.rpartition("::")[2],
                f"{these[-1].test_steps.get(nodeid, 0):,}",
                f"{statistics.median(b.durations.get(nodeid, 0.0) for b in plain):.3f}",
                f"{statistics.median(r.durations.get(nodeid, 0.0) for r in these):.3f}",
                f"{cost:.2f}",
                f"{cost / first:.2f}" if first else "-",
            )
        console.print(table)


_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)\b")


def _summary(output: str, returncode: int) -> str:
    lines = [line for line in output.splitlines() if _COUNTS.search(line) and " in " in line]
    text = lines[-1].strip("= ") if lines else f"no summary (exit {returncode})"
    return re.sub(r" in [\d.]+s.*", "", text)


def _tests(summary: str) -> int:
    return sum(int(n) for n, what in _COUNTS.findall(summary) if what not in ("deselected",))


def _median_range(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{median:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def _report_runs(
    suite: Suite, configs: list[Config], runs: dict[str, list[Run]], console: Console
) -> None:
    plain = runs["plain"]
    table = Table(title=f"{suite.name} {suite.version}: {_tests(plain[0].summary)} tests "
                  f"({plain[0].summary}); medians of {len(plain)} (min-max)")  # fmt: skip
    for column in ("configuration", "wall s", "x plain", "x its floor", "peak RSS MB",
                   "RSS x plain", "trace MB", "steps", "bytes/step"):  # fmt: skip
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for config in configs:
        these = runs[config.name]
        ratios = [run.seconds / base.seconds for run, base in zip(these, plain, strict=True)]
        floor = next((c for c in configs if c.floor_of == config.name), None)
        floor_ratios = (
            [run.seconds / f.seconds for run, f in zip(these, runs[floor.name], strict=True)]
            if floor
            else []
        )
        rss = [run.max_rss / 1e6 for run in these]
        rss_ratios = [run.max_rss / base.max_rss for run, base in zip(these, plain, strict=True)]
        scoped = config.scope and any(run.trace for run in these)
        # A run stopped by --timeout gives lower bounds, marked so.
        bound = ">" if any(run.summary.startswith("STOPPED") for run in these) else ""
        table.add_row(
            config.name,
            bound + _median_range([run.seconds for run in these], ".2f"),
            "1" if config.name == "plain" else bound + _median_range(ratios, ".2f"),
            bound + _median_range(floor_ratios, ".2f") if floor else "",
            _median_range(rss, ".0f"),
            "" if config.name == "plain" else _median_range(rss_ratios, ".2f"),
            _median_range([run.trace_bytes / 1e6 for run in these], ".1f") if scoped else "",
            f"{statistics.median(run.steps for run in these):,.0f}" if scoped else "",
            _median_range([run.trace_bytes / max(run.steps, 1) for run in these], ".1f")
            if scoped
            else "",
        )
        outcomes = {run.summary for run in these if not run.summary.startswith("STOPPED")}
        if outcomes - {plain[0].summary}:
            console.print(f"[yellow]{config.name}: outcomes differ from plain: {outcomes}")
    console.print(table)


def _report_steps(configs: list[Config], runs: dict[str, list[Run]], console: Console) -> None:
    """Steps by kind in the newest trace of each level (retained steps only)."""
    table = Table(title="steps recorded, by kind (newest run of each level)")
    for column in ("configuration", "tests", "steps", "calls", "lines", "other", "dropped",
                   "longest test"):  # fmt: skip
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for config in configs:
        if not config.scope or not runs[config.name] or runs[config.name][-1].trace is None:
            continue
        trace_path = runs[config.name][-1].trace
        assert trace_path is not None
        kinds: Counter[int] = Counter()
        with TraceFile(trace_path) as trace:
            tests = trace.tests()
            for test in tests:
                for chunk in trace.chunks(test):
                    kinds.update(event[1] for event in chunk.events)
        dropped = sum(test.dropped_steps for test in tests)
        longest = max(tests, key=lambda test: test.steps)
        table.add_row(
            config.name,
            f"{len(tests):,}",
            f"{sum(test.steps for test in tests):,}",
            f"{kinds[Kind.CALL]:,}",
            f"{kinds[Kind.LINE]:,}",
            f"{sum(kinds.values()) - kinds[Kind.CALL] - kinds[Kind.LINE]:,}",
            f"{dropped:,}",
            f"{longest.steps:,}",
        )
    console.print(table)
    console.print(f"(kinds: {', '.join(KIND_NAMES)}; 'other' is every kind but call and line)")


def _report_replay(trace_path: Path, source: Path, replays: int, console: Console) -> None:
    """Replay latency: random steps through the API, the failure point through the CLI."""
    rng = random.Random(5)
    api: list[float] = []
    with TraceFile(trace_path) as trace:
        tests = [test for test in trace.tests() if test.steps >= test.first_step >= 1]
        weights = [test.steps - test.first_step + 1 for test in tests]
        for _ in range(replays):
            (test,) = rng.choices(tests, weights)
            step = rng.randint(test.first_step, test.steps)
            started = time.perf_counter()
            state_at(trace, test, step)
            api.append(time.perf_counter() - started)
        longest = max(tests, key=lambda test: test.steps)
        fail_api: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            state_at(trace, longest, failure_step(trace, longest))
            fail_api.append(time.perf_counter() - started)
        sizes = [len(row[0]) for row in trace._conn.execute("SELECT data FROM chunks")]
    cli: list[float] = []
    replay = shutil.which("scope-replay", path=str(Path(sys.executable).parent)) or "scope-replay"
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [replay, longest.nodeid, "--run", str(trace_path), "--format", "json", "--against",
             "none"],
            cwd=source, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        cli.append(time.perf_counter() - started)
    table = Table(title="replay latency (scope default trace)")
    for column in ("what", "median ms", "p95 ms", "min-max ms"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_row(f"API, {replays} random steps", *_latency(api))
    table.add_row(f"API, failure point of the longest test ({longest.steps:,} steps)",
                  *_latency(fail_api))  # fmt: skip
    table.add_row("CLI scope-replay --format json, failure point, with interpreter start",
                  *_latency(cli))  # fmt: skip
    console.print(table)
    console.print(
        f"chunks: {len(sizes):,}, median {statistics.median(sizes) / 1e3:.1f} kB, "
        f"max {max(sizes) / 1e3:.1f} kB"
    )


def _latency(seconds: list[float]) -> tuple[str, str, str]:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):.1f}", f"{p95:.1f}", f"{ms[0]:.1f}-{ms[-1]:.1f}"


if __name__ == "__main__":
    sys.exit(main())
