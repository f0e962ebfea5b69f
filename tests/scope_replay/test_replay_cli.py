"""``scope-replay`` as a user runs it: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO
from support.tracebuilder import Recording, write_trace

from pytest_scope.trace.schema import Kind
from replay.cli import main

FAILING = "test_sample.py::test_main"
PASSING = "test_sample.py::test_other"


def _recording() -> Recording:
    rec = Recording(events_per_chunk=4)
    rec.event(Kind.CALL, line=10, l={"items": []})
    rec.event(Kind.LINE, line=11)
    rec.event(Kind.CALL, code_no=2, line=1, l={"n": 3})
    rec.event(Kind.RETURN, code_no=2, line=2, r=3)
    rec.event(Kind.LINE, line=12, l={"items": [3]})
    rec.event(Kind.EXCEPTION, line=12, x={"$type": "AssertionError", "attrs": {"args": []}})
    return rec


@pytest.fixture
def scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with two runs in .scope; the current directory."""
    runs = tmp_path / ".scope" / "runs"
    write_trace(runs / "20250101-000000-1.sqlite", {PASSING: _recording()})
    write_trace(
        runs / "20250102-000000-1.sqlite",
        {FAILING: _recording(), PASSING: _recording()},
        outcomes={FAILING: "failed"},
        failure_steps={FAILING: 6},
    )
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")  # .scope is found in a parent directory
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_failure_point_by_default(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _json(capsys, "test_main")
    assert (state["test"], state["step"], state["steps"]) == (FAILING, 6, 6)
    assert state["event"]["kind"] == "exception"
    assert state["stack"][0]["locals"] == {"items": [3]}
    assert state["diff"] is None


def test_a_passing_test_shows_its_last_step(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _json(capsys, PASSING)["step"] == 6


def test_a_chosen_step(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _json(capsys, "test_main", "--step", "4")
    assert [frame["function"] for frame in state["stack"]] == ["test_main", "helper"]
    assert state["return_value"] == 3


def test_text_view(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test_main", "--step", "3"]) == 0
    out = capsys.readouterr().out
    assert "step 3 of 6" in out
    assert "call in helper at sample.py:1" in out
    assert "❱  1 # sample line 1" in out


def test_timeline(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, "test_main", "--timeline")
    assert [row["kind"] for row in rows] == ["call", "line", "call", "return", "line", "exception"]
    assert main(["test_main", "--timeline"]) == 0
    assert "Timeline of test_sample.py::test_main" in capsys.readouterr().out


def test_an_older_run_by_id_and_by_path(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, "test_other", "--run", "20250101-000000-1")["run"] == "20250101-000000-1"
    path = scope / ".scope" / "runs" / "20250101-000000-1.sqlite"
    assert _json(capsys, "test_other", "--run", str(path))["run"] == "20250101-000000-1"


def test_a_run_file_needs_no_scope_directory(
    scope: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    path = scope / ".scope" / "runs" / "20250102-000000-1.sqlite"
    assert _json(capsys, "test_main", "--run", str(path))["step"] == 6


def test_list_and_runs(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = _json(capsys, "--list")
    assert listing["run"] == "20250102-000000-1"
    assert [(t["nodeid"], t["outcome"], t["steps"]) for t in listing["tests"]] == [
        (FAILING, "failed", 6),
        (PASSING, "passed", 6),
    ]
    assert [
        t["nodeid"] for t in _json(capsys, "--list", "--run", "20250101-000000-1")["tests"]
    ] == [PASSING]
    runs = _json(capsys, "--runs")
    assert [(r["run"], r["tests"], r["failed"]) for r in runs] == [
        ("20250102-000000-1", 2, 1),
        ("20250101-000000-1", 1, 0),
    ]
    assert main(["--list"]) == 0
    assert "test_sample.py::test_main" in capsys.readouterr().out
    assert main(["--runs"]) == 0
    assert "20250101-000000-1" in capsys.readouterr().out


def test_a_pipe_gets_whole_ids_in_every_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    long_id = f"tests/test_{'deep_' * 20}module.py::test_{'long_' * 20}name[case-1]"
    path = tmp_path / ".scope" / "runs" / f"20250101-000000-{'x' * 90}.sqlite"
    write_trace(path, {long_id: _recording()})
    monkeypatch.chdir(tmp_path)
    for args in (["--list"], ["--runs"], [long_id, "--timeline"]):
        assert main(args) == 0
        lines = capsys.readouterr().out.splitlines()
        assert any(long_id in line or str(path) in line for line in lines), args
    assert main(["--runs"]) == 0
    assert any(str(path) in line for line in capsys.readouterr().out.splitlines())


def test_a_piped_list_is_plain_lines_none_padded_to_the_longest_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    long_id = f"tests/test_p.py::test_case[{'x' * 600}]"
    short_id = "tests/test_p.py::test_short"
    write_trace(
        tmp_path / ".scope" / "runs" / "20250101-000000-1.sqlite",
        {long_id: _recording(), short_id: _recording()},
        outcomes={short_id: "failed"},
    )
    monkeypatch.chdir(tmp_path)
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Tests of run 20250101-000000-1",
        "outcome  attempt  steps  dropped  test",
        f"passed         1      6        0  {long_id}",
        f"failed         1      6        0  {short_id}",
    ]
    assert main(["--runs"]) == 0
    assert all(line == line.rstrip() for line in capsys.readouterr().out.splitlines())


def test_list_failed_shows_the_tests_whose_last_attempt_failed(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [t["nodeid"] for t in _json(capsys, "--list", "--failed")["tests"]] == [FAILING]
    assert _json(capsys, "--list", "--failed", "--run", "20250101-000000-1")["tests"] == []
    assert main(["--list", "--failed"]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        f"failed         1      6        0  {FAILING}"
    ]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("test_mian", "test_sample.py::test_main"),
        ("test_sample.py::test_othr", "test_sample.py::test_other"),
        ("tset_other", "test_sample.py::test_other"),
    ],
)
def test_a_mistyped_id_gets_did_you_mean_in_one_line(
    scope: Path, capsys: pytest.CaptureFixture[str], typed: str, meant: str
) -> None:
    assert main([typed]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"scope-replay: error: no recorded test matches {typed!r}")
    assert f"; did you mean {meant}" in line


@pytest.mark.slow
def test_an_exported_baseline_stays_out_of_git_status_unless_its_directory_was_there(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(scope)], check=True)
    (scope / ".gitignore").write_text(".scope/\n")
    assert main(["--export-baseline", str(scope / "ci-baseline")]) == 0
    assert (scope / "ci-baseline" / "CACHEDIR.TAG").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=scope,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.splitlines() == ["?? .gitignore"]
    # A directory the user made (to commit a baseline on purpose) is left as it is.
    (scope / "committed").mkdir()
    assert main(["--export-baseline", str(scope / "committed")]) == 0
    assert sorted(path.name for path in (scope / "committed").iterdir()) == [
        ".pytest-scope-artifacts",
        "runs",
    ]


def test_an_unreadable_run_is_listed_as_such(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (scope / ".scope" / "runs" / "20250103-000000-1.sqlite").write_bytes(b"junk" * 100)
    runs = _json(capsys, "--runs")
    assert runs[0]["error"] == "not a SQLite database (garbage or truncated)"


def test_a_damaged_newest_run_is_passed_over_and_named(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A truncated file named like the newest run hides none of the runs before it."""
    newest = scope / ".scope" / "runs" / "20250102-000000-1.sqlite"
    damaged = scope / ".scope" / "runs" / "20250103-000000-1.sqlite"
    damaged.write_bytes(newest.read_bytes()[:3000])
    note = (
        "scope-replay: note: passed over 1 unreadable run(s): 20250103-000000-1"
        " (not a SQLite database (garbage or truncated))"
    )
    assert main(["test_main", "--against", "none", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run"] == "20250102-000000-1"
    assert captured.err.splitlines() == [note]
    assert main(["--list", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run"] == "20250102-000000-1"
    assert captured.err.splitlines() == [note]
    assert main(["nope"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "no recorded test matches 'nope'" in line and "20250103-000000-1" in line
    assert main(["--export-baseline", str(scope / "ci-baseline")]) == 0
    assert capsys.readouterr().err.splitlines() == [note]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test_", "--step", "1"], "ambiguous"),
        (["nope"], "no recorded test matches 'nope' in the 2 run(s)"),
        (
            ["test_main", "--step", "0"],
            "out of range for test_sample.py::test_main: give a step from 1 to 6",
        ),
        (["test_main", "--step", "-3"], "out of range"),
        (["test_main", "--step", "7"], "out of range"),
        (["test_main", "--step", "abc"], "argument --step: 'abc' is not a step number"),
        (["test_main", "--format", "xml"], "argument --format: invalid choice"),
        (["test_main", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "give a TEST_ID, --list or --runs"),
        (["--list", "test_main"], "--list, --runs and --export-baseline take no TEST_ID"),
        (["--export-baseline", "../.scope"], "other than the scope directory"),
        (["--list", "--runs"], "not allowed with argument"),
        (["--runs", "--failed"], "--failed goes with --list"),
        (["test_main", "--timeline", "--step", "2"], "leave out --step"),
        (["test_main", "--run", "nope"], "no run 'nope'"),
        (["test_main", "--run", "missing.sqlite"], "missing.sqlite: no such file"),
        (["--list", "--run", "missing.sqlite"], "missing.sqlite: no such file"),
        (["test_main", "--dir", "nowhere"], "no scope directory at nowhere"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    scope: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("scope-replay: error: ")
    assert message in line


def test_no_scope_directory_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["test_main"]) == 2
    assert "no .scope directory in" in capsys.readouterr().err


def test_a_newer_trace_file(scope: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scope / ".scope" / "runs" / "20250102-000000-1.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert main(["test_main"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "written by a newer pytest-scope (format 99); upgrade" in line


def test_a_trace_file_of_the_format_before_container_kinds(
    scope: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scope / ".scope" / "runs" / "20250102-000000-1.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert main(["test_main"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "written by an older pytest-scope (format 2); this one reads format 3" in line
    assert "record the tests again" in line


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--timeline" in out and "--against" in out and "--diverge" in out


@pytest.mark.slow
def test_the_module_entry_point(scope: Path) -> None:
    def replay(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "replay.cli", *args],
            cwd=scope, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip

    ok = replay("test_main", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["step"] == 6
    bad = replay("test_main", "--step", "abc")
    assert bad.returncode == 2
    assert bad.stderr.startswith("scope-replay: error: ") and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    rec = Recording(events_per_chunk=1024)
    rec.event(Kind.CALL, line=10)
    for step in range(20_000):  # a timeline of about 2 MB, far beyond a pipe's buffer
        rec.event(Kind.LINE, line=11 + step % 2)
    write_trace(tmp_path / ".scope" / "runs" / "20250101-000000-1.sqlite", {FAILING: rec})
    with subprocess.Popen(
        [sys.executable, "-m", "replay.cli", FAILING, "--timeline", "--format", "json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ) as replay:
        assert replay.stdout is not None and replay.stderr is not None
        assert replay.stdout.read(100)  # like `| head -c 100`: then the pipe is closed
        replay.stdout.close()
        assert replay.wait(timeout=60) == 0
        assert replay.stderr.read() == b""


def test_assertion_temporaries_are_hidden_in_every_view_unless_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recording()
    rec.event(Kind.CALL, line=10, l={"items": []})
    rec.event(Kind.LINE, line=11, l={"@py_assert1": 2, "@py_format3": "assert 2 == 3"})
    write_trace(tmp_path / ".scope" / "runs" / "20250101-000000-1.sqlite", {FAILING: rec})
    monkeypatch.chdir(tmp_path)
    assert _json(capsys, "test_main")["stack"][0]["locals"] == {"items": []}
    shown = _json(capsys, "test_main", "--assertion-temporaries")["stack"][0]["locals"]
    assert set(shown) == {"items", "@py_assert1", "@py_format3"}
    assert main(["test_main"]) == 0
    text = capsys.readouterr().out
    assert "@py_" not in text
    assert "2 assertion temporaries of pytest not shown; see --assertion-temporaries" in text
    assert main(["test_main", "--assertion-temporaries"]) == 0
    assert "@py_assert1" in capsys.readouterr().out
