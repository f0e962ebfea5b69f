"""No secret reaches what ``--scope`` writes: every byte under the scope and artifacts dirs.

A suite plants distinctive secrets in every place a value can be recorded (locals with
secret names, names of a ``--scope-redact`` pattern and of the ``scope_redact`` ini
setting, environment variables with secret names read under innocent names, return
values, exception messages and args, dict keys, attributes, nested containers, a value
recorded before it became known as a secret) and is recorded twice: passing, then failing
with ``--scope-artifacts``. Then every file written is read as bytes, and inside them
every zlib chunk (trace files) and every base64 gzip document (viewers) is opened too.
None of the secrets may be found; the innocent values planted beside them must be, and a
run without the custom patterns must show those secrets, so the scan cannot pass for
want of looking.

The secrets are built at run time from a random seed (``SCOPE_SEED``, an innocent name)
and from the environment: the trace file keeps the recorded sources, and a secret written
in a test's source is in the repository anyway.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
import re
import secrets
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VAULT = """
import os


class Account:
    def __init__(self, user, api_key, region):
        self.user = user
        self.api_key = api_key
        self.region = region


def make_secret():
    return os.environ["SCOPE_TEST_API_TOKEN"]


def issue_token(seed):
    token = "Ltok" + seed
    return token


def connect(host):
    dsn = "db:" + os.environ["SCOPE_TEST_DB_PASSWORD"] + "@" + host
    raise ConnectionError("cannot connect to " + dsn)


def login(user, passwd):
    raise PermissionError("login " + user + ":" + passwd + " refused")
"""

SUITE = """
import os

from vault import Account, connect, issue_token, login, make_secret

PASS = bool(os.environ.get("SCOPE_PASS"))


def test_assert_on_a_password():
    seed = os.environ["SCOPE_SEED"]
    username = "Puser" + seed
    password = "Lpw" + seed
    expected = password if PASS else "Pexp" + seed
    assert password == expected, username


def test_environment_values_under_innocent_names():
    seed = os.environ["SCOPE_SEED"]
    x = os.environ["SCOPE_TEST_API_TOKEN"]
    url = "https://" + x + "@Phost" + seed + ".example"
    returned = make_secret()
    bag = [{"level": ("Pbag" + seed, returned)}]
    index = {os.environ["SCOPE_TEST_DB_PASSWORD"]: "Prow" + seed}
    env = os.environ
    env_copy = dict(os.environ)
    raw = os.environb[b"SCOPE_TEST_API_TOKEN"] + b"|Pbytes" + seed.encode()
    if not PASS:
        connect("Pdb" + seed)


def test_secret_names_in_objects_and_containers():
    seed = os.environ["SCOPE_SEED"]
    account = Account("Pacct" + seed, "Atr" + seed, "Preg" + seed)
    settings = {"api_key": "Dk" + seed, "region": "Pset" + seed}
    nested = [{"level": ({"token": "Nst" + seed, "plain": "Pnest" + seed},)}]
    issued = issue_token(seed)
    if not PASS:
        raise ValueError("rejected", issued, "Pval" + seed)


def test_secret_in_an_exception_message():
    seed = os.environ["SCOPE_SEED"]
    if not PASS:
        login("Plogin" + seed, "Lpass" + seed)


def test_custom_patterns():
    seed = os.environ["SCOPE_SEED"]
    pin_code = "Cpin" + seed
    internal_ref = "Cini" + seed
    note = "Pnote" + seed
    assert PASS, (pin_code, internal_ref, note)


def test_known_only_later(monkeypatch):
    seed = os.environ["SCOPE_SEED"]
    pw = "Ord" + seed
    late = "Late" + seed
    keep = "Pkeep" + seed
    monkeypatch.setenv("SCOPE_TEST_LATE_TOKEN", late)
    session_key = pw
    assert PASS, (pw, late, keep)
"""

INI = """
[pytest]
scope_redact =
    ^internal_
"""

# Enough of the environment for Python and pytest to run: os.environ is recorded as a
# value, and only its first 32 entries are kept.
_KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "PYTHONPATH")


@dataclass(frozen=True)
class Planted:
    secrets: dict[str, str]  # what each secret is, by value
    innocent: dict[str, str]  # the values planted beside them, by value
    environment: tuple[str, str]  # SCOPE_TEST_API_TOKEN, SCOPE_TEST_DB_PASSWORD


def _plant(seed: str, api_token: str, db_password: str) -> Planted:
    return Planted(
        secrets={
            "Lpw" + seed: "local `password`, in an assertion message",
            "Ltok" + seed: "local `token` of project code, its return value, an exception arg",
            "Lpass" + seed: "argument `passwd`, in an exception message",
            "Atr" + seed: "attribute `api_key`",
            "Dk" + seed: "value of dict key 'api_key'",
            "Nst" + seed: "key 'token' in a dict in a tuple in a dict in a list",
            "Cpin" + seed: "local of the --scope-redact pattern",
            "Cini" + seed: "local of the scope_redact ini pattern",
            "Ord" + seed: "innocent local, then held by `session_key`",
            "Late" + seed: "innocent local, then set as an environment variable by the test",
            api_token: "SCOPE_TEST_API_TOKEN: innocent local, return value, container, bytes",
            db_password: "SCOPE_TEST_DB_PASSWORD: dict key, exception message",
        },
        innocent={
            "Puser" + seed: "beside `password`",
            "Pexp" + seed: "the other side of the failing comparison",
            "Phost" + seed: "in the same str as an environment secret",
            "Pbag" + seed: "beside a return value in a container",
            "Prow" + seed: "value of a secret dict key",
            "Pbytes" + seed: "in the same bytes as an environment secret",
            "Pdb" + seed: "in the same exception message as an environment secret",
            "Pacct" + seed: "attribute beside `api_key`",
            "Preg" + seed: "attribute beside `api_key`",
            "Pset" + seed: "dict value beside 'api_key'",
            "Pnest" + seed: "nested dict value beside 'token'",
            "Pval" + seed: "exception arg beside a learned secret",
            "Plogin" + seed: "in the same exception message as `passwd`",
            "Pnote" + seed: "beside the custom pattern locals",
            "Pkeep" + seed: "beside the values known only later",
        },
        environment=(api_token, db_password),
    )


@dataclass
class Blob:
    where: str
    data: bytes


def _blobs(directory: Path) -> Iterator[Blob]:
    """Every file's bytes, and what is packed inside: chunks, the viewers' documents."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield Blob(str(path), data)
        if data.startswith(b"SQLite format 3\x00"):
            yield from _chunks(path)
        if path.suffix == ".html":
            yield from _embedded(path, data)


def _chunks(path: Path) -> Iterator[Blob]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT test_id, seq, data FROM chunks").fetchall()
    db.close()
    assert rows, f"{path} holds no chunks"
    for test_id, seq, data in rows:
        yield Blob(f"{path} chunk {test_id}/{seq}", zlib.decompress(data))


def _embedded(path: Path, page: bytes) -> Iterator[Blob]:
    """The page's JSON document, decoded, and each base64 gzip str inside it, inflated."""
    found = re.search(rb'<script type="application/json" id="scope-data">(.*?)</script>', page)
    if found is None:
        return  # the index: plain HTML, already scanned as bytes
    document = json.loads(found.group(1))
    yield Blob(f"{path} document", json.dumps(document, ensure_ascii=False).encode())
    packed = [text for text in _strings(document) if len(text) > 64]
    inflated = 0
    for text in packed:
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error:
            continue
        if raw[:2] == b"\x1f\x8b":
            inflated += 1
            yield Blob(f"{path} packed document", gzip.decompress(raw))
    assert inflated, f"{path}: no packed chunks found"


def _strings(document: Any) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, list):
        for item in document:
            yield from _strings(item)
    elif isinstance(document, dict):
        for item in document.values():
            yield from _strings(item)


def _found(blobs: list[Blob], values: dict[str, str]) -> dict[str, list[str]]:
    """Where each value occurs (only the values that occur)."""
    found: dict[str, list[str]] = {}
    for value in values:
        needle = value.encode()
        places = [blob.where for blob in blobs if needle in blob.data]
        if places:
            found[value] = places
    return found


def _sparse_environment(monkeypatch: pytest.MonkeyPatch, planted: Planted, seed: str) -> None:
    """Only what Python needs, and the suite's variables: the runs inherit this."""
    for name in list(os.environ):
        if name not in _KEPT_VARIABLES:
            monkeypatch.delenv(name)
    api_token, db_password = planted.environment
    monkeypatch.setenv("SCOPE_SEED", seed)
    monkeypatch.setenv("SCOPE_TEST_API_TOKEN", api_token)
    monkeypatch.setenv("SCOPE_TEST_DB_PASSWORD", db_password)


@pytest.fixture
def vault(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Planted]:
    """The suite, its ini file, a seed and its secrets, in a sparse environment."""
    pytester.makepyfile(vault=VAULT, test_vault=SUITE)
    pytester.makeini(INI)
    seed = secrets.token_hex(8)
    planted = _plant(seed, "Etok" + secrets.token_hex(8), "Edbpw" + secrets.token_hex(8))
    _sparse_environment(monkeypatch, planted, seed)
    return seed, planted


RUN = ("-p", "no:cacheprovider", "--scope", "--scope-redact", "^pin_code$")


def test_no_secret_reaches_any_file_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, vault: tuple[str, Planted]
) -> None:
    seed, planted = vault
    with monkeypatch.context() as passing:
        passing.setenv("SCOPE_PASS", "1")
        pytester.runpytest_subprocess(*RUN).assert_outcomes(passed=6)
    pytester.runpytest_subprocess(*RUN, "--scope-artifacts", "art").assert_outcomes(failed=6)

    blobs = [*_blobs(pytester.path / ".scope"), *_blobs(pytester.path / "art")]
    assert _found(blobs, planted.secrets) == {}

    # Not for want of looking: what was planted beside each secret is in every kind of file.
    innocent = _found(blobs, planted.innocent)
    assert set(innocent) == set(planted.innocent)
    scope_runs = str(pytester.path / ".scope" / "runs")
    art_runs = str(pytester.path / "art" / "runs")
    for value, places in innocent.items():
        assert any(p.startswith(scope_runs) and " chunk " in p for p in places), value
        assert any(p.startswith(art_runs) and " chunk " in p for p in places), value
        assert any(p.endswith(".html packed document") for p in places), value
    viewers = [path for path in (pytester.path / "art").glob("*.html") if path.name != "index.html"]
    assert len(viewers) == 6
    index = (pytester.path / "art" / "index.html").read_text()
    assert f"ConnectionError: cannot connect to db:&lt;redacted&gt;@Pdb{seed}" in index
    assert f"PermissionError: login Plogin{seed}:&lt;redacted&gt; refused" in index


def test_without_the_custom_patterns_their_secrets_are_recorded(
    pytester: pytest.Pytester, vault: tuple[str, Planted]
) -> None:
    """The scan finds a secret when it is there: the custom patterns are what hide those."""
    seed, planted = vault
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--scope", "-o", "scope_redact=")
    blobs = list(_blobs(pytester.path / ".scope"))
    assert set(_found(blobs, planted.secrets)) == {"Cpin" + seed, "Cini" + seed}


def test_bad_patterns_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(): pass")
    result = pytester.runpytest_subprocess("--scope", "--scope-redact", "(unclosed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--scope-redact: not a regular expression: '(unclosed'*"])
    pytester.makeini("[pytest]\nscope_redact = [oops\n")
    result = pytester.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*scope_redact: not a regular expression: '?oops'*"])
