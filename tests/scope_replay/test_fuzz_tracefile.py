"""A trace file is untrusted input: whatever is done to one, ``scope-replay`` answers.

Starting from a real recording (a scope directory with a passing run and a failing one),
the newest run's file is damaged in every way a CI artifact could be: bit flips,
truncation, random bytes, foreign SQLite databases, views in place of tables, wrong
schema versions, garbage in every column, chunks replaced by malformed msgpack, crafted
size bombs and zlib bombs, and recorded events with one value replaced. Every mode of the
CLI must then either succeed (exit 0, valid output) or fail with exit code 2 and one line
on stderr: never a traceback, never a hang, never unbounded memory.

The CLI is run in-process (``replay.cli.main``, the very function ``scope-replay`` runs)
for every case, and as a subprocess under a memory limit and a timeout for a sample.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replay.cli import main

pytestmark = pytest.mark.slow

SUITE = """
import os

class Cart:
    def __init__(self):
        self.items = {}

    def add(self, name, count):
        self.items[name] = self.items.get(name, 0) + count
        return len(self.items)

def totals(cart):
    for name, count in sorted(cart.items.items()):
        yield name, count * 2

def test_cart():
    cart = Cart()
    cart.add("pear", 2)
    cart.add("plum", int(os.environ.get("PLUMS", "1")))
    doubled = dict(totals(cart))
    assert doubled == {"pear": 4, "plum": 2}

def test_plain():
    words = ["a", "b"]
    words.append("c")
    assert len(words) == 3
"""
TEST = "test_cart"
# In-process modes: every view of the CLI, each with and without the comparison.
MODES: tuple[tuple[str, ...], ...] = (
    (TEST, "--format", "json"),
    (TEST,),
    (TEST, "--step", "1", "--format", "json", "--against", "none"),
    (TEST, "--timeline", "--format", "json"),
    (TEST, "--timeline"),
    (TEST, "--diverge", "--format", "json"),
    (TEST, "--history", "cart", "--format", "json"),
    ("--list",),
    ("--runs", "--format", "json"),
)
MEMORY_LIMIT = 512 * 2**20
SUBPROCESS_TIMEOUT = 120


def _record(root: Path, plums: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--scope", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**_environ(), "PLUMS": plums},
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr


def _environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "PLUMS"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scope directory: an older run where ``test_cart`` passed, a newer where it failed."""
    root = tmp_path_factory.mktemp("cart")
    (root / "test_shop.py").write_text(SUITE)
    _record(root, "1")
    _record(root, "3")
    runs = sorted((root / ".scope" / "runs").glob("*.sqlite"))
    assert len(runs) == 2
    return root


@contextlib.contextmanager
def _copy(recorded: Path) -> Iterator[tuple[Path, Path]]:
    """A fresh copy of the scope directory and the newest run's file in it."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        shutil.copytree(recorded / ".scope", root / ".scope")
        newest = max((root / ".scope" / "runs").glob("*.sqlite"))
        yield root, newest


# --- Damage ---------------------------------------------------------------------------

Damage = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """A named damage, shown by Hypothesis when an example fails."""

    name: str
    damage: Damage

    def __repr__(self) -> str:
        return self.name


def _sql(*statements: tuple[str, tuple[Any, ...]]) -> Damage:
    def damage(path: Path) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            for sql, params in statements:
                with contextlib.suppress(sqlite3.Error):  # a constraint may refuse it
                    db.execute(sql, params)
            db.commit()

    return damage


def _rewrite(transform: Callable[[bytes], bytes]) -> Damage:
    def damage(path: Path) -> None:
        path.write_bytes(transform(path.read_bytes()))

    return damage


def _replace_file(build: Callable[[sqlite3.Connection], None]) -> Damage:
    def damage(path: Path) -> None:
        path.unlink()
        with contextlib.closing(sqlite3.connect(path)) as db:
            build(db)
            db.commit()

    return damage


def _chunks(data: bytes) -> Damage:
    return _sql(("UPDATE chunks SET data = ?", (data,)))


def _zlib(raw: bytes) -> bytes:
    return zlib.compress(raw, 9)


def _zeros_bomb(size: int = 2**30) -> bytes:
    """``size`` zeros compressed (1 MB for 1 GiB), built without holding them."""
    compressor = zlib.compressobj(9)
    block = bytes(2**20)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


def _nested_headers(levels: int, declared: int) -> bytes:
    """Arrays inside arrays, each declaring ``declared`` elements it does not have."""
    return (b"\xdd" + declared.to_bytes(4, "big")) * levels


def _many_empty_lists(count: int) -> bytes:
    per = 1000
    inner = b"\xdc" + per.to_bytes(2, "big") + b"\x90" * per
    return b"\x92\x80\xdd" + (count // per).to_bytes(4, "big") + inner * (count // per)


NAMED: tuple[Case, ...] = (
    Case("empty file", _rewrite(lambda data: b"")),
    Case("random text", _rewrite(lambda data: b"not a database\n" * 100)),
    Case("sqlite header then garbage", _rewrite(lambda data: data[:100] + b"\xff" * 4000)),
    Case("truncated to one page", _rewrite(lambda data: data[:4096])),
    Case("half the file", _rewrite(lambda data: data[: len(data) // 2])),
    Case(
        "foreign sqlite database",
        _replace_file(lambda db: db.execute("CREATE TABLE people (name TEXT, age INT)")),
    ),
    Case(
        "our table names, other columns",
        _replace_file(
            lambda db: db.executescript(
                "CREATE TABLE meta (k, v); CREATE TABLE tests (x); CREATE TABLE chunks (y);"
                "INSERT INTO meta VALUES ('format', 'pytest-scope-trace');"
            )
        ),
    ),
    Case(
        "our tables, wrong types everywhere",
        _replace_file(
            lambda db: db.executescript(
                "CREATE TABLE meta (key, value);"
                "INSERT INTO meta VALUES ('format', 'pytest-scope-trace'),"
                " ('schema_version', '1'), ('run_id', x'00ff');"
                "CREATE TABLE tests (id, nodeid, attempt, outcome, started, duration, steps,"
                " first_step, dropped_steps, failure_step, incomplete);"
                "INSERT INTO tests VALUES ('one', 7, 'x', 3.5, 'y', 'z', 'many', x'01', -1,"
                " 'f', 9);"
                "CREATE TABLE codes (id, qualname, filename, firstlineno);"
                "INSERT INTO codes VALUES ('a', 1, 2, 'b');"
                "CREATE TABLE sources (filename, text);"
                "CREATE TABLE chunks (test_id, seq, first_step, last_step, data);"
                "INSERT INTO chunks VALUES ('one', 'a', 'b', 'c', 'not a blob');"
            )
        ),
    ),
    Case("a view in place of a table", lambda path: _view_of_tests(path, " LIMIT 3")),
    Case("newer schema", _sql(("UPDATE meta SET value = '99' WHERE key = 'schema_version'", ()))),
    Case("older schema", _sql(("UPDATE meta SET value = '0' WHERE key = 'schema_version'", ()))),
    Case(
        "huge schema version",
        _sql(("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("9" * 5000,))),
    ),
    Case(
        "unicode digits as schema version",
        _sql(("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("\u0661",))),
    ),
    Case("no format row", _sql(("DELETE FROM meta WHERE key = 'format'", ()))),
    Case(
        "huge meta values",
        _sql(("UPDATE meta SET value = ? WHERE key IN ('run_id', 'rootdir')", ("x" * 10**6,))),
    ),
    Case(
        "huge step counts", _sql(("UPDATE tests SET steps = ?, failure_step = ?", (2**62, 2**62)))
    ),
    Case("negative steps", _sql(("UPDATE tests SET steps = -5, first_step = -9", ()))),
    Case("text steps", _sql(("UPDATE tests SET steps = 'many'", ()))),
    Case("blob node id", _sql(("UPDATE tests SET nodeid = x'00ff'", ()))),
    Case("text that is not UTF-8", _sql(("UPDATE tests SET nodeid = CAST(x'80ff' AS TEXT)", ()))),
    Case(
        "a schema that is not UTF-8",  # SQLite's error message quotes it
        _sql(
            ("PRAGMA writable_schema = ON", ()),
            (
                "UPDATE sqlite_master SET sql = CAST(CAST(sql AS BLOB) || x'80' AS TEXT)"
                " WHERE name = 'codes'",
                (),
            ),
        ),
    ),
    Case("no codes", _sql(("DELETE FROM codes", ()))),
    Case("a blob source", _sql(("UPDATE sources SET text = x'ff00'", ()))),
    Case("chunks out of place", _sql(("UPDATE chunks SET first_step = first_step + 3", ()))),
    Case("no chunks", _sql(("DELETE FROM chunks", ()))),
    Case("chunk is text", _sql(("UPDATE chunks SET data = 'text'", ()))),
    Case("zlib bomb", lambda path: _chunks(_zeros_bomb())(path)),
    Case("zlib garbage", _chunks(b"\x78\x9c" + b"\x13" * 500)),
    Case("truncated zlib", _chunks(_zlib(msgpack.packb([{}, []]))[:-6])),
    Case("nested huge arrays", _chunks(_zlib(_nested_headers(1000, 2**31) + b"\x00" * 2**20))),
    Case(
        "nested arrays at the length limit",
        _chunks(_zlib(_nested_headers(1000, 16384) + b"\x00" * (8 * 2**20 - 5001))),
    ),
    Case(
        "nested arrays of a million declared elements",
        _chunks(_zlib(_nested_headers(1000, 10**6) + b"\x00" * (8 * 2**20 - 5001))),
    ),
    Case("millions of empty lists", _chunks(_zlib(_many_empty_lists(2_000_000)))),
    Case("huge declared map", _chunks(_zlib(b"\xdf\xff\xff\xff\xff"))),
    Case("huge declared str", _chunks(_zlib(b"\xdb\xff\xff\xff\xff"))),
    Case("deep nesting", _chunks(_zlib(b"\x91" * 100_000 + b"\xc0"))),
    Case(
        "nesting just within msgpack's stack",
        _chunks(_zlib(b"\x92\x81\xa4step\x00\x91" + b"\x91" * 1000 + b"\xc0")),
    ),
    Case("a local nested 1000 deep", lambda path: _nest_a_local(path, 1000)),
    # Read only where a state is shown, after the walk that compares two runs applied it.
    Case(
        "a reference that is not a number",
        lambda path: _bind_at_every_step(path, "lost", {"$ref": []}),
    ),
    Case(
        "a reference to no object", lambda path: _bind_at_every_step(path, "lost", {"$ref": 10**9})
    ),
    Case("a local named by no str", lambda path: _bind_at_every_step(path, None, 1)),
    Case(
        "locals as a list of pairs",
        lambda path: _in_every_payload(path, "l", [[None, None]]),
    ),
    Case("extension type", _chunks(_zlib(b"\x92\x80\x91\xd4\x05\x00"))),
    Case("chunk is a number", _chunks(_zlib(msgpack.packb(7)))),
    Case("trailing data", _chunks(_zlib(msgpack.packb([{}, []]) + b"\x00"))),
)


def _nest_a_local(path: Path, depth: int) -> None:
    """Every event's payload binds a local ``deep`` to lists ``depth`` levels deep."""
    deep: list[Any] = []
    for _ in range(depth):
        deep = [deep]
    _bind_at_every_step(path, "deep", deep)


def _bind_at_every_step(path: Path, name: str | None, form: Any) -> None:
    """Every event's payload binds the local ``name`` to ``form``."""
    _in_every_payload(path, "l", {name: form})


def _in_every_payload(path: Path, key: str, value: Any) -> None:
    """Every event's payload holds ``value`` under ``key``."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for rowid, data in db.execute("SELECT rowid, data FROM chunks").fetchall():
            keyframe, events = msgpack.unpackb(zlib.decompress(data), raw=False)
            for event in events:
                event[6] = {**(event[6] or {}), key: value}
            packed = zlib.compress(msgpack.packb([keyframe, events], use_bin_type=True))
            db.execute("UPDATE chunks SET data = ? WHERE rowid = ?", (packed, rowid))
        db.commit()


def _view_of_tests(path: Path, limit: str) -> None:
    """``tests`` replaced by a view that counts rows up from 1, ``limit`` or forever."""
    _sql(
        ("DROP TABLE tests", ()),
        (
            "CREATE VIEW tests AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
            " FROM n) SELECT i AS id, 'test_shop.py::test_cart' AS nodeid, 1 AS attempt,"
            " 'failed' AS outcome, 0.0 AS started, 0.0 AS duration, 5 AS steps,"
            " 1 AS first_step, 0 AS dropped_steps, NULL AS failure_step,"
            f" NULL AS incomplete FROM n{limit}",
            (),
        ),
    )(path)


# Values a damaged file may hold where any other value belongs.
garbage = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
sql_garbage = (
    st.none()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
COLUMNS = {
    "meta": ("key", "value"),
    "tests": (
        "id", "nodeid", "attempt", "outcome", "started", "duration", "steps", "first_step",
        "dropped_steps", "failure_step", "incomplete",
    ),
    "codes": ("id", "qualname", "filename", "firstlineno"),
    "sources": ("filename", "text"),
    "chunks": ("test_id", "seq", "first_step", "last_step", "data"),
}  # fmt: skip


@st.composite
def column_garbage(draw: st.DrawFn) -> Case:
    table = draw(st.sampled_from(sorted(COLUMNS)))
    column = draw(st.sampled_from(COLUMNS[table]))
    value = draw(sql_garbage)
    where = draw(st.sampled_from(["", " WHERE rowid = 1", " WHERE rowid % 2 = 0"]))
    sql = f"UPDATE {table} SET {column} = ?{where}"
    return Case(f"{sql} <- {value!r:.60}", _sql((sql, (value,))))


@st.composite
def meta_garbage(draw: st.DrawFn) -> Case:
    key = draw(st.sampled_from(["format", "schema_version", "run_id", "rootdir", "started"]))
    value = draw(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str)
        | st.text(max_size=40)
        | st.binary(max_size=20)
        | st.sampled_from(["1", "01", " 1", "1.0", "-1", "2", "0x1", "1" * 40])
    )
    return Case(
        f"meta {key} = {value!r:.60}",
        _sql(("UPDATE meta SET value = ? WHERE key = ?", (value, key))),
    )


@st.composite
def file_bytes(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["flip", "truncate", "random", "splice"]))
    if kind == "flip":
        flips = draw(
            st.lists(
                st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                min_size=1,
                max_size=20,
            )
        )

        def flip(data: bytes) -> bytes:
            changed = bytearray(data)
            for where, bit in flips:
                changed[int(where * len(data))] ^= 1 << bit
            return bytes(changed)

        return Case(f"flip bits {flips}", _rewrite(flip))
    if kind == "truncate":
        where = draw(st.floats(0, 1))
        return Case(
            f"truncate at {where:.4f}", _rewrite(lambda data: data[: int(where * len(data))])
        )
    if kind == "random":
        noise = draw(st.binary(max_size=9000))
        header = draw(st.booleans())
        prefix = b"SQLite format 3\x00" if header else b""
        return Case(
            f"random bytes ({len(noise)}, header {header})", _rewrite(lambda _: prefix + noise)
        )
    where = draw(st.floats(0, 1))
    noise = draw(st.binary(min_size=1, max_size=512))

    def splice(data: bytes) -> bytes:
        at = int(where * len(data))
        return data[:at] + noise + data[at + len(noise) :]

    return Case(f"overwrite {len(noise)} bytes at {where:.4f}", _rewrite(splice))


@st.composite
def chunk_garbage(draw: st.DrawFn) -> Case:
    """A chunk that zlib and msgpack accept but that the recorder could not have written."""
    kind = draw(st.sampled_from(["value", "bytes", "declared"]))
    if kind == "value":
        raw = msgpack.packb(draw(garbage), use_bin_type=True)
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
    else:
        head = draw(st.sampled_from([b"\xdc", b"\xdd", b"\xde", b"\xdf", b"\xdb", b"\xc6"]))
        size = draw(st.integers(0, 2**32 - 1))
        width = 2 if head in (b"\xdc", b"\xde") else 4
        levels = draw(st.integers(1, 1100))
        raw = (head + (size % 2 ** (8 * width)).to_bytes(width, "big")) * levels
    return Case(f"chunk {kind}: {raw[:40]!r}", _chunks(_zlib(raw)))


@st.composite
def event_garbage(draw: st.DrawFn) -> Case:
    """A real chunk with one value somewhere in its keyframe or events replaced."""
    path = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=7))
    value = draw(garbage)
    which = draw(st.integers(0, 10**6))

    def damage(target: Path) -> None:
        with contextlib.closing(sqlite3.connect(target)) as db:
            rows = db.execute("SELECT rowid, data FROM chunks").fetchall()
            rowid, data = rows[which % len(rows)]
            chunk = msgpack.unpackb(zlib.decompress(data), raw=False)
            _replace(chunk, path, value)
            packed = zlib.compress(msgpack.packb(chunk, use_bin_type=True))
            db.execute("UPDATE chunks SET data = ? WHERE rowid = ?", (packed, rowid))
            db.commit()

    return Case(f"chunk value at {path} <- {value!r:.60}", damage)


def _replace(node: Any, path: list[int], value: Any) -> None:
    """Replace the node ``path`` leads to (each index taken modulo the children)."""
    for position, choice in enumerate(path):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return
        key = keys[choice % len(keys)]
        child = node[key]
        last = position == len(path) - 1
        if last or not isinstance(child, (dict, list)) or not child:
            node[key] = value
            return
        node = child


damages = (
    st.sampled_from(NAMED)
    | file_bytes()
    | column_garbage()
    | meta_garbage()
    | chunk_garbage()
    | event_garbage()
)


# --- Checks ---------------------------------------------------------------------------


def _check(argv: tuple[str, ...], code: int, out: str, err: str) -> None:
    """Exit 0 with valid output, or exit 2 with one line on stderr: nothing else."""
    assert "Traceback" not in err, err
    if code == 2:
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("scope-replay: error: "), err
        return
    assert code == 0, (code, err)
    notes = err.splitlines()
    assert all(line.startswith("scope-replay: note: ") for line in notes), err
    # A damaged newest run is passed over, and named in one note, when an older run has the
    # test; JSON adds one note of its own when there is no pass to compare with.
    passed_over = [line for line in notes if line.startswith("scope-replay: note: passed over")]
    assert len(passed_over) <= 1, err
    if "json" in argv:
        json.loads(out)
        assert len(notes) - len(passed_over) <= 1, err
    else:
        assert out and notes == passed_over, err


def _replay_in_process(root: Path, *argv: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    full = (*argv, "--dir", str(root / ".scope"))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(full))
    _check(argv, code, out.getvalue(), err.getvalue())


def _all_modes(root: Path) -> None:
    for argv in MODES:
        _replay_in_process(root, *argv)
    _replay_in_process(root, TEST, "--html", str(root / "viewer.html"))


def test_the_undamaged_recording_replays(recorded: Path) -> None:
    """The baseline: every mode succeeds, and the failure is compared with the pass."""
    with _copy(recorded) as (root, _):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([TEST, "--format", "json", "--dir", str(root / ".scope")]) == 0
        state = json.loads(out.getvalue())
        assert state["exception"]["$type"] == "AssertionError"
        assert state["diff"] is not None
        for argv in MODES:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert main([*argv, "--dir", str(root / ".scope")]) == 0, argv


@pytest.mark.parametrize("case", NAMED, ids=[case.name for case in NAMED])
def test_named_damage(recorded: Path, case: Case) -> None:
    with _copy(recorded) as (root, newest):
        case.damage(newest)
        _all_modes(root)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=damages, older=st.booleans())
def test_random_damage(recorded: Path, case: Case, older: bool) -> None:
    with _copy(recorded) as (root, newest):
        target = min((root / ".scope" / "runs").glob("*.sqlite")) if older else newest
        case.damage(target)
        _all_modes(root)


# --- The real CLI, in its own process, with bounded memory and time -------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _replay_subprocess(root: Path, *argv: str) -> None:
    full = (*argv, "--dir", str(root / ".scope"))
    result = subprocess.run(
        [sys.executable, "-m", "replay.cli", *full],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,  # a hang fails the test instead of blocking it
        preexec_fn=_limit_memory,
    )
    assert "MemoryError" not in result.stderr, result.stderr
    _check(argv, result.returncode, result.stdout, result.stderr)


# Only where a timeout and a memory limit hold it, should its refusal ever break.
FOREVER = Case("a view computing rows forever", lambda path: _view_of_tests(path, ""))
SUBPROCESS_CASES = [FOREVER] + [
    case
    for case in NAMED
    if case.name
    in {
        "random text",
        "half the file",
        "our tables, wrong types everywhere",
        "a view in place of a table",
        "newer schema",
        "text steps",
        "zlib bomb",
        "nested arrays at the length limit",
        "nested arrays of a million declared elements",
        "millions of empty lists",
        "deep nesting",
        "a local nested 1000 deep",
    }
]
SUBPROCESS_MODES: tuple[tuple[str, ...], ...] = (
    *MODES,
    (TEST, "--html", "viewer.html"),
    (TEST, "--diverge"),
)


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[case.name for case in SUBPROCESS_CASES])
def test_named_damage_in_the_real_cli(recorded: Path, case: Case) -> None:
    with _copy(recorded) as (root, newest):
        case.damage(newest)
        for argv in SUBPROCESS_MODES[:: 1 if case.name == "zlib bomb" else 3]:
            _replay_subprocess(root, *argv)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=damages, mode=st.sampled_from(SUBPROCESS_MODES))
def test_random_damage_in_the_real_cli(recorded: Path, case: Case, mode: tuple[str, ...]) -> None:
    with _copy(recorded) as (root, newest):
        case.damage(newest)
        _replay_subprocess(root, *mode)
