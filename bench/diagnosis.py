"""The diagnosis benchmark: does pytest-scope point at an injected bug in a real project?

For each project (an sdist from PyPI with its tests, downloaded and installed the way
``run.py`` does it), it injects one bug at a time with the AST mutator (``mutator.py``:
off-by-one constants and bounds, flipped comparisons, a dropped ``not``, swapped call
arguments, a wrong default, a skipped element, ``and``/``or``) into the project's source,
never its tests, and keeps the mutants that make between 1 and ``--max-failing`` tests
fail with no collection error (the others are counted as skipped, by reason). The tests a
mutant can reach are those that run the mutated function (a coverage.py run with one
context per test, once per project); only they are run plain to find the failing ones.
Each mutated file is restored in a ``finally``, and no byte code is written, so no mutant
outlives its run.

Then it records, with the pytest-scope of this repository installed in the running
environment, per scored mutant: its failing tests (at most ``--tests-per-mutant``) on the
unmutated code (the green baseline, a scope directory of its own), then the same tests in
the same order on the mutant, in a scope directory of its own given the green one as
``--scope-baseline``: the mutant's recording finds its last pass the way ``scope-replay
TEST`` does (``replay.comparing.last_pass.last_pass``). The two runs differ in the code only, as a
CI run before and after a change does: a green run of another selection would leave
process-wide state (counters, caches) different for reasons no code change explains.
Each failing test is scored in-process with the replay API (``diagnosis_score.py``): (a)
the first divergence lies in the mutated function or has it on either side's stack; (b) a
"by value" divergence that names no change (must be zero); (c) the failure point's diff
names a frame of the mutated function or a value it returned or yielded. Also counted: no
divergence at all, divergences whose every change is an address, id or hash by the
comparison's own rule (``replay.comparing.noise``; it sets those aside, so any is a defect of the
comparison), control flow against value.

Twins: a deterministic sample of each project's passing tests (``--twins N``) is recorded
twice, unchanged; every test's two recordings are compared. For deterministic code they
should never part ways.

Hypothesis runs with ``--hypothesis-seed=0`` and its example database is removed before
each run, so that a test draws the same examples in every recording. Hash randomization
stays on (``PYTHONHASHSEED`` is removed from the runs' environment), as in a user's CI:
the comparison has to set aside the hashes and hash-ordered values that differ between
processes (``replay.comparing.noise``); each scored test and twin lists what it set aside.

Run it alone with ``python bench/diagnosis.py`` (or ``python bench/run.py
--diagnosis-only``); ``./dev bench`` runs it after the speed figures. Options:
``--suite NAME`` (repeatable), ``--mutants N`` scored mutants wanted per project (default
15), ``--max-tries N`` mutants tried at most per project (default 6 times ``--mutants``),
``--max-failing N`` (default 10), ``--tests-per-mutant N`` (default 3), ``--twins N``
(default 100; 0 skips them), ``--seed N``, ``--run-timeout S`` (one pytest run, default
180), ``--work DIR`` (as ``run.py``). It prints a table per project and their total, the
misses, and writes every scored test to ``diagnosis.json`` in the work directory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # run.py, mutator.py, diagnosis_score.py beside this one

import mutator  # noqa: E402
from diagnosis_score import (  # noqa: E402
    Score,
    Target,
    address_only_change,
    change_text,
    raw_differences,
    score,
    set_aside_reasons,
)
from run import SUITES, Suite, _install  # noqa: E402

from pytest_scope.errors import NotFoundError  # noqa: E402
from pytest_scope.trace.reader import TraceFile  # noqa: E402
from pytest_scope.trace.scope_dir import ScopeDir, run_files  # noqa: E402
from replay.comparing.compare import Recorded, diverge  # noqa: E402
from replay.comparing.last_pass import baseline_runs, in_run, last_pass, newest_first  # noqa: E402

DIAGNOSIS_SUITES = tuple(suite for suite in SUITES if not suite.local)
_NOT_SOURCE_DIRS = frozenset({"tests", "test", "docs", "bench", "benchmarks", "examples"})


@dataclass
class Project:
    """An unpacked sdist as the benchmark mutates it."""

    suite: Suite
    source: Path  # the rootdir of its test runs
    import_root: Path  # source/src for a src layout, else source
    files: list[Path]  # the package's modules, mutated ones among them

    @property
    def import_prefix(self) -> str:
        return "" if self.import_root == self.source else self.import_root.name + "/"

    def module_file(self, path: Path) -> str:
        return path.relative_to(self.import_root).as_posix()


@dataclass
class Mutant:
    file: str  # the module path: attr/_make.py
    qualname: str
    line: int
    operator: str
    detail: str
    failing: list[str]  # every failing test of the plain run
    scored: list[str] = field(default_factory=list)  # those recorded and scored


@dataclass
class Twins:
    tests: int = 0
    compared: int = 0
    diverging: int = 0
    empty: int = 0  # by value, no change named
    address_only: int = 0
    by: Counter[str] = field(default_factory=Counter)
    set_aside: Counter[str] = field(default_factory=Counter)  # at divergence steps, by reason
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """One project's result."""

    name: str
    tried: int = 0
    unreached: int = 0  # sites in functions no test runs: not tried
    skipped: Counter[str] = field(default_factory=Counter)  # tried, not scored: why
    mutants: list[Mutant] = field(default_factory=list)
    scores: list[tuple[Mutant, Score]] = field(default_factory=list)
    unscored: Counter[str] = field(default_factory=Counter)  # failing tests not scored, why
    unscored_tests: list[dict[str, str]] = field(default_factory=list)
    twins: Twins | None = None
    seconds: float = 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "pytest-scope-bench"
    )
    args = parser.parse_args(argv)
    run(args, Console(width=120))
    return 0


def add_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The benchmark's options (``run.py`` adds them too, its suite option prefixed)."""
    parser.add_argument(f"--{prefix}suite", dest="diagnosis_suites", action="append",
                        choices=[s.name for s in DIAGNOSIS_SUITES],
                        help="only this project (repeatable)")  # fmt: skip
    parser.add_argument("--mutants", type=_count, default=15,
                        help="scored mutants wanted per project (default 15)")  # fmt: skip
    parser.add_argument("--max-tries", type=_count, default=None,
                        help="mutants run at most per project (default 6 x --mutants)")  # fmt: skip
    parser.add_argument("--max-failing", type=_count, default=10,
                        help="a mutant failing more tests is skipped (default 10)")  # fmt: skip
    parser.add_argument("--tests-per-mutant", type=_count, default=3,
                        help="failing tests scored per mutant (default 3)")  # fmt: skip
    parser.add_argument("--twins", type=_count, default=100,
                        help="tests recorded twice per project (default 100)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="the order mutants are tried in")
    parser.add_argument("--run-timeout", type=float, default=180.0,
                        help="seconds one pytest run may take (default 180)")  # fmt: skip


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (0 or more)")
    return value


def run(args: argparse.Namespace, console: Console) -> list[Outcome]:
    """The benchmark over the chosen projects; prints the report, writes the JSON."""
    work = args.work.resolve()
    outcomes = []
    for suite in DIAGNOSIS_SUITES:
        if args.diagnosis_suites and suite.name not in args.diagnosis_suites:
            continue
        started = time.perf_counter()
        project = _project(suite, _install(suite, work, console))
        console.rule(f"diagnosis: {suite.name} {suite.version} ({len(project.files)} modules)")
        with tempfile.TemporaryDirectory(prefix="scope-diagnosis-") as tmp:
            outcome = _diagnose(project, Path(tmp), args, console)
        outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
    _report(outcomes, console)
    path = work / "diagnosis.json"
    path.write_text(json.dumps(_json(outcomes), indent=1))
    console.print(f"per-test results: {path}")
    return outcomes


def _project(suite: Suite, source: Path) -> Project:
    src = source / "src"
    import_root = src if src.is_dir() else source
    files = sorted(
        path
        for package in import_root.iterdir()
        if package.is_dir()
        and (package / "__init__.py").is_file()
        and package.name not in _NOT_SOURCE_DIRS
        for path in package.rglob("*.py")
        if not _NOT_SOURCE_DIRS.intersection(path.relative_to(package).parts)
    )
    return Project(suite, source, import_root, files)


def _diagnose(
    project: Project, scratch: Path, args: argparse.Namespace, console: Console
) -> Outcome:
    outcome = Outcome(project.suite.name)
    started = time.perf_counter()
    covering, durations, passed = _coverage_map(project, scratch, args.run_timeout, console)
    console.print(f"coverage run: {time.perf_counter() - started:.0f} s")
    candidates = [
        (path, site) for path in project.files for site in mutator.sites(path.read_text())
    ]
    ordered = mutator.shuffled(candidates, lambda item: item[1].operator, args.seed)
    console.print(f"{len(candidates)} mutation sites in {len(project.files)} modules")
    max_tries = args.max_tries or 6 * args.mutants
    for path, site in ordered:
        if len(outcome.mutants) >= args.mutants or outcome.tried >= max_tries:
            break
        lines = covering.get(path, {})
        reaching = sorted(
            {test for line in range(site.function_lines[0], site.function_lines[1] + 1)
             for test in lines.get(line, ())}
        )  # fmt: skip
        if not reaching:
            outcome.unreached += 1
            continue
        outcome.tried += 1
        reason, failing = _select(project, path, site, reaching, scratch, args)
        label = f"{project.module_file(path)}:{site.line} {site.qualname} {site.operator}"
        if reason:
            outcome.skipped[reason] += 1
            console.print(f"  skip  {label}: {reason}", highlight=False, markup=False)
            continue
        mutant = Mutant(project.module_file(path), site.qualname, site.line, site.operator,
                        site.detail, failing)  # fmt: skip
        outcome.mutants.append(mutant)
        console.print(f"  score {label}: {len(failing)} failing", highlight=False, markup=False)
    console.print(f"selection: {time.perf_counter() - started:.0f} s so far")
    if outcome.mutants:
        _record_and_score(project, outcome, scratch, args, console)
        console.print(f"recorded and scored: {time.perf_counter() - started:.0f} s so far")
    if args.twins:
        outcome.twins = _twins(project, passed, durations, scratch, args, console)
    return outcome


def _select(
    project: Project,
    path: Path,
    site: mutator.Site,
    reaching: list[str],
    scratch: Path,
    args: argparse.Namespace,
) -> tuple[str, list[str]]:
    """Run the tests that reach the mutant plain: (why it is skipped or "", failing tests)."""
    with _mutated(path, site):
        result = _pytest(project, reaching, scratch / "select.json", args.run_timeout)
    if isinstance(result, str):
        return result, []
    if result["collection_errors"]:
        return "collection errors", []
    failing = sorted(nodeid for nodeid, what in result["outcomes"].items() if what == "failed")
    if not failing:
        return "no test fails", []
    if len(failing) > args.max_failing:
        return f"more than {args.max_failing} tests fail", []
    return "", failing


def _record_and_score(
    project: Project, outcome: Outcome, scratch: Path, args: argparse.Namespace, console: Console
) -> None:
    """Per mutant: its failing tests recorded on the unmutated code, then on the mutant with
    that recording as ``--scope-baseline``, then scored.

    Both recordings run the same selection in the same order, as a CI run records a suite
    before and after a change: process-wide state (attrs numbers every ``attr.ib()`` with a
    process-wide counter) then differs only where the code does, not because another
    selection ran before the test."""
    for number, mutant in enumerate(outcome.mutants):
        mutant.scored = mutant.failing[: args.tests_per_mutant]
        path = project.import_root / mutant.file
        site = _site_of(path, mutant)
        green = scratch / f"green-{number}"
        here = scratch / f"mutant-{number}"
        _pytest(project, mutant.scored, scratch / "green.json", args.run_timeout,
                ["--scope", f"--scope-dir={green}"])  # fmt: skip
        with _mutated(path, site):
            _pytest(project, mutant.scored, scratch / "mutant.json", args.run_timeout,
                    ["--scope", f"--scope-dir={here}", f"--scope-baseline={green}"])  # fmt: skip
        target = Target(mutant.qualname, mutant.file, project.import_prefix)
        for nodeid in mutant.scored:
            result = _score_one(here, green, nodeid, target)
            if isinstance(result, str):
                outcome.unscored[result] += 1
                outcome.unscored_tests.append(
                    {"mutant": _label(mutant), "test": nodeid, "why": result}
                )
            else:
                outcome.scores.append((mutant, result))
    console.print(f"scored {len(outcome.scores)} failing tests of {len(outcome.mutants)} mutants")


def _site_of(path: Path, mutant: Mutant) -> mutator.Site:
    for site in mutator.sites(path.read_text()):
        if (site.line, site.operator, site.detail) == (mutant.line, mutant.operator,
                                                       mutant.detail):  # fmt: skip
            return site
    raise LookupError(f"the mutant {mutant} is no longer in {path}")


def _score_one(mutant_dir: Path, green: Path, nodeid: str, target: Target) -> Score | str:
    """The score of one failing test, or why it has none."""
    runs = run_files(ScopeDir(mutant_dir).runs_dir) if mutant_dir.is_dir() else []
    if not runs:
        return "mutant run not recorded"
    trace = TraceFile(runs[-1])
    try:
        attempts = [t for t in trace.tests() if t.nodeid == nodeid and t.outcome == "failed"]
        if not attempts:
            return "did not fail when recorded"
        shown = attempts[-1]
        if shown.steps < 1:
            return "no steps recorded"
        found = last_pass(newest_first([runs[-1], *baseline_runs([green])]), runs[-1], shown)
        if found is None:
            return "no last pass"
        green_trace, green_test = found
        try:
            return score(Recorded(trace, shown), Recorded(green_trace, green_test), target)
        finally:
            green_trace.close()
    finally:
        trace.close()


def _twins(
    project: Project,
    passed: list[str],
    durations: dict[str, float],
    scratch: Path,
    args: argparse.Namespace,
    console: Console,
) -> Twins:
    """Record a sample of passing tests twice, unchanged, and compare each test's two.

    Sampled from the quick tests whose node ids a fresh collection gives again: an id made
    of the time (marshmallow's ``test_invalid_datetime_deserialization[01:46:11 ...]``)
    is another at the next run, and pytest runs nothing when asked for one it lacks."""
    collection = _pytest(project, [], scratch / "collected.json", args.run_timeout,
                         ["--collect-only"])  # fmt: skip
    again = set(collection["collected"]) if isinstance(collection, dict) else set()
    quick = sorted(t for t in passed if durations.get(t, 1.0) < 0.1 and t in again)
    sample = sorted(random.Random(args.seed).sample(quick, min(args.twins, len(quick))))
    twins = Twins(tests=len(sample))
    console.print(f"twins: recording {len(sample)} passing tests twice")
    dirs = [scratch / "twin-1", scratch / "twin-2"]
    for place in dirs:
        _pytest(project, sample, scratch / "twin.json", args.run_timeout,
                ["--scope", f"--scope-dir={place}"])  # fmt: skip
    files = [run_files(ScopeDir(place).runs_dir) for place in dirs]
    if not all(files):
        return twins
    for nodeid in sample:
        try:
            first, first_test = in_run(files[0][-1], nodeid)
        except NotFoundError:  # a test the run did not record
            continue
        try:
            second, second_test = in_run(files[1][-1], nodeid)
        except NotFoundError:
            first.close()
            continue
        try:
            this, against = Recorded(second, second_test), Recorded(first, first_test)
            report = diverge(this, against)
            twins.set_aside.update(set_aside_reasons(report.set_aside))
            empty = report.by == "value" and not report.changes
            raw = (
                raw_differences(this, against, report.this.step, report.against.step)
                if empty and report.this and report.against
                else []
            )
        finally:
            first.close()
            second.close()
        twins.compared += 1
        if report.by is None:
            continue
        twins.diverging += 1
        twins.by[report.by] += 1
        twins.empty += empty
        address = bool(report.changes) and all(address_only_change(c) for c in report.changes)
        twins.address_only += address
        where = report.this or report.against
        frame = where.stack[-1] if where and where.stack else {}
        twins.examples.append(
            {
                "test": nodeid,
                "by": report.by,
                "step": where.step if where else None,
                "function": frame.get("function"),
                "address_only": address,
                "changes": [change_text(c) for c in report.changes[:5]],
                "set_aside": set_aside_reasons(report.set_aside),
                "raw_differences": raw,
            }
        )
    return twins


def _coverage_map(
    project: Project, scratch: Path, timeout: float, console: Console
) -> tuple[dict[Path, dict[int, list[str]]], dict[str, float], list[str]]:
    """Which tests run each line of the package (one coverage.py run with a context per
    test), each test's duration, and the tests that passed."""
    from coverage import CoverageData

    data_file = scratch / "coverage"
    packages = sorted(
        {str(path.relative_to(project.import_root).parts[0]) for path in project.files}
    )
    console.print(f"coverage of {', '.join(packages)} per test (the whole suite, once)")
    result = _pytest(
        project,
        [project.suite.test_path, *(f"--deselect={n}" for n in project.suite.deselect)],
        scratch / "coverage.json",
        timeout * 4,
        coverage=(data_file, [str(project.import_root / package) for package in packages]),
    )
    if isinstance(result, str):
        raise RuntimeError(f"{project.suite.name}: the coverage run failed: {result}")
    data = CoverageData(str(data_file))
    data.read()
    covering: dict[Path, dict[int, list[str]]] = {}
    for path in project.files:
        by_line = data.contexts_by_lineno(str(path))
        covering[path] = {line: [c for c in tests if c] for line, tests in by_line.items()}
    if not any(tests for lines in covering.values() for tests in lines.values()):
        raise RuntimeError(f"{project.suite.name}: coverage saw no test run the package")
    passed = sorted(n for n, what in result["outcomes"].items() if what == "passed")
    return covering, result["durations"], passed


def _pytest(
    project: Project,
    tests: list[str],
    outcomes: Path,
    timeout: float,
    extra: Sequence[str] = (),
    coverage: tuple[Path, list[str]] | None = None,
) -> dict[str, Any] | str:
    """One pytest run of ``tests`` in the project: its outcomes, or why it has none."""
    command = [sys.executable, "-m"]
    if coverage is not None:
        data_file, sources = coverage
        # Its own settings, not the project's (attrs asks for parallel data files).
        settings = data_file.with_name("coveragerc")
        settings.write_text("[run]\n")
        command += ["coverage", "run", f"--rcfile={settings}", f"--data-file={data_file}",
                    f"--source={','.join(sources)}", "-m"]  # fmt: skip
    command += ["pytest", "-p", "no:cacheprovider", "-q", "--tb=no", "-W",
                "ignore::DeprecationWarning", "--rootdir", ".", "-p", "diagnosis_plugin",
                f"--diagnosis-outcomes={outcomes}", "--hypothesis-seed=0",
                *extra, *tests]  # fmt: skip
    roots = [str(BENCH_DIR)]
    if project.import_root != project.source:
        roots.insert(0, str(project.import_root))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(roots), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("COVERAGE_CORE", None)
    env.pop("PYTHONHASHSEED", None)  # hash randomization on, as in a user's CI
    outcomes.unlink(missing_ok=True)
    shutil.rmtree(project.source / ".hypothesis", ignore_errors=True)
    try:
        subprocess.run(command, cwd=project.source, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "timeout"
    if not outcomes.is_file():
        return "pytest stopped before its session (a conftest that does not import)"
    result: dict[str, Any] = json.loads(outcomes.read_text())
    return result


@contextmanager
def _mutated(path: Path, site: mutator.Site) -> Iterator[None]:
    """``path`` holds the mutant while the block runs, and its own text after, whatever
    happens; no compiled byte code of either is left to be picked up."""
    original = path.read_bytes()
    mutant = mutator.mutate(original.decode(), site)
    try:
        _drop_bytecode(path)
        path.write_text(mutant)
        yield
    finally:
        path.write_bytes(original)
        _drop_bytecode(path)


def _drop_bytecode(path: Path) -> None:
    for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        compiled.unlink(missing_ok=True)


def _report(outcomes: list[Outcome], console: Console) -> None:
    rows = [*outcomes, _total(outcomes)] if len(outcomes) > 1 else outcomes
    table = Table(title="diagnosis: injected bugs in real projects, as scope-replay shows them")
    columns = ("project", "mutants tried", "scored", "skipped", "tests", "a %", "a top %", "b",
               "c %", "no div", "addr", "ctrl/value")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "project" else "right")
    for outcome in rows:
        scores = [s for _, s in outcome.scores]
        n = len(scores)
        by = Counter(s.by for s in scores)
        table.add_row(
            outcome.name,
            str(outcome.tried),
            str(len(outcome.mutants)),
            str(sum(outcome.skipped.values())),
            str(n),
            _percent(sum(s.a for s in scores), n),
            _percent(sum(s.a_top for s in scores), n),
            str(sum(s.b for s in scores)),
            _percent(sum(s.c for s in scores), n),
            str(by[None]),
            str(sum(s.address_only for s in scores)),
            f"{by['control flow']}/{by['value']}",
        )
    console.print(table)
    console.print(
        "tests: failing tests scored; a: the first divergence lies in the mutated function or "
        "has it on a side's stack (top: in its own frame); b: by value, naming no change "
        "(must be 0); c: the failure point's diff names the function or a value it returned "
        "or yielded; no div: no divergence found; addr: every change an address, id or hash",
        highlight=False,
        markup=False,
    )
    twins_table = Table(
        title="twins: passing tests recorded twice, unchanged (should never diverge)"
    )
    for column in ("project", "tests compared", "diverging", "b (value, no change)",
                   "address only", "control flow"):  # fmt: skip
        twins_table.add_column(column, justify="left" if column == "project" else "right")
    for outcome in rows:
        if outcome.twins is not None:
            twins = outcome.twins
            twins_table.add_row(outcome.name, str(twins.compared), str(twins.diverging),
                                str(twins.empty), str(twins.address_only),
                                str(twins.by["control flow"]))  # fmt: skip
    console.print(twins_table)
    for outcome in outcomes:
        reasons = ", ".join(f"{n} {why}" for why, n in outcome.skipped.most_common())
        console.print(
            f"{outcome.name}: skipped mutants: {reasons or 'none'}; sites passed over because "
            f"no test runs their function: {outcome.unreached}",
            highlight=False,
            markup=False,
        )
        if outcome.unscored:
            reasons = ", ".join(f"{n} {why}" for why, n in outcome.unscored.most_common())
            console.print(f"{outcome.name}: failing tests not scored: {reasons}", highlight=False)
        console.print(f"{outcome.name}: {outcome.seconds:.0f} s", highlight=False)
    console.print("misses of (a): mutant | test | where the first divergence landed")
    for outcome in outcomes:
        for mutant, result in outcome.scores:
            if not result.a:
                console.print(
                    f"  {outcome.name} {mutant.file}:{mutant.line} {mutant.qualname} "
                    f"{mutant.operator} | {result.test} | {result.by or 'no divergence'}"
                    f"{f' at step {result.this_step} in {result.where}' if result.by else ''}"
                    f"{' [empty]' if result.b else ''}",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )


def _total(outcomes: list[Outcome]) -> Outcome:
    total = Outcome("total")
    for outcome in outcomes:
        total.tried += outcome.tried
        total.unreached += outcome.unreached
        total.skipped += outcome.skipped
        total.mutants += outcome.mutants
        total.scores += outcome.scores
        if outcome.twins:
            twins = total.twins = total.twins or Twins()
            twins.tests += outcome.twins.tests
            twins.compared += outcome.twins.compared
            twins.diverging += outcome.twins.diverging
            twins.empty += outcome.twins.empty
            twins.address_only += outcome.twins.address_only
            twins.by += outcome.twins.by
    return total


def _label(mutant: Mutant) -> str:
    return f"{mutant.file}:{mutant.line} {mutant.qualname} {mutant.operator} ({mutant.detail})"


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}" if total else "-"


def _json(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "projects": [
            {
                "project": outcome.name,
                "tried": outcome.tried,
                "unreached": outcome.unreached,
                "skipped": dict(outcome.skipped),
                "unscored": dict(outcome.unscored),
                "unscored_tests": outcome.unscored_tests,
                "mutants": [asdict(mutant) for mutant in outcome.mutants],
                "tests": [
                    {
                        "mutant": _label(m),
                        **asdict(result),
                    }
                    for m, result in outcome.scores
                ],
                "twins": None
                if outcome.twins is None
                else {
                    **asdict(outcome.twins),
                    "by": dict(outcome.twins.by),
                    "set_aside": dict(outcome.twins.set_aside),
                },
                "seconds": round(outcome.seconds, 1),
            }
            for outcome in outcomes
        ]
    }


if __name__ == "__main__":
    sys.exit(main())
