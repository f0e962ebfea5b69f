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

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.forms import as_encoded

from pytest_scope.capture.objects import ObjectTable
from pytest_scope.capture.redaction import MARKER, Redaction
from pytest_scope.capture.scrub import scrub_chunks
from pytest_scope.capture.values import Limits, ValueEncoder
from pytest_scope.errors import ScopeError
from pytest_scope.trace.codec import pack_chunk, unpack_chunk
from pytest_scope.trace.records import Chunk
from replay.reading.references import References

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
    # Used as a dict key, the second must not spell a secret name: "Edbpw" + "d..." would
    # (pwd). Hex digits and "Edb" spell none.
    planted = _plant(seed, "Etok" + secrets.token_hex(8), "Edb" + secrets.token_hex(8))
    _sparse_environment(monkeypatch, planted, seed)
    return seed, planted


RUN = ("-p", "no:cacheprovider", "--scope", "--scope-redact", "^pin_code$")


@pytest.mark.slow
def test_no_secret_reaches_any_file_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, vault: tuple[str, Planted]
) -> None:
    seed, planted = vault
    with monkeypatch.context() as passing:
        passing.setenv("SCOPE_PASS", "1")
        pytester.runpytest_subprocess(*RUN).assert_outcomes(passed=6)
    pytester.runpytest_subprocess(*RUN, "--scope-artifacts", "art").assert_outcomes(failed=6)

    blobs = [*_blobs(pytester.path / ".scope"), *_blobs(pytester.path / "art")]
    leaks = _found(blobs, planted.secrets)
    assert not leaks, "\n".join(
        f"{planted.secrets[value]}: {len(places)} places, first {places[0]}"
        for value, places in leaks.items()
    )

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


@pytest.mark.slow
def test_without_the_custom_patterns_their_secrets_are_recorded(
    pytester: pytest.Pytester, vault: tuple[str, Planted]
) -> None:
    """The scan finds a secret when it is there: the custom patterns are what hide those."""
    seed, planted = vault
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--scope", "-o", "scope_redact=")
    blobs = list(_blobs(pytester.path / ".scope"))
    assert set(_found(blobs, planted.secrets)) == {"Cpin" + seed, "Cini" + seed}


@pytest.mark.slow
def test_bad_patterns_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(): pass")
    result = pytester.runpytest_subprocess("--scope", "--scope-redact", "(unclosed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--scope-redact: not a regular expression: '(unclosed'*"])
    pytester.makeini("[pytest]\nscope_redact = [oops\n")
    result = pytester.runpytest_subprocess("--scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*scope_redact: not a regular expression: '?oops'*"])


# -- the encoder and the write-time scrub, in process ------------------------------------

SECRET = "s3cr3t-Value"
ENVIRONMENT = {"APP_TOKEN": SECRET, "PWD": "/home/me/project", "SHORT_TOKEN": "abc", "HOME": "/h"}


class Holder:
    """An object of the project's kind: encoded with its attributes."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class Text(str):
    """A str subclass: encoded through ``str``'s own methods."""


class Hostile(str):
    """A str subclass whose own methods must never run."""

    def _refuse(self, *args: Any) -> Any:
        raise AssertionError("the recorder ran user code")

    __contains__ = __len__ = __hash__ = __eq__ = __getitem__ = __str__ = __repr__ = _refuse
    __class__ = property(_refuse)  # type: ignore[assignment]


def _encoder(limits: Limits | None = None) -> ValueEncoder:
    return ValueEncoder(limits or Limits(), Redaction(["^pin$"], ENVIRONMENT))


def _marked(text: str) -> dict[str, Any]:
    """The form of a str with its secret values replaced."""
    return {"$type": "str", "repr": text, "$redacted": True}


def _packed(form: Any) -> bytes:
    return msgpack.packb(form, use_bin_type=True)  # type: ignore[no-any-return]


def test_environment_secrets_are_scrubbed_wherever_they_are() -> None:
    encoder = _encoder()
    value = [
        SECRET,
        f"Bearer {SECRET}!",
        Text(f"<{SECRET}>"),
        f"{SECRET}".encode(),
        bytearray(b"x" + SECRET.encode()),
        {SECRET: "row", "plain": ("deep", [f"-{SECRET}-"])},
        {b"APP_TOKEN": b"anything", b"HOME": b"/h"},
        Holder(note=f"key={SECRET}", user="ann"),
        ValueError(f"bad {SECRET}", 7),
    ]
    form = encoder.encode(value)
    assert SECRET.encode() not in _packed(form)
    assert form[0] == _marked(MARKER)
    assert form[1] == _marked(f"Bearer {MARKER}!")
    assert form[2]["repr"] == f"<{MARKER}>" and form[2]["$redacted"] is True
    assert form[3] == {"$type": "bytes", "repr": repr(MARKER.encode()), "$redacted": True}
    assert form[5]["items"][0] == [form[0], "row"]  # a key with a secret: the pairs form
    assert form[5]["items"][1] == ["plain", ["deep", [_marked(f"-{MARKER}-")]]]
    assert form[6]["items"][0] == [{"$type": "bytes", "repr": "b'APP_TOKEN'"}, {"$redacted": True}]
    assert form[7]["attrs"] == {"note": _marked(f"key={MARKER}"), "user": "ann"}
    assert form[8]["attrs"]["args"][0]["repr"] == f"bad {MARKER}"


def test_a_secret_across_the_length_limit_is_scrubbed_before_the_cut() -> None:
    encoder = _encoder(Limits(max_str=20))
    value = "x" * 15 + SECRET + "y" * 10
    form = encoder.encode(value)
    assert form == {"$type": "str", "repr": ("x" * 15 + MARKER)[:20], "$truncated": len(value),
                    "$redacted": True}  # fmt: skip
    assert encoder.encode(b"x" * 15 + SECRET.encode())["repr"] == repr(b"x" * 15 + b"<reda")


def test_which_environment_values_count() -> None:
    redaction = Redaction((), ENVIRONMENT)
    assert redaction.needles == (SECRET,)  # not PWD (a place), not "abc" (too short)
    redaction.start_test({"LATE_PASSWORD": "later-one"})
    assert set(redaction.needles) == {SECRET, "later-one"}  # the session's values stay
    redaction.note_environment({"OTHER_SECRET": "set-by-the-test"})
    assert set(redaction.needles) == {SECRET, "later-one", "set-by-the-test"}
    redaction.start_test({})
    assert redaction.needles == (SECRET,)


def test_values_of_secret_names_are_hidden_elsewhere_in_the_same_test() -> None:
    encoder = _encoder()
    assert encoder.encode_local("password", "hunter22") == {"$redacted": True}
    # Not while a step's locals are compared: from the next value encoded on its own.
    assert encoder.encode_local("alias", "hunter22") == "hunter22"
    assert encoder.encode("hunter22") == _marked(MARKER)
    assert encoder.encode_local("alias", "hunter22") == _marked(MARKER)
    assert encoder.encode_local("pin", Text("pin-1234")) == {"$redacted": True}
    encoder.encode(Holder(api_key="attr-secret", items={"session_id": "sid-9876"}))
    message = AssertionError("assert 'hunter22' == 'x' (pin-1234, attr-secret, sid-9876)")
    form = encoder.encode(message)
    assert (
        form["attrs"]["args"][0]["repr"]
        == f"assert '{MARKER}' == 'x' ({MARKER}, {MARKER}, {MARKER})"
    )
    assert encoder.encode("hunter22")["$redacted"] is True
    encoder.encode_local("token", "ab")  # too short to look for
    assert encoder.encode("ab") == "ab"
    encoder.redaction.start_test({})
    assert encoder.encode("hunter22") == "hunter22"  # another test


def test_no_user_code_runs_while_looking_for_secrets() -> None:
    encoder = _encoder()
    assert encoder.encode_local("password", Hostile("hostile-1")) == {"$redacted": True}
    form = encoder.encode([Hostile(f"{SECRET} and hostile-1"), {"k": Hostile("hostile-1")}])
    hostile = {"$type": f"{__name__}.Hostile", "$redacted": True}
    assert form == [
        {**hostile, "repr": f"{MARKER} and {MARKER}"},
        {"k": {**hostile, "repr": MARKER}},
    ]


def test_only_so_many_values_are_learned_per_test() -> None:
    encoder = _encoder()
    for number in range(100):
        encoder.encode_local("token", f"tok-{number:03d}")
    encoder.redaction.apply_learned()
    assert len(encoder.redaction.needles) == 1 + 64


secret_scalars = st.sampled_from(
    [SECRET, f"a{SECRET}", f"{SECRET}b", "plain", "", "x" * 15 + SECRET, SECRET.encode(),
     b"plain", bytearray(SECRET.encode()), Text(SECRET), Text("plain"), 1, None, "abc"]
)  # fmt: skip
secret_keys = st.sampled_from(["a", "token", SECRET, f"k{SECRET}", "$x", b"APP_TOKEN", b"k", 0])
secret_values = st.recursive(
    secret_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(secret_keys, inner, max_size=3)
        | st.builds(Holder, note=inner, password=inner)
        | st.builds(ValueError, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["v", "token", "pin"]),
    secret_values,
    secret_values,
)
def test_objects_recorded_by_identity_hold_no_secret(name: str, before: Any, after: Any) -> None:
    """No entry of the object table nor any local's form holds the secret, and what the
    entries resolve to is what the encoder makes of the value whole."""
    encoder = _encoder()  # the reader resolves to the default limits
    table = ObjectTable(encoder)
    for value in (before, after):
        form = table.local_form(name, value)
        entries = table.closure([form])
        assert SECRET.encode() not in _packed([form, entries])
        resolved = References({entry[0]: entry for entry in entries}).resolve(form)
        assert _packed(as_encoded(resolved)) == _packed(encoder.encode_local(name, value))
        table.end_step()


def test_chunks_are_scrubbed_of_values_known_only_later() -> None:
    redaction = Redaction((), {})
    early = {"l": {"pw": "late-secret", "m": {"late-secret-key": 1, "ok": "fine"}},
             "r": {"$type": "Err", "attrs": {"args": ["x late-secret"]}},
             "x": {"$type": "str", "repr": "late-secret" * 30, "$truncated": 330}}  # fmt: skip
    keyframe = {"step": 0, "threads": [[1, [[1, 1, 3, {"a": ["late-secret"]}]]]], "suspended": []}
    chunk = Chunk(1, 1, pack_chunk(keyframe, [[1, 1, 1, 1, 1, 3, early]]))
    assert scrub_chunks([chunk], redaction) == ([chunk], 0)  # nothing known: nothing looked at
    redaction.learn("late-secret")
    (scrubbed,), redacted = scrub_chunks([chunk], redaction)
    assert redacted == 5
    assert b"late-secret" not in zlib.decompress(scrubbed.data)
    keyframe, events = unpack_chunk(scrubbed.data)
    marked = {"$type": "str", "repr": MARKER, "$redacted": True}
    assert keyframe["threads"][0][1][0][3] == {"a": [marked]}
    payload = events[0][6]
    assert payload["l"] == {
        "pw": marked,
        "m": {"$type": "dict", "items": [[{**marked, "repr": f"{MARKER}-key"}, 1], ["ok", "fine"]]},
    }
    assert payload["r"]["attrs"]["args"] == [{**marked, "repr": f"x {MARKER}"}]
    assert payload["x"] == {
        "$type": "str",
        "repr": MARKER * 30,
        "$truncated": 330,
        "$redacted": True,
    }


def test_a_chunk_that_cannot_be_searched_is_not_passed_on() -> None:
    redaction = Redaction((), ENVIRONMENT)
    with pytest.raises(ScopeError, match="could not be searched for secrets"):
        scrub_chunks([Chunk(1, 1, b"not zlib")], redaction)


def test_watched_objects_are_scrubbed_too() -> None:
    redaction = Redaction((), {})
    keyframe = {"step": 0, "threads": [], "suspended": [], "watched": {"box": ["late-secret"]}}
    events = [[1, 1, 1, 1, 1, 3, {"w": {"box": {"v": "late-secret"}}}]]
    chunk = Chunk(1, 1, pack_chunk(keyframe, events))
    redaction.learn("late-secret")
    (scrubbed,), _ = scrub_chunks([chunk], redaction)
    assert b"late-secret" not in zlib.decompress(scrubbed.data)
    keyframe, events = unpack_chunk(scrubbed.data)
    marked = {"$type": "str", "repr": MARKER, "$redacted": True}
    assert keyframe["watched"] == {"box": [marked]}
    assert events[0][6]["w"] == {"box": {"v": marked}}


@pytest.mark.slow
def test_a_given_tests_kept_example_has_its_secrets_learned(pytester: pytest.Pytester) -> None:
    """The examples not kept must not use up the values learned per test."""
    pytester.makepyfile(
        test_examples="""
        from hypothesis import given, settings, strategies as st

        @settings(max_examples=150, database=None)
        @given(st.text("abcdefgh", min_size=12, max_size=12))
        def test_login(s):
            password = s
            shown = f"user:{s}"
            assert password == s and shown
        """
    )
    result = pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    (run,) = (pytester.path / ".scope" / "runs").glob("*.sqlite")
    db = sqlite3.connect(run)
    try:
        (blob,) = db.execute("SELECT data FROM chunks").fetchone()
    finally:
        db.close()
    _, events = unpack_chunk(blob)
    shown = [
        event[6]["l"]["shown"] for event in events if event[6] and "shown" in event[6].get("l", {})
    ]
    assert shown == [{"$type": "str", "repr": f"user:{MARKER}", "$redacted": True}]


SECRET_NAMES = [
    "auth", "auth_token", "x-auth", "X-Auth-Token", "authToken", "Authorization",
    "HTTP_AUTHORIZATION", "basic_auth", "password", "db_password", "PASSWORD", "userPassword",
    "passwd", "pwd", "passphrase", "api_key", "apiKey", "APIKey", "API_KEY", "apikey",
    "x-api-key", "secret", "client_secret", "SECRET_KEY", "secrets", "token", "access_token",
    "refreshToken", "csrf_token", "__token__", "cookie", "cookies", "set_cookie", "session_id",
    "sessionId", "sessionid", "session_key", "private_key", "privateKey", "credentials",
    "aws_credential", "signature", "hmac_signature",
]  # fmt: skip
INNOCENT_NAMES = [
    "author", "author_name", "authors", "authority", "authorities", "authorized_by",
    "authored", "XAUTHORITY", "tokenizer", "tokens", "tokens_count", "secretary", "keyboard",
    "monkey", "passage", "passenger", "compass", "bypass", "cookiecutter", "cwd", "session",
    "sessions", "private", "key", "keys", "signed", "credit", "host", "mot_de_passé",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_by_their_words(name: str) -> None:
    assert Redaction().is_secret(name)


@pytest.mark.parametrize("name", INNOCENT_NAMES)
def test_names_that_only_contain_a_secret_word_are_not_secret(name: str) -> None:
    assert not Redaction().is_secret(name)


def test_the_users_patterns_are_searched_anywhere_in_the_name() -> None:
    redaction = Redaction(["pin"])
    assert redaction.is_secret("spinner") and redaction.is_secret("PIN_CODE")
    assert not Redaction().is_secret("PIN_CODE")


def test_a_secret_equal_to_a_name_leaves_the_name_and_the_chunk() -> None:
    """A value learned as a secret ("host") beside an attribute named host: the name stays,
    the values holding the secret are redacted, and the chunk is written."""
    redaction = Redaction((), {})
    url = [1, "my.Url", {"$type": "my.Url", "attrs": {"host": "example.org"}}, False]
    payload = {"l": {"token": {"$redacted": True}, "seen": "host:80"}, "b": [url], "d": ["host"]}
    chunk = Chunk(1, 1, pack_chunk({"step": 0, "threads": [], "suspended": []}, [
        [1, 1, 1, 1, 1, 3, payload]
    ]))  # fmt: skip
    redaction.learn("host")
    (scrubbed,), redacted = scrub_chunks([chunk], redaction)
    _, events = unpack_chunk(scrubbed.data)
    payload = events[0][6]
    assert payload["b"] == [url]
    assert payload["d"] == ["host"]
    assert payload["l"]["seen"] == {"$type": "str", "repr": f"{MARKER}:80", "$redacted": True}
    assert redacted == 2


def test_a_secret_in_a_part_the_scrubbing_does_not_know_is_replaced_not_lost() -> None:
    redaction = Redaction((), {})
    payload = {"l": {"a": 1}, "future": ["late-secret here", {"late-secret": "late-secret"}]}
    chunk = Chunk(1, 1, pack_chunk({"step": 0, "threads": [], "suspended": []}, [
        [1, 1, 1, 1, 1, 3, payload]
    ]))  # fmt: skip
    redaction.learn("late-secret")
    (scrubbed,), redacted = scrub_chunks([chunk], redaction)
    _, events = unpack_chunk(scrubbed.data)
    assert events[0][6]["future"] == [f"{MARKER} here", {"late-secret": MARKER}]
    assert redacted == 2


URLS = """
import re

PATTERN = re.compile(r"(?P<scheme>[a-z]+)://(?P<authority>[^/]+)(?P<path>/.*)")


class Url:
    def __init__(self, text):
        parts = PATTERN.match(text).groupdict()
        self.scheme = parts["scheme"]
        self.host = parts["authority"]
        self.path = parts["path"]


def test_parse():
    url = Url("https://host/index")
    author_name = "Monty"
    assert url.host == "host" and author_name


def test_a_token_equal_to_an_attribute_name():
    api_token = "path"
    url = Url("https://example.org/path")
    assert url.path == "/path" and api_token
"""


@pytest.mark.slow
def test_no_recording_is_lost_to_a_secret_that_is_a_name(pytester: pytest.Pytester) -> None:
    """The field report: a regex group ``authority`` taught "host" as a secret, URLs have
    an attribute named host, and the recording was lost; ``author_name`` hid "Monty"."""
    pytester.makepyfile(test_urls=URLS)
    result = pytester.runpytest_subprocess("--scope", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "recording lost" not in result.stdout.str()
    (run,) = (pytester.path / ".scope" / "runs").glob("*.sqlite")
    db = sqlite3.connect(run)
    try:
        tests = dict(db.execute("SELECT nodeid, id FROM tests"))
        blobs = dict(db.execute("SELECT test_id, data FROM chunks"))
    finally:
        db.close()
    marks = sum(_marks(unpack_chunk(blob)) for blob in blobs.values())
    assert marks
    result.stdout.fnmatch_lines(
        [f"redacted {marks} recorded values that held a secret (docs/pages/guide.md*"]
    )
    parse = zlib.decompress(blobs[tests["test_urls.py::test_parse"]])
    assert b"Monty" in parse and b"authority" in parse and MARKER.encode() not in parse
    token = zlib.decompress(blobs[tests["test_urls.py::test_a_token_equal_to_an_attribute_name"]])
    assert b"\xa4path" in token  # the attribute's and the group's names
    assert b"/path" not in token  # the values that hold the secret


def _marks(node: Any) -> int:
    """The values marked redacted in an unpacked chunk."""
    if isinstance(node, dict):
        return ("$redacted" in node) + sum(_marks(item) for item in node.values())
    if isinstance(node, list | tuple):
        return sum(_marks(item) for item in node)
    return 0
