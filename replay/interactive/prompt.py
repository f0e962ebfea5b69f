"""``scope-replay TEST_ID -i``: a pdb-like prompt over a recording, forwards and backwards.

It starts at the failure point. pdb's words mean what they mean in pdb (``n``, ``s``,
``r``, ``c``, ``b``, ``w``, ``u``, ``d``, ``l``, ``p``, ``pp``, ``q``); each move has a
reverse twin with an ``r`` in front (``rn``, ``rs``, ``rr``, ``rc``). As pdb's, ``c`` stops
at breakpoints and at the failure; ``catch on`` makes it stop at every raised exception
too, as the DAP server's "every raised exception" filter does. Nothing is run
again: every stop is ``replay.reading.state.state_at`` of a step, and ``p`` reads paths into the
recorded values (``replay.reading.query``), never evaluating anything.

Every problem with a command (an unknown word, a name that is not there, a step out of
range, even a corrupt chunk met on the way) is one line starting with ``***``, as in pdb,
and the prompt goes on.
"""

from __future__ import annotations

import cmd
import json
import sys
from contextlib import nullcontext
from typing import IO, Any, Final

from rich.console import Console
from rich.text import Text

from pytest_scope.errors import ScopeError
from replay.comparing.compare import Comparer, Recorded
from replay.interactive.readline_interrupts import immediate_interrupts
from replay.reading.cursor import FAILURE, RAISED, Cursor, names_at
from replay.reading.format_facts import exception_summary
from replay.reading.query import ExpressionError, parse_path, resolve
from replay.reading.value_history import history
from replay.views.text_view import (
    format_value,
    render_diff,
    render_history,
    short_path,
    source_excerpt,
)

PROMPT: Final = "(scope) "
INTERRUPTED: Final = "--KeyboardInterrupt-- (q or Ctrl-D leaves)"
HELP_TEXT: Final = """\
Moving (each stays in the thread of the current step):
  n, next          the next step in this frame or a caller (over calls)
  s, step          the next step, into calls
  r, return        where this frame returns
  c, continue      the next breakpoint, or the exception that failed the test
  rn, rs, rr, rc   the same, backwards: rr goes back to where this frame was called
  catch on|off     c and rc also stop at every exception raised, caught or not
                   (catch alone: where they stop now; off by default, as in pdb)
  step N           jump to step N
Looking:
  w, where         the call stack;  u, up / d, down: select a caller / callee frame
  l, list          the recorded source around the selected frame's line
  p PATH, pp PATH  a recorded value: a local, self.items[3], d['key'], __exception__,
                   __return__ (pp: the recorded form, in full)
  diff             what differs from the last passing recording at the aligned step
  history PATH     every step at which the value at PATH changed, and what ran before it
  watch PATH       show PATH at every stop (watch alone lists them; unwatch PATH)
Breakpoints:
  b [FILE:]LINE[, CONDITION]   b FUNCTION[, CONDITION]   b (list)   cl N (clear)
  CONDITION compares recorded values: count > 1 and sku == 'pear', len(order.lines) < 2
  q, quit          leave          (an empty line repeats the last command, as in pdb)
  Ctrl-C           drop the line being typed, or stop the command running; the prompt
                   goes on, as pdb's does (q or Ctrl-D leaves)
"""


class ReplayPrompt(cmd.Cmd):
    """The prompt; the moves and breakpoints are the ``Cursor``'s."""

    def __init__(
        self,
        cursor: Cursor,
        against: Recorded | None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
    ) -> None:
        stdin = stdin or sys.stdin
        stdout = stdout or sys.stdout
        self._tty = stdin.isatty()
        super().__init__(stdin=stdin, stdout=stdout)
        self.use_rawinput = self._tty  # readline's history and completion at a terminal
        self.prompt = PROMPT if self._tty else ""
        self.cursor = cursor
        self.compared = (
            None if against is None else Comparer(Recorded(cursor.trace, cursor.test), against)
        )
        self.frame = -1  # the selected frame, an index into the stack
        self.watches: list[str] = []
        self.console = Console(file=stdout, highlight=False, soft_wrap=not self._tty)
        self.rootdir = cursor.trace.meta_of(cursor.test).get("rootdir")

    # The loop.

    def preloop(self) -> None:
        if self._tty:
            try:
                import readline
            except ImportError:  # no readline here: the prompt works, without completion
                pass
            else:  # paths complete whole: self.items, not just what follows the dot
                readline.set_completer_delims(" \t\n`@#%^&*()=+{}|;:'\",<>?")

    def precmd(self, line: str) -> str:
        if not self._tty and line != "EOF":  # a script: echo it, the output reads as a session
            self.console.print(Text(PROMPT + line.rstrip("\n")))
        return line

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (ExpressionError, ScopeError) as exc:
            self._error(str(exc))
        except RecursionError:
            self._error("a recorded value is nested too deeply to show")
        return False

    def default(self, line: str) -> None:
        word = line.split()[0] if line.split() else line
        self._error(f"unknown command {word!r}; `help` lists the commands")

    def do_help(self, arg: str) -> None:
        """help: the commands."""
        if arg:
            super().do_help(arg)
            return
        self.console.print(Text(HELP_TEXT.rstrip()))

    def _error(self, message: str) -> None:
        self.console.print(Text("*** " + " ".join(message.split())))

    # Moves.

    def _go(self, step: int | None, nothing: str, reason: str | None = None) -> None:
        if step is None:
            self._error(nothing)
            return
        self.cursor.step = step
        self.frame = -1
        if reason:
            self.console.print(Text(f"stopped: {reason}", style="bold"))
        self.show_stop()

    def _no_argument(self, arg: str, command: str) -> bool:
        if arg.strip():
            self._error(f"{command} takes no argument")
            return False
        return True

    def do_n(self, arg: str) -> None:
        """n(ext): the next step in this frame or a caller."""
        if self._no_argument(arg, "n"):
            self._go(self.cursor.step_over(), "no later step in this frame or a caller")

    def do_rn(self, arg: str) -> None:
        """rn: back to the step before in this frame or a caller."""
        if self._no_argument(arg, "rn"):
            self._go(self.cursor.step_over(False), "no earlier step in this frame or a caller")

    def do_s(self, arg: str) -> None:
        """s(tep): the next step, into calls; step N jumps to step N."""
        if self._no_argument(arg, "s"):
            self._go(self.cursor.step_into(), "no later step in this thread")

    def do_rs(self, arg: str) -> None:
        """rs: back one step, into the calls made before."""
        if self._no_argument(arg, "rs"):
            self._go(self.cursor.step_into(False), "no earlier step in this thread")

    def do_r(self, arg: str) -> None:
        """r(eturn): where this frame returns."""
        if self._no_argument(arg, "r"):
            self._go(self.cursor.step_out(), "this frame does not return in the recording")

    def do_rr(self, arg: str) -> None:
        """rr: back to where this frame was called."""
        if self._no_argument(arg, "rr"):
            self._go(self.cursor.step_out(False), "the recording starts inside this frame")

    def do_c(self, arg: str) -> None:
        """c(ontinue): the next breakpoint, or the failure (catch on: or exception raised)."""
        if self._no_argument(arg, "c"):
            step, reason = self.cursor.resume()
            self._go(step, f"no {self._stops()} ahead: the recording ends there", reason)

    def do_rc(self, arg: str) -> None:
        """rc: back to the previous breakpoint, failure (catch on: or exception raised)."""
        if self._no_argument(arg, "rc"):
            step, reason = self.cursor.resume(False)
            self._go(step, f"no {self._stops()} before this step", reason)

    def do_catch(self, arg: str) -> None:
        """catch on|off: whether c and rc also stop at every exception raised."""
        choice = arg.strip()
        if choice == "on":
            self.cursor.exception_stops |= {RAISED}
        elif choice == "off":
            self.cursor.exception_stops -= {RAISED}
        elif choice:
            self._error(f"catch takes on or off, not {choice!r}")
            return
        self.console.print(Text(f"c and rc stop at each {self._stops()}"))

    def _stops(self) -> str:
        """What c and rc stop at: ``breakpoint or failure of the test`` and so on."""
        stops = ["breakpoint"]
        if FAILURE in self.cursor.exception_stops:
            stops.append("failure of the test")
        if RAISED in self.cursor.exception_stops:
            stops.append("exception raised")
        return ", ".join(stops[:-1]) + " or " + stops[-1] if len(stops) > 1 else stops[0]

    def do_step(self, arg: str) -> None:
        """step N: jump to step N (step alone: as s)."""
        if not arg.strip():
            self.do_s("")
            return
        try:
            step = int(arg)
        except ValueError:
            self._error(f"{arg.strip()!r} is not a step number")
            return
        if not self.cursor.first <= step <= self.cursor.last:
            self._error(f"step {step} is out of range: {self.cursor.first} to {self.cursor.last}")
            return
        self._go(step, "")

    # Looking.

    def do_w(self, arg: str) -> None:
        """w(here): the call stack, outermost first; > marks the selected frame."""
        if not self._no_argument(arg, "w"):
            return
        stack = self.cursor.state().stack
        selected = self.frame % len(stack)
        for depth, frame in enumerate(stack):
            mark = ">" if depth == selected else " "
            where = f"{short_path(frame['file'], self.rootdir)}:{frame['line']}"
            self.console.print(Text(f"{mark} {depth} {frame['function']} ({where})"))

    def do_u(self, arg: str) -> None:
        """u(p): select the caller of the selected frame."""
        self._move_frame(arg, -1)

    def do_d(self, arg: str) -> None:
        """d(own): select the callee of the selected frame."""
        self._move_frame(arg, 1)

    def _move_frame(self, arg: str, direction: int) -> None:
        if not self._no_argument(arg, "u" if direction < 0 else "d"):
            return
        stack = self.cursor.state().stack
        selected = self.frame % len(stack) + direction
        if not 0 <= selected < len(stack):
            self._error("oldest frame" if direction < 0 else "newest frame")
            return
        self.frame = selected - len(stack)
        frame = stack[selected]
        where = f"{short_path(frame['file'], self.rootdir)}:{frame['line']}"
        self.console.print(Text(f"> {selected} {frame['function']} ({where})"))

    def do_l(self, arg: str) -> None:
        """l(ist): the recorded source around the selected frame's line."""
        if not self._no_argument(arg, "l"):
            return
        frame = self.cursor.state().stack[self.frame]
        source = self.cursor.trace.source(frame["file"], self.cursor.test)
        if source is None:
            self._error(f"the source of {short_path(frame['file'], self.rootdir)} was not recorded")
            return
        self.console.print(source_excerpt(source, int(frame["line"])))

    def _value(self, arg: str) -> Any:
        if not arg.strip():
            raise ExpressionError("give a name or path, like p self.items[3]")
        return resolve(names_at(self.cursor.state(), self.frame), parse_path(arg))

    def do_p(self, arg: str) -> None:
        """p PATH: a recorded value, compactly."""
        self.console.print(Text(format_value(self._value(arg), limit=10_000)))

    def do_pp(self, arg: str) -> None:
        """pp PATH: a recorded value in its recorded (JSON) form, in full."""
        self.console.print(Text(json.dumps(self._value(arg), indent=2, ensure_ascii=False)))

    def do_diff(self, arg: str) -> None:
        """diff: what differs from the last passing recording at the aligned step."""
        if not self._no_argument(arg, "diff"):
            return
        if self.compared is None:
            self._error(f"no passing recording of {self.cursor.test.nodeid} to compare with")
            return
        state = self.cursor.state()
        render_diff(self.console, state, self.compared.at(state), self.rootdir)

    def do_history(self, arg: str) -> None:
        """history PATH: every step at which the value at PATH changed."""
        path = parse_path(arg) if arg.strip() else None
        if path is None:
            self._error("give a name or path, like history self.items")
            return
        render_history(self.console, history(self.cursor, path, self.frame), self.rootdir)

    def do_watch(self, arg: str) -> None:
        """watch PATH: show PATH at every stop; watch alone lists them."""
        if not arg.strip():
            for text in self.watches or ["(nothing watched)"]:
                self.console.print(Text(text))
            return
        text = str(parse_path(arg))
        if text not in self.watches:
            self.watches.append(text)
        self._show_watches()

    def do_unwatch(self, arg: str) -> None:
        """unwatch PATH: stop showing PATH."""
        text = str(parse_path(arg)) if arg.strip() else ""
        if text not in self.watches:
            self._error(f"{arg.strip()!r} is not watched (watch lists them)")
            return
        self.watches.remove(text)

    # Breakpoints.

    def do_b(self, arg: str) -> None:
        """b [FILE:]LINE[, CONDITION] or b FUNCTION[, CONDITION]; b alone lists them."""
        if not arg.strip():
            for breakpoint in self.cursor.breakpoints:
                self.console.print(Text(breakpoint.describe()))
            if not self.cursor.breakpoints:
                self.console.print(Text("no breakpoints"))
            return
        place, _, condition = arg.partition(",")
        place = place.strip()
        if place.isdigit():  # pdb's `b LINE`: in the selected frame's file
            place = f"{self.cursor.state().stack[self.frame]['file']}:{place}"
        breakpoint = self.cursor.add_breakpoint(place, condition.strip() or None)
        self.console.print(Text(f"set {breakpoint.describe()}"))

    def do_cl(self, arg: str) -> None:
        """cl(ear) N: remove breakpoint N."""
        if not arg.strip().isdigit():
            self._error("give the number of a breakpoint (b lists them)")
            return
        self.cursor.remove_breakpoint(int(arg))
        self.console.print(Text(f"cleared breakpoint {int(arg)}"))

    def do_q(self, arg: str) -> bool:
        """q(uit): leave."""
        return True

    def do_EOF(self, arg: str) -> bool:
        """Ctrl-D, or the end of a script: leave."""
        if self._tty:
            self.console.print()
        return True

    # pdb's long names.
    do_next = do_n
    do_return = do_r
    do_continue = do_cont = do_c
    do_where = do_bt = do_w
    do_up = do_u
    do_down = do_d
    do_list = do_l
    do_break = do_b
    do_clear = do_cl
    do_quit = do_exit = do_q

    # Completion of names and attributes, as pdb completes them.

    def _complete_path(self, text: str, *_: Any) -> list[str]:
        head, dot, tail = text.rpartition(".")
        names = names_at(self.cursor.state(), self.frame)
        if not dot:
            return sorted(name for name in names if name.startswith(text))
        try:
            value = resolve(names, parse_path(head))
        except ExpressionError:
            return []
        attrs = value.get("attrs") if isinstance(value, dict) else None
        if not isinstance(attrs, dict):
            return []
        return sorted(f"{head}.{name}" for name in attrs if name.startswith(tail))

    complete_p = complete_pp = complete_watch = complete_unwatch = _complete_path
    complete_history = _complete_path

    def complete_b(self, text: str, *_: Any) -> list[str]:
        places = {row["function"].rsplit(".", 1)[-1] for row in self.cursor.rows}
        places |= {row["function"] for row in self.cursor.rows}
        places |= {row["file"].rsplit("/", 1)[-1] + ":" for row in self.cursor.rows}
        return sorted(place for place in places if place.startswith(text))

    complete_break = complete_b

    # What a stop shows.

    def show_stop(self) -> None:
        state = self.cursor.state()
        event = state.event
        where = f"{short_path(event['file'], self.rootdir)}:{event['line']}"
        header = (
            f"step {state.step} of {state.steps} · {event['kind']} in {event['function']}"
            f" at {where} (thread {event['thread']})"
        )
        self.console.print(Text(header, style="bold"))
        source = self.cursor.trace.source(event["file"], self.cursor.test)
        lines = source.splitlines() if source is not None else []
        line = int(event["line"])
        if 0 < line <= len(lines):
            self.console.print(Text(f"{line:>5} → {lines[line - 1].strip()}"))
        if state.exception is not None:
            self.console.print(
                Text("exception: ", style="bold red")
                + Text(exception_summary(state.exception) or format_value(state.exception))
            )
        if event["kind"] in ("return", "yield"):
            verb = "yielded" if event["kind"] == "yield" else "returned"
            value = Text(format_value(state.return_value))
            self.console.print(Text(f"{verb}: ", style="bold") + value)
        self._show_watches()

    def _show_watches(self) -> None:
        names = names_at(self.cursor.state(), self.frame)
        for text in self.watches:
            try:
                shown = format_value(resolve(names, parse_path(text)))
            except ExpressionError as exc:
                shown = f"({exc})"
            self.console.print(Text(f"watch {text} = {shown}"))


def interact(cursor: Cursor, against: Recorded | None) -> None:
    """Run the prompt on the terminal (or a script on stdin) until ``q`` or the end.

    Ctrl-C drops the line being typed, or stops the command running, and the prompt goes
    on with a fresh line, as pdb's does: people press it to get out of a line or a long
    ``history``, not to lose their place and breakpoints."""
    prompt = ReplayPrompt(cursor, against)
    prompt.console.print(Text("`help` lists the commands, `q` leaves."))
    prompt.show_stop()
    with immediate_interrupts() if prompt.use_rawinput else nullcontext():
        while True:
            try:
                prompt.cmdloop(intro="")
                return
            except KeyboardInterrupt:
                prompt.console.print(Text("\n" + INTERRUPTED))
