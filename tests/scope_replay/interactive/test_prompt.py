"""``scope-replay TEST_ID -i`` driven by a script on stdin, on real recordings.

fixtures/demo is recorded once (its ``test_ship_takes_every_line`` fails); fixtures/compare
twice, passing and then broken, for ``diff``; fixtures/caught once, for ``c`` past caught
exceptions. Every expected step is read from the
recording's own timeline (``--timeline --format json``), never written down by hand.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO
from support.recordings import FIXTURES, record_caught, record_compare, record_demo, record_history
from support.replaycli import prompt_session, replay_json, run_replay

DEMO_TEST = "test_ship_takes_every_line"
TEST_FUNCTION = "test_ship_takes_every_line"
CAUGHT_TEST = "test_total_skips_words"
HEADER = re.compile(r"^step (\d+) of (\d+) · (\w+) in (\S+) at ")


@dataclass(frozen=True)
class Demo:
    root: Path
    rows: list[dict[str, Any]]

    def steps(self, **wanted: Any) -> list[int]:
        return [
            row["step"]
            for row in self.rows
            if all(row[key] == value for key, value in wanted.items())
        ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("demo")
    record_demo(root)
    return Demo(root, replay_json(root, DEMO_TEST, "--timeline"))


def stops(lines: list[str]) -> list[int]:
    """The steps the session stopped at, in order, the starting one first."""
    return [int(found.group(1)) for line in lines if (found := HEADER.match(line))]


def answers(lines: list[str], command: str) -> list[str]:
    """What the prompt printed in answer to the first ``command`` of the script."""
    start = lines.index(f"(scope) {command}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("(scope) ")), len(lines))
    return [line for line in lines[start:end] if line.strip()]


@pytest.mark.slow
def test_it_starts_at_the_failure_point(demo: Demo) -> None:
    lines = prompt_session(demo.root, DEMO_TEST)
    (raised,) = demo.steps(kind="exception")
    assert stops(lines) == [raised]
    assert lines[1].startswith(f"step {raised} of {len(demo.rows)} · exception in {TEST_FUNCTION}")
    assert lines[3] == (
        "exception: AssertionError: assert {'apple': 9, ... 4, 'plum': 5} =="
        " {'apple': 9, ... 3, 'plum': 5} …"
    )  # the first line of the message; p __exception__ shows all of it


@pytest.mark.slow
def test_s_and_rs_visit_every_step_of_the_thread(demo: Demo) -> None:
    count = len(demo.rows)
    forward = prompt_session(demo.root, DEMO_TEST, "step 1", *["s"] * (count - 1))
    assert stops(forward)[1:] == [row["step"] for row in demo.rows]
    back = prompt_session(demo.root, DEMO_TEST, f"step {count}", *["rs"] * (count - 1))
    assert stops(back)[1:] == [row["step"] for row in reversed(demo.rows)]


@pytest.mark.slow
def test_n_and_rn_stay_in_the_test_function(demo: Demo) -> None:
    """Over every call the test makes: its own steps only, both ways."""
    own = demo.steps(function=TEST_FUNCTION)
    forward = prompt_session(demo.root, DEMO_TEST, "step 1", *["n"] * (len(own) - 1), "n")
    assert stops(forward)[1:] == own
    assert forward[-1] == "*** no later step in this frame or a caller"
    back = prompt_session(demo.root, DEMO_TEST, f"step {own[-1]}", *["rn"] * (len(own) - 1), "rn")
    assert stops(back)[1:] == own[::-1]
    assert back[-1] == "*** no earlier step in this frame or a caller"


@pytest.mark.slow
def test_an_empty_line_repeats_the_last_command(demo: Demo) -> None:
    own = demo.steps(function=TEST_FUNCTION)
    assert stops(prompt_session(demo.root, DEMO_TEST, "step 1", "n", "", ""))[1:] == own[:4]


@pytest.mark.slow
def test_r_and_rr_leave_and_enter_a_callee(demo: Demo) -> None:
    first_call = demo.steps(function="Stock.take", kind="call")[0]
    its_return = demo.steps(function="Stock.take", kind="return")[0]
    ship_call = demo.steps(function="Stock.ship", kind="call")[0]
    lines = prompt_session(demo.root, DEMO_TEST, f"step {first_call}", "r", "rr", "rr")
    # r: where take returns; rr: back to its call; rr at a call: the caller's step before.
    assert stops(lines)[1:] == [first_call, its_return, first_call, ship_call]


@pytest.mark.slow
def test_breakpoints_on_a_function_stop_at_each_call_then_the_exception(demo: Demo) -> None:
    calls = demo.steps(function="Stock.take", kind="call")
    (raised,) = demo.steps(kind="exception")
    script = ["b Stock.take", "step 1", *["c"] * (len(calls) + 1), *["rc"] * len(calls)]
    lines = prompt_session(demo.root, DEMO_TEST, *script)
    assert stops(lines)[2:] == [*calls, raised, *calls[::-1]]
    assert "stopped: breakpoint 1 at Stock.take" in lines
    assert "stopped: the exception that failed the test" in lines


@pytest.fixture(scope="module")
def caught(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("caught")
    record_caught(root)
    return Demo(root, replay_json(root, CAUGHT_TEST, "--timeline"))


@pytest.mark.slow
def test_c_and_rc_stop_at_breakpoints_and_the_failure_not_at_caught_exceptions(
    caught: Demo,
) -> None:
    """pdb's c: the exceptions caught on the way are not stops."""
    (call,) = caught.steps(function="total", kind="call")
    raised = caught.steps(kind="exception")
    assert len(raised) == 4  # three caught in parse, then the assertion
    script = ["b total", "step 1", "c", "c", "c", "rc", "rc"]
    lines = prompt_session(caught.root, CAUGHT_TEST, *script)
    assert stops(lines)[2:] == [call, raised[-1], call]
    assert answers(lines, "c")[0] == "stopped: breakpoint 1 at total"
    assert "stopped: the exception that failed the test" in lines
    assert "*** no breakpoint or failure of the test ahead: the recording ends there" in lines
    assert lines[-1] == "*** no breakpoint or failure of the test before this step"


@pytest.mark.slow
def test_catch_on_stops_at_every_exception_raised(caught: Demo) -> None:
    (call,) = caught.steps(function="total", kind="call")
    raised = caught.steps(kind="exception")
    script = ["b total", "catch", "catch on", "step 1", *["c"] * 5, "catch off", "rc", "rc"]
    lines = prompt_session(caught.root, CAUGHT_TEST, *script)
    assert stops(lines)[2:] == [*raised[:3], call, raised[3], call]
    assert answers(lines, "catch") == ["c and rc stop at each breakpoint or failure of the test"]
    assert answers(lines, "catch on") == [
        "c and rc stop at each breakpoint, failure of the test or exception raised"
    ]
    assert lines.count("stopped: exception raised") == 3
    assert lines[-1] == "*** no breakpoint or failure of the test before this step"


@pytest.mark.slow
def test_a_condition_on_recorded_locals_picks_its_call(demo: Demo) -> None:
    calls = demo.steps(function="Stock.take", kind="call")
    skus = {
        replay_json(demo.root, DEMO_TEST, "--step", str(step))["stack"][-1]["locals"]["sku"]: step
        for step in calls
    }
    assert set(skus) == {"apple", "plum"}  # the bug: pear is skipped
    lines = prompt_session(
        demo.root, DEMO_TEST, "b Stock.take, sku == 'plum' and count >= 1", "step 1", "c", "c"
    )
    (raised,) = demo.steps(kind="exception")
    assert stops(lines)[2:] == [skus["plum"], raised]
    lines = prompt_session(demo.root, DEMO_TEST, "b take, sku == 'pear'", "step 1", "c")
    assert stops(lines)[2:] == [raised]


@pytest.mark.slow
def test_a_line_breakpoint_stops_at_the_line_before_it_runs(demo: Demo) -> None:
    (assert_line,) = demo.steps(kind="line", line=39)
    lines = prompt_session(
        demo.root,
        DEMO_TEST,
        "b tests/test_stock.py:39",
        "b test_stock.py:38, len(order.lines) == 1",
        "step 1",
        "c",
        "c",
    )
    (raised,) = demo.steps(kind="exception")
    assert stops(lines)[2:] == [assert_line, raised]  # order has 3 lines at line 38
    assert "set breakpoint 2 at test_stock.py:38 if len(order.lines) == 1" in lines
    lines = prompt_session(demo.root, DEMO_TEST, "step 1", "b 39", "c")  # pdb's b LINE: this file
    (told,) = answers(lines, "b 39")
    assert told.startswith("set breakpoint 1 at ")
    assert told.endswith("tests/test_stock.py:39")
    assert stops(lines)[2:] == [assert_line]


def _stock_line(text: str) -> int:
    """The line of the demo's stock.py that holds ``text``."""
    source = (FIXTURES / "demo" / "src" / "inventory" / "stock.py").read_text().splitlines()
    return next(number for number, line in enumerate(source, 1) if text in line)


@pytest.mark.slow
def test_values_by_path_in_any_frame(demo: Demo) -> None:
    second_take = demo.steps(function="Stock.take", kind="call")[1]
    lines = prompt_session(
        demo.root,
        DEMO_TEST,
        f"step {second_take}",
        "p sku",
        "u",
        "p order.lines[0]",
        "p self.levels['plum']",
        "pp order.customer",
        "w",
    )
    assert answers(lines, "p sku") == ["'plum'"]
    assert answers(lines, "p order.lines[0]") == ["('pear', 1)"]
    assert answers(lines, "p self.levels['plum']") == ["6"]
    assert answers(lines, "pp order.customer") == ['"grace"']
    assert answers(lines, "w") == [
        f"  0 {TEST_FUNCTION} (tests/test_stock.py:38)",
        f"> 1 Stock.ship (src/inventory/stock.py:{_stock_line('self.take(sku, count)')})",
        f"  2 Stock.take (src/inventory/stock.py:{_stock_line('def take(')})",
    ]


@pytest.mark.slow
def test_watch_shows_a_path_at_every_stop(demo: Demo) -> None:
    lines = prompt_session(demo.root, DEMO_TEST, "step 1", "watch order.lines", "n", "n", "n")
    shown = [line for line in lines if line.startswith("watch order.lines = ")]
    assert shown[0] == "watch order.lines = (no 'order' here)"
    assert shown[-1] == "watch order.lines = [('pear', 1)]"  # after ship: one line left


@pytest.mark.slow
def test_history_lists_each_change_with_what_ran(demo: Demo) -> None:
    lines = prompt_session(demo.root, DEMO_TEST, "history order.lines")
    told = answers(lines, "history order.lines")
    assert told[0] == (
        f"history of order.lines (the object in {TEST_FUNCTION}, in every frame that holds it):"
        " 6 change(s)"
    )
    changes = [line for line in told if line.startswith("step ")]
    assert changes[4] == (
        "step 15: [('apple', 1), ('pear', 1), ('plum', 1)] → [('pear', 1), ('plum', 1)]"
        "  (as order.lines in Stock.ship)"
    )
    ran = told[told.index(changes[4]) + 1]
    assert f"in Stock.ship at src/inventory/stock.py:{_stock_line('self.take(sku, count)')}" in ran


@pytest.mark.slow
def test_history_follows_the_object_into_a_callee(tmp_path: Path) -> None:
    """fixtures/history: the test's items, appended to in fill() as acc. From the test's
    frame, and from inside fill: the same changes, fill's with fill's line."""
    record_history(tmp_path)
    test = "test_items_are_filled_elsewhere"
    source = (FIXTURES / "history" / "test_history.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "acc.append(number)" in text)
    lines = prompt_session(tmp_path, test, "history items", "step 5", "history acc")
    for command in ("history items", "history acc"):
        told = answers(lines, command)
        assert "step 7: [] → [0]  (as acc in fill)" in told
        ran = told[told.index("step 7: [] → [0]  (as acc in fill)") + 1]
        assert ran == f"    after step 6, in fill at test_history.py:{line}: acc.append(number)"
        assert "step 21: [0, 1] → [0, 1, 2]  (as things in Box.put)" in told


@pytest.mark.slow
def test_list_shows_the_recorded_source(demo: Demo) -> None:
    lines = prompt_session(demo.root, DEMO_TEST, "l")
    listed = answers(lines, "l")
    assert listed[0].split() == ["34"]  # five lines above the current one, to the file's end
    assert listed[5].startswith("❱ 39     assert stock.levels ==")
    assert listed[-1].split() == ["41"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("frobnicate now", "*** unknown command 'frobnicate'; `help` lists the commands"),
        ("p nosuch", "*** no 'nosuch' here"),
        ("p stock.nosuch", "*** stock has no recorded attribute 'nosuch'"),
        ("p stock.levels[", "*** 'stock.levels[' is not a valid expression"),
        ("p len(stock)", "*** 'len(stock)' is not a path: give a name with attributes and"
         " constant subscripts, like self.items[3]"),
        ("step 999", "*** step 999 is out of range: 1 to 20"),
        ("step x", "*** 'x' is not a step number"),
        ("n 3", "*** n takes no argument"),
        ("b nowhere.py:3", "*** no recorded step is in a file named like 'nowhere.py'"),
        ("b nosuchfunction", "*** no recorded function is named 'nosuchfunction'"),
        ("b Stock.take, count >", "*** bad condition: 'count >' is not a valid expression"),
        ("b Stock.take, __import__('os')", "*** bad condition: only len(PATH) can be called in"
         " \"__import__('os')\""),
        ("cl 7", "*** there is no breakpoint 7"),
        ("catch everything", "*** catch takes on or off, not 'everything'"),
        ("diff", f"*** no passing recording of tests/test_stock.py::{DEMO_TEST} to compare with"),
        ("u", "*** oldest frame"),
    ],
)  # fmt: skip
def test_a_bad_command_answers_one_line(demo: Demo, command: str, answer: str) -> None:
    lines = prompt_session(demo.root, DEMO_TEST, command, "s")
    assert answers(lines, command) == [answer]
    assert len(stops(lines)) == 2  # and the prompt goes on


@pytest.mark.slow
def test_help_names_the_reverse_commands(demo: Demo) -> None:
    told = "\n".join(answers(prompt_session(demo.root, DEMO_TEST, "help"), "help"))
    assert "rn, rs, rr, rc" in told
    assert "backwards" in told


@pytest.mark.slow
def test_interactive_takes_no_json(demo: Demo) -> None:
    result = run_replay(demo.root, DEMO_TEST, "-i", "--format", "json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--interactive is a prompt for people" in result.stderr


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    record_compare(root)
    return root


@pytest.mark.slow
def test_diff_against_the_last_pass_at_the_aligned_step(compared: Path) -> None:
    lines = prompt_session(compared, "test_price", "diff")
    told = answers(lines, "diff")
    assert told[0].startswith("Compared with run ")
    assert told[0].endswith(": the last step both runs did alike")
    (charged,) = [line for line in told if "test_price: charged" in line]
    assert charged.split()[-2:] == ["80.0", "90.0"]


@pytest.mark.slow
def test_diff_follows_the_stop(compared: Path) -> None:
    rows = replay_json(compared, "test_price", "--timeline")
    (returned,) = [row["step"] for row in rows if row["function"] == "discount_rate"
                   and row["kind"] == "return"]  # fmt: skip
    lines = prompt_session(compared, "test_price", f"step {returned}", "diff")
    told = answers(lines, "diff")
    assert told[0].endswith(": the same step")
    assert any("discount_rate: rate" in line and "0.2" in line and "0.1" in line for line in told)


_LOGIN = (
    "import os, sys; os.login_tty(int(sys.argv[1]));"
    " os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


class Terminal:
    """``scope-replay -i`` on a pseudo-terminal, as a user at a terminal runs it."""

    def __init__(self, root: Path, *args: str) -> None:
        import pty

        self.fd, follower = pty.openpty()
        # The child makes the terminal its controlling one, as a login shell's is, then
        # becomes scope-replay; no fork() of this (possibly multi-threaded) process.
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOGIN, str(follower), "-m", "replay.cli", *args],
            cwd=root,
            pass_fds=(follower,),
            env={**os.environ, "TERM": "dumb"},
        )
        os.close(follower)
        self.output = b""

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait_for(self, text: bytes) -> bytes:
        """The output up to ``text`` (which must come within a minute), consumed."""
        deadline = time.monotonic() + 60
        while text not in self.output:
            assert time.monotonic() < deadline, self.output.decode(errors="replace")
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:  # the other end closed: the process ended
                    raise AssertionError(self.output.decode(errors="replace")) from None
        seen, _, self.output = self.output.partition(text)
        return seen + text

    def exit_status(self) -> int:
        code = self.process.wait(timeout=60)
        os.close(self.fd)
        return code


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_at_a_terminal_names_complete_and_commands_recall(demo: Demo) -> None:
    terminal = Terminal(demo.root, DEMO_TEST, "-i")
    terminal.wait_for(b"(scope) ")
    terminal.type(b"p ord\t.li\t\r")  # readline completes the local, then its attribute
    assert terminal.wait_for(b"(scope) ").startswith(b"p order.lines\r\n[('pear', 1)]")
    terminal.type(b"rs\r")
    assert b"step 18 of 20" in terminal.wait_for(b"(scope) ")
    terminal.type(b"\x1b[A\r")  # readline's history: the last command again
    assert b"step 17 of 20" in terminal.wait_for(b"(scope) ")
    terminal.type(b"q\r")
    assert terminal.exit_status() == 0


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_ctrl_c_drops_the_line_and_the_prompt_goes_on(demo: Demo) -> None:
    """As at pdb's prompt: Ctrl-C (the terminal's interrupt, \\x03) while a line is typed
    drops it, says so in one line, and a fresh prompt takes the next command; never a
    traceback. q still leaves with 0."""
    from replay.interactive.prompt import INTERRUPTED

    terminal = Terminal(demo.root, DEMO_TEST, "-i")
    seen = terminal.wait_for(b"(scope) ")
    terminal.type(b"p ord")
    terminal.type(b"\x03")
    seen += terminal.wait_for(INTERRUPTED.encode() + b"\r\n(scope) ")
    terminal.type(b"w\r")  # not "p ordw": the interrupted line is gone
    answer = terminal.wait_for(b"(scope) ")
    assert answer.startswith(b"w\r\n> 0 test_ship_takes_every_line (tests/test_stock.py:39)")
    terminal.type(b"\x03")  # at an empty prompt too
    seen += answer + terminal.wait_for(INTERRUPTED.encode() + b"\r\n(scope) ")
    terminal.type(b"q\r")
    assert terminal.exit_status() == 0
    assert b"Traceback" not in seen + terminal.output


@pytest.mark.slow
def test_ctrl_c_before_the_prompt_is_one_line(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupt while the recording is read (a long timeline): one line, exit 130."""
    from replay import cli

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.chdir(demo.root)
    monkeypatch.setattr(cli, "_interact", interrupted)
    assert cli.main([DEMO_TEST, "-i"]) == cli.INTERRUPTED_EXIT
    captured = capsys.readouterr()
    assert captured.err == "\nscope-replay: interrupted\n"
    assert captured.out == ""


def test_the_replay_page_documents_every_command() -> None:
    """Each command of the prompt, in pdb's short form where there is one, is on the replay
    page of the docs and in `help`."""
    from replay.interactive.prompt import HELP_TEXT, ReplayPrompt

    page = (REPO / "docs" / "pages" / "replay.md").read_text()
    section = page.split("\n## Step through it: the prompt\n")[1].split("\n## ")[0]
    commands = {name[3:] for name in dir(ReplayPrompt) if name.startswith("do_")}
    long_forms = {"next", "return", "continue", "cont", "where", "bt", "up", "down", "list",
                  "break", "clear", "quit", "exit", "EOF"}  # fmt: skip
    for command in sorted(commands - long_forms):
        assert f"`{command}" in section or f", {command}" in section, command
        assert command == "help" or command in HELP_TEXT, command
