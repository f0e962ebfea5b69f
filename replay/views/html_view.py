"""The self-contained HTML viewer: one file, the recording embedded, nothing fetched.

The page carries what ``state_at`` reads (each chunk's keyframe and events, decoded to
JSON) and ports ``state.Replay.apply`` to JavaScript, so any step is rebuilt in the
browser from its chunk, as replay does here: the page holds deltas, never a state per
step. The events are gzip-compressed and base64-encoded (a recording's JSON compresses
about 15 to 1; browsers inflate it with ``DecompressionStream``): a test of 100,000 steps
makes a viewer of about 1 MB.

Everything recorded is untrusted (a trace file may come from anyone's CI). The data sits
in a ``<script type="application/json">`` element with ``<``, ``>``, ``&`` and the JavaScript
line separators escaped, so no recorded text can end that element; the script renders it
with ``textContent`` only; and the page's Content-Security-Policy runs no script but its
own (by hash), allows no inline event handler and no network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pytest_scope import __version__
from pytest_scope.trace.reader import RecordedTest, TraceFile
from pytest_scope.trace.schema import (
    CONTAINER_NAMES,
    KIND_NAMES,
    LEAVING_KINDS,
    MARKS,
    RESOLVE_DEPTH,
    RESOLVE_NODES,
)
from replay.comparing.compare import (
    Comparer,
    DivergenceReport,
    Recorded,
    StateDiff,
    compare_at,
    diverge,
)
from replay.comparing.last_pass import describe
from replay.reading.format_facts import ASSERTION_TEMPORARIES
from replay.reading.kept_chunks import ChunkKeeping
from replay.reading.state import failure_step, state_at
from replay.views.json_view import diff_document

VIEWER_FORMAT: Final = 1
_PLACEHOLDER: Final = re.compile(r"\{\{(csp|title|style|data|script)\}\}")
_ESCAPES: Final = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


# The steps whose diff the page carries: every step of a test up to this long; of a longer
# one, this many (``diffed_steps``), and no more than this many seconds of CPU time spent
# computing them (CPU time: about as many on a busy machine). Each costs both states and a
# comparison (5 ms a step in a row, 17 ms alone, more for a bigger state); packed, each adds
# a few bytes.
STEP_DIFFS: Final = 300
STEP_DIFFS_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the page shows of the last passing recording, computed by
    ``replay.comparing.compare``."""

    diff: StateDiff | None = None
    divergence: DivergenceReport | None = None
    note: str | None = None
    # The alignment, ``(this_step, other_step, length)``: the page finds the aligned step of
    # whichever step is on screen.
    segments: list[tuple[int, int, int]] | None = None
    # The diff at each of ``diffed_steps``, ``diff_document`` by step; the page shows the
    # one of the step on screen, or says which is the nearest.
    step_diffs: dict[str, Any] | None = None


def viewer_data(
    trace: TraceFile,
    test: RecordedTest,
    open_step: int | None = None,
    comparison: Comparison | None = None,
) -> dict[str, Any]:
    """The document the page reads: the test, its codes and sources, the chunks (packed)."""
    step = failure_step(trace, test) if open_step is None else open_step
    chunks: list[Any] = []
    code_nos: set[int] = set()
    for chunk in trace.chunks(test):
        chunks.append([chunk.first_step, chunk.keyframe, chunk.events])
        for _, frames in chunk.keyframe.get("threads", ()):
            code_nos.update(frame[1] for frame in frames)
        code_nos.update(frame[1] for frame in chunk.keyframe.get("suspended", ()))
        code_nos.update(event[4] for event in chunk.events)
    codes = {}
    sources = {}
    for code_no in sorted(code_nos):
        code = trace.code(code_no)
        codes[str(code_no)] = [code.qualname, code.filename, code.firstlineno]
        if code.filename not in sources:
            sources[code.filename] = trace.source(code.filename, test)
    comparison = comparison or Comparison()
    return {
        "format": VIEWER_FORMAT,
        "generator": f"pytest-scope {__version__}",
        "test": test.nodeid,
        "run": trace.run_id_of(test),
        "attempt": test.attempt,
        "outcome": test.outcome,
        "steps": test.steps,
        "first_step": test.first_step,
        "dropped_steps": test.dropped_steps,
        "failure_step": test.failure_step,
        "incomplete": test.incomplete,
        "open_step": step,
        "rootdir": trace.meta_of(test).get("rootdir"),
        "codes": codes,
        "sources": sources,
        "diff": None if comparison.diff is None else diff_document(comparison.diff),
        "divergence": _divergence(comparison),
        "note": comparison.note,
        "alignment": comparison.segments,
        "step_diffs": None if comparison.step_diffs is None else _pack(comparison.step_diffs),
        "trace_format": _trace_format(),
        "format_facts": _format_facts(),
        "chunks": _pack(chunks),
    }


def _trace_format() -> dict[str, Any]:
    """What the page's script knows of the trace format, from ``pytest_scope.trace.schema``
    (the script copies none of it): the kinds' names by number, the kinds after which a
    frame leaves its stack, the values' marks, the containers' names by number (an object
    entry's last element) and the bounds references resolve within."""
    return {
        "kinds": list(KIND_NAMES),
        "leaving": sorted(LEAVING_KINDS),
        "marks": list(MARKS),
        "containers": list(CONTAINER_NAMES),
        "resolve_depth": RESOLVE_DEPTH,
        "resolve_nodes": RESOLVE_NODES,
    }


def _format_facts() -> dict[str, Any]:
    """What the page's script knows of the recorded forms' meaning, from
    ``replay.reading.format_facts`` (the script copies none of it): the prefixes of pytest's
    assertion temporaries, hidden until the page's checkbox shows them."""
    return {"assertion_temporaries": list(ASSERTION_TEMPORARIES)}


def _divergence(comparison: Comparison) -> dict[str, Any] | None:
    report = comparison.divergence
    if report is None:
        return None
    return {
        "by": report.by,
        "plans": report.plans,
        "step": None if report.this is None else report.this.step,
        "against_step": None if report.against is None else report.against.step,
        "event": None if report.this is None else report.this.event,
        "against_event": None if report.against is None else report.against.event,
        "changes": report.changes,
        "omitted": report.omitted,
        "cut": report.cut,
        "set_aside": report.set_aside,
    }


def _pack(document: Any) -> str:
    """``base64(gzip(JSON))``: base64 holds no character that could close a script element.
    The chunks and the step diffs are packed: both repeat themselves from step to step."""
    raw = _json(document).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def render_viewer(data: dict[str, Any]) -> str:
    """The page: the template with its style, script and ``data`` inlined."""
    assets = resources.files("replay.views.viewer")
    template = assets.joinpath("viewer.html").read_text(encoding="utf-8")
    style = assets.joinpath("viewer.css").read_text(encoding="utf-8")
    script = assets.joinpath("viewer.js").read_text(encoding="utf-8")
    fields = {
        "csp": content_security_policy(script, style),
        "title": html.escape(f"{data['test']} - pytest-scope"),
        "style": style,
        "data": script_json(data),
        "script": script,
    }
    # One pass over the template: a recorded value that spells a placeholder stays text.
    return _PLACEHOLDER.sub(lambda match: fields[match.group(1)], template)


def write_viewer(path: Path, data: dict[str, Any]) -> int:
    """Write the page; its size in bytes."""
    page = render_viewer(data).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(page)
    return len(page)


def content_security_policy(script: str, style: str) -> str:
    """Only the page's own script and style, by hash; no network, no inline handlers."""
    return (
        "default-src 'none'; "
        f"script-src {_hash(script)}; "
        f"style-src {_hash(style)}; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )


def script_json(document: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``, whatever it holds."""
    return _json(document).translate(_ESCAPES)


def _json(document: Any) -> str:
    """JSON of ``document``, with each lone surrogate of a recorded str (which UTF-8 cannot
    hold) written as its ``\\uXXXX`` escape, which JSON reads back as the same character."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_foreign)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _foreign(value: object) -> dict[str, str]:
    """A value msgpack decoded that JSON lacks (bytes, ext), as the ``$type`` form."""
    return {"$type": type(value).__name__, "repr": repr(value)[:200]}


def _hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


def compare(
    trace: TraceFile, test: RecordedTest, step: int, against: Recorded | None
) -> Comparison:
    """The diff at ``step`` and the first divergence from ``against``, when there is one."""
    if against is None:
        return Comparison(note=f"no passing recording of {test.nodeid} to compare with")
    # The step diffs walk both recordings in order, with readers that keep their chunk.
    this_reader, against_reader = ChunkKeeping(trace), ChunkKeeping(against.trace)
    try:
        compared = Comparer(Recorded(this_reader, test), Recorded(against_reader, against.test))
        divergence = diverge(compared.this, compared.against, compared.aligned)
        parted = None if divergence.this is None else divergence.this.step
        deadline = time.process_time() + STEP_DIFFS_SECONDS
        step_diffs: dict[str, Any] = {}
        for each in diffed_steps(test.first_step, test.steps, step, parted):
            if step_diffs and time.process_time() > deadline:
                break
            step_diffs[str(each)] = diff_document(compared.at(state_at(this_reader, test, each)))
    finally:
        this_reader.close()
        against_reader.close()
    return Comparison(  # the diff keeps its side: what is read of it after, by ``against``
        diff=compare_at(
            state_at(trace, test, step), Recorded(trace, test), against, compared.aligned
        ),
        divergence=divergence,
        segments=compared.aligned.segments,
        step_diffs=step_diffs,
    )


def diffed_steps(
    first: int, last: int, open_step: int, divergence: int | None, budget: int = STEP_DIFFS
) -> list[int]:
    """The steps whose diff the page carries, the most wanted first (the page gets as many
    as ``STEP_DIFFS_SECONDS`` allows). All of a test of at most ``budget`` steps, from the
    step the page opens at; of a longer one, at most ``budget``: three fifths around the
    step it opens at (most before it: people step back from the failure), a fifth around
    the first divergence, and the rest spread evenly, so the nearest diff is never far."""
    if last - first < budget:
        return _outward(first, last, open_step, last - open_step)
    near_open, near_divergence = budget * 3 // 5, budget // 5
    wanted = _outward(first, last, open_step, near_open // 10, near_open * 9 // 10)
    if divergence is not None:
        wanted += _outward(first, last, divergence, near_divergence // 2, near_divergence // 2)
    spread = budget - len(set(wanted))
    wanted += [first + (last - first) * n // spread for n in range(spread)]
    return list(dict.fromkeys(wanted))  # each once, where it is first wanted


def _outward(
    first: int, last: int, centre: int, after: int, before: int | None = None
) -> list[int]:
    """``centre``, the ``after`` steps after it, then the ``before`` steps before it going
    back (all of them when None), within ``first`` to ``last``: in the order a reader that
    keeps its chunk walks them cheaply."""
    back_to = first if before is None else max(first, centre - before)
    return [*range(centre, min(last, centre + after) + 1), *range(centre - 1, back_to - 1, -1)]


def export_viewer(
    path: Path,
    trace: TraceFile,
    test: RecordedTest,
    step: int | None,
    against: Recorded | None,
    *,
    assertion_temporaries: bool = False,
    against_choice: str = "last-pass",
) -> tuple[int, Comparison]:
    """Write the viewer of ``test`` opening at ``step`` (default: the failure); its size,
    and the comparison it shows (the artifacts' index tells of it too).

    ``assertion_temporaries``: the page shows pytest's ``@py_assert*`` locals from the
    start (a checkbox toggles them either way). ``against_choice`` is how ``against`` was
    chosen (``last-pass`` or a run), so the comparison panel names it rightly.
    """
    step = failure_step(trace, test) if step is None else step
    state_at(trace, test, step)  # a step out of range is bad input before anything is written
    comparison = compare(trace, test, step, against)
    data = viewer_data(trace, test, step, comparison)
    data["assertion_temporaries"] = assertion_temporaries
    data["against_choice"] = against_choice
    if against is not None:  # which build the pass is from; its file by name, as copied
        data["against_build"] = describe(against.trace, against.test, against.trace.path.name)
    return write_viewer(path, data), comparison
