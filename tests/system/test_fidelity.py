"""The fidelity oracle: replayed state equals ground truth captured by sys.settrace.

The samples in fixtures/fidelity are recorded with ``--scope-level lines``; separately,
a plain interpreter runs the same test functions under ``sys.settrace`` and snapshots
every frame's locals at every line event with an independent converter. At every line
step, the replayed stack (functions, lines, locals of every frame) must equal the truth:
mutations by callees, by C code, in generators, of ``self`` and in recursion included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from support.paths import FIXTURES

from pytest_scope.trace.reader import TraceFile
from replay.reading.state import state_at, timeline

pytestmark = pytest.mark.slow

SAMPLES = FIXTURES / "fidelity"

# Runs in a separate interpreter: it must not share a converter with the recorder.
GROUND_TRUTH = r"""
import json, sys, types
sample_dir = sys.argv[1]
sys.path.insert(0, sample_dir)
import test_fidelity_samples as tests

def plain(value, path=()):
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    if id(value) in path:
        return {"$type": name, "$cycle": True, **container(value)}
    path = path + (id(value),)
    if kind in (list, tuple):
        return [plain(item, path) for item in value]
    if kind is dict and all(type(key) is str and not key.startswith("$") for key in value):
        return {key: plain(item, path) for key, item in value.items()}
    if kind in (set, frozenset):
        return {"$type": name, "$kind": "set", "items": [plain(item, path) for item in value]}
    if kind is dict:
        pairs = [[plain(k, path), plain(v, path)] for k, v in value.items()]
        return {"$type": name, "$kind": "mapping", "items": pairs}
    if kind in (types.FunctionType, types.GeneratorType, types.MethodType):
        function = value.__func__ if kind is types.MethodType else value
        return {"$type": name, "repr": function.__qualname__}
    if isinstance(value, BaseException):
        return {"$type": name, "attrs": {"args": plain(value.args, path), **attrs(value, path)}}
    if hasattr(value, "__dict__") or slots(kind):
        return {"$type": name, "attrs": attrs(value, path)}
    return {"$type": name}

def container(value):
    # What a container is (schema's "$kind" of a $type form), by its builtin bases.
    for bases, name in ((dict, "mapping"), (list, "sequence"), (tuple, "tuple"),
                        ((set, frozenset), "set")):
        if isinstance(value, bases):
            return {"$kind": name}
    return {}

def slots(kind):
    # Instance attributes stored in slots (``__slots__``, or C members such as
    # StopIteration.value) are instance attributes too (schema's "attrs").
    return [name for klass in kind.__mro__ for name, member in vars(klass).items()
            if type(member) is types.MemberDescriptorType and not name.startswith("__")]

def attrs(value, path):
    found = {k: plain(v, path) for k, v in getattr(value, "__dict__", {}).items()}
    for name in slots(type(value)):
        if hasattr(value, name):
            found[name] = plain(getattr(value, name), path)
    return found

def ours(frame):
    return frame.f_code.co_filename.startswith(sample_dir) and frame.f_code.co_name != "<module>"

steps = []
def trace(frame, event, arg):
    if not ours(frame):
        return None
    if event == "line":
        stack, walker = [], frame
        while walker is not None:
            if ours(walker):
                stack.append({"function": walker.f_code.co_qualname, "line": walker.f_lineno,
                              "locals": {k: plain(v) for k, v in walker.f_locals.items()}})
            walker = walker.f_back
        steps.append({"function": frame.f_code.co_qualname, "line": frame.f_lineno,
                      "stack": stack[::-1]})
    return trace

result = {}
for name in sorted(dir(tests)):
    if name.startswith("test_"):
        steps = []
        sys.settrace(trace)
        try:
            getattr(tests, name)()
        finally:
            sys.settrace(None)
        result[name] = steps
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TraceFile, dict[str, Any]]]:
    workdir = tmp_path_factory.mktemp("fidelity") / "samples"
    shutil.copytree(SAMPLES, workdir, ignore=shutil.ignore_patterns("__pycache__", ".scope"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope",
         "--scope-level", "lines", "-q", str(workdir)],
        cwd=workdir, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    truth = subprocess.run(
        [sys.executable, "-c", GROUND_TRUTH, str(workdir)],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    (trace_path,) = (workdir / ".scope" / "runs").glob("*.sqlite")
    with TraceFile(trace_path) as trace:
        yield trace, json.loads(truth.stdout)


def _sample_tests() -> list[str]:
    source = (SAMPLES / "test_fidelity_samples.py").read_text()
    return [line[4:].split("(")[0] for line in source.splitlines() if line.startswith("def test_")]


@pytest.mark.parametrize("test_name", _sample_tests())
def test_every_line_step_replays_the_true_state(
    recorded: tuple[TraceFile, dict[str, Any]], test_name: str
) -> None:
    trace, truth = recorded
    (test,) = [row for row in trace.tests() if row.nodeid.endswith(f"::{test_name}")]
    line_steps = [row for row in timeline(trace, test) if row["kind"] == "line"]
    expected = truth[test_name]
    assert [(row["function"], row["line"]) for row in line_steps] == [
        (step["function"], step["line"]) for step in expected
    ]
    assert expected, "the sample made no line steps"
    for row, true_step in zip(line_steps, expected, strict=True):
        state = state_at(trace, test, row["step"])
        replayed = [
            {"function": frame["function"], "line": frame["line"], "locals": frame["locals"]}
            for frame in state.stack
        ]
        as_json = json.loads(json.dumps(replayed))  # the contract: a tuple is an array
        assert as_json == true_step["stack"], f"step {row['step']}"
