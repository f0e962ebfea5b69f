"""Which names and values hold secrets: they are replaced before they reach the buffer.

A *name* (a local, a str or bytes dict key, an attribute) is secret if its words match
one of the default patterns, or if it matches one of the user's patterns; its value is
then recorded as ``{"$redacted": true}``. A name's words are its parts split at
``_``, ``-``, other punctuation, digits and camelCase (``apiKey``, ``X-Api-Key`` and
``API_KEY`` are all ``api_key``), and a default pattern matches whole words only: ``auth``,
``auth_token``, ``authToken`` and ``x-auth`` are secret, ``author``, ``authority``,
``tokenizer`` and ``secretary`` are not (a name taken for a secret teaches its value as a
secret value, hidden everywhere in the test). The user's patterns (``--scope-redact``,
``scope_redact``, ``pytest_scope_redact_patterns``) are regular expressions searched
anywhere in the name, in any case, as they are written. A secret *value* can
also be held under an innocent name (``x = os.environ["API_TOKEN"]``), returned, or quoted
in an exception's message, so the secret strings themselves are known too:

- the values of environment variables whose names match, read at the start of the
  session (kept for its whole length: a test may overwrite a variable, and its fixtures
  still hold the old value) and at the start and end of each test;
- the str values held by a secret name in the current test (``learn``). They count from
  the next step, or the next value encoded on its own (a return value, an exception), on
  (``apply_learned``), never while a step's locals are compared with what was recorded:
  for a given set of known values, ``ValueEncoder.unchanged`` is exact.

Any str or bytes that contains one is recorded with each occurrence replaced by
``MARKER`` (``ValueEncoder``), and what was recorded before a value became known is
scrubbed when the test's chunks are written (``scrub``).
"""

from __future__ import annotations

import re
import sys

# A private reference: a test may replace this builtin (with a spy that counts calls).
from builtins import len
from collections.abc import Callable, Iterable, Mapping, Sized
from typing import Final, cast

# Passed as a value, a builtin is looked up where it is used once compiled (mypyc): bound here.
_len: Callable[[Sized], int] = len

# Each matches whole words of a name, lowercased and joined by "_" (see ``name_words``).
DEFAULT_PATTERNS: Final = (
    "passw(or)?ds?",
    "pwd",
    "passphrase",
    "secrets?",
    "token",
    "api_?keys?",
    "auth(orization|n|z)?",
    "cookies?",
    "session_?(id|key)",
    "private_?key",
    "credentials?",
    "signature",
)
_DEFAULT_SEARCH: Final = re.compile(
    "(?:^|_)(?:" + "|".join(f"(?:{p})" for p in DEFAULT_PATTERNS) + ")(?:_|$)"
).search
# A word: an acronym (up to a capitalized word), a capitalized or lowercase run, digits.
# Letters other than A-Z count as lowercase.
_WORD: Final = re.compile(r"[A-Z]+(?![^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|\d+")
# The trace format's REDACTED_TEXT (schema), spelled here: plugin imports this module in
# every run, and the trace package must wait for --scope.
MARKER: Final = "<redacted>"
# Shorter values ("1", "yes") hide nothing, and would blank every string that contains them.
MIN_SECRET_CHARS: Final = 4
# Values learned per test: each costs a substring search per str encoded.
MAX_LEARNED: Final = 64
# Environment variables whose names match a pattern but whose values are not secrets: where
# things are. The working directory is in most recorded paths.
NOT_SECRET_VARIABLES: Final = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "XAUTHORITY"})


def name_words(name: str) -> str:
    """``name``'s words, lowercased, joined by "_": ``XApiKey`` and ``x-api-key`` give
    ``x_api_key``."""
    return "_".join(word.lower() for word in _WORD.findall(name))


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is a regular expression ``Redaction`` can use; ValueError if not."""
    try:
        re.compile(f"(?:{pattern})")
    except re.error as exc:
        raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None
    return pattern


class Redaction:
    """Secret names (by pattern) and secret values (by content), for ``ValueEncoder``."""

    def __init__(
        self, extra_patterns: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> None:
        """``environ``: the environment at the start of the session, if its values count.

        ValueError if a pattern is not a regular expression, or if the patterns cannot be
        searched together (two that name the same group)."""
        patterns = [*map(check_pattern, extra_patterns)]
        self._search: Callable[[str], object] | None = None
        if patterns:
            try:
                joined = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"the redaction patterns do not go together ({exc})") from None
            self._search = joined.search
        self._known: dict[str, bool] = {}
        self.used = False  # whether the encoder met a secret name since ``start_test``
        self._session_values = self._environment_values(environ) if environ else frozenset()
        self._environment: frozenset[str] = self._session_values
        self._learned: dict[str, None] = {}
        # Values learned since the needles were last made: the next step makes them first.
        self.pending = False
        # Told each time ``pending`` changes (the recorder's line steps take another path
        # while it is set); called wherever it changes, within a step too.
        self.on_pending_change: Callable[[], object] | None = None
        # The secret values, longest first (a secret within another goes with it), as str
        # and as the UTF-8 bytes msgpack writes. Empty: nothing to look for (the usual case).
        self.needles: tuple[str, ...] = ()
        self._byte_needles: tuple[bytes, ...] = ()
        self.longest = 0  # bytes in the longest secret value's UTF-8 form
        # A str shorter than this holds no secret value: most are, and are not searched.
        self.shortest = sys.maxsize
        self._update_needles()

    def is_secret(self, name: str) -> bool:
        """Whether ``name`` holds a secret (the encoder's question: its answer counts)."""
        if self.names_secret(name):
            self.used = True
            return True
        return False

    def names_secret(self, name: str) -> bool:
        """Whether ``name`` holds a secret, asked ahead of any value (the answer counts
        for nothing: the native line step leaves secret names to the recorder)."""
        known = self._known.get(name)
        if known is None:
            if len(self._known) > 100_000:
                self._known.clear()
            search = self._search
            known = self._known[name] = _DEFAULT_SEARCH(name_words(name)) is not None or (
                search is not None and search(name) is not None
            )
        return known

    def is_secret_key(self, key: object) -> bool:
        """A dict key that names a secret: a str, or bytes (``os.environ`` keeps bytes)."""
        kind = type(key)
        if kind is str:
            return self.is_secret(key)  # type: ignore[arg-type]
        if kind is bytes:
            return self.is_secret(bytes.decode(key, "latin-1"))  # type: ignore[arg-type]
        return False

    # -- secret values ----------------------------------------------------------------

    def start_test(self, environ: Mapping[str, str]) -> None:
        """Forget the values learned in the last test; read the environment again."""
        self._learned.clear()
        self._environment = self._session_values | self._environment_values(environ)
        self._update_needles()
        self.used = False

    def forget_learned(self) -> None:
        """Forget the values learned so far: what held them is no longer recorded (a
        Hypothesis example that was not kept), and they must not use up ``MAX_LEARNED``."""
        if self._learned:
            self._learned.clear()
            self._update_needles()

    def apply_learned(self) -> bool:
        """Look for the values learned so far from now on; True if that changed anything."""
        if not self.pending:
            return False
        self._update_needles()
        return True

    def note_environment(self, environ: Mapping[str, str]) -> None:
        """Read the environment again: the test may have set a variable."""
        values = self._environment | self._environment_values(environ)
        if values != self._environment or self.pending:
            self._environment = values
            self._update_needles()

    def learn(self, value: object) -> None:
        """A value held by a secret name: wherever else it appears in this test, it is hidden
        (once ``apply_learned``)."""
        kind = type(value)
        if kind is str:
            text = cast(str, value)
        elif issubclass(kind, str):  # not isinstance(), which may run a __class__ property
            text = str.__getitem__(cast(str, value), slice(None))  # exact, without user code
        else:
            return
        if (
            len(text) >= MIN_SECRET_CHARS
            and text not in self._learned
            and text not in self._environment
            and len(self._learned) < MAX_LEARNED
        ):
            self._learned[text] = None
            if not self.pending:
                self.pending = True
                self._pending_changed()

    def hides(self, text: str) -> bool:
        """Whether ``text`` (an exact str, at least ``shortest`` long) contains a secret value."""
        for needle in self.needles:  # noqa: SIM110 (a loop costs half of any() here)
            if needle in text:
                return True
        return False

    def hides_bytes(self, data: bytes) -> bool:
        for needle in self._byte_needles:  # noqa: SIM110
            if needle in data:
                return True
        return False

    def scrub(self, text: str) -> str:
        """``text`` (an exact str) with every secret value in it replaced by ``MARKER``."""
        for needle in self.needles:
            text = text.replace(needle, MARKER)
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        marker = MARKER.encode()
        for needle in self._byte_needles:
            data = data.replace(needle, marker)
        return data

    def _environment_values(self, environ: Mapping[str, str]) -> frozenset[str]:
        return frozenset(
            value
            for name, value in environ.items()
            if len(value) >= MIN_SECRET_CHARS
            and name.upper() not in NOT_SECRET_VARIABLES
            and self.names_secret(name)
        )

    def _pending_changed(self) -> None:
        listener = self.on_pending_change
        if listener is not None:
            listener()

    def _update_needles(self) -> None:
        was_pending, self.pending = self.pending, False
        values = sorted({*self._environment, *self._learned}, key=_len, reverse=True)
        self.needles = tuple(values)
        byte_needles = []
        for value in values:
            try:  # an environment's undecodable bytes come back as themselves
                byte_needles.append(value.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:  # a lone surrogate: msgpack cannot write it either
                continue
        self._byte_needles = tuple(byte_needles)
        self.longest = max(map(_len, byte_needles), default=0)
        self.shortest = len(values[-1]) if values else sys.maxsize
        if was_pending:
            self._pending_changed()
