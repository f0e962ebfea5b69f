"""The trace file format, field by field: the contract between the recorder, which writes
trace files, and ``replay``, which reads them on machines where nothing else of the
recorded project, nor the recorder, is installed. It imports nothing but the standard
library, and the writer and the readers take the names below from here.

**The file** is an SQLite database holding one pytest run (or, after ``scope-replay
--export-baseline`` and in CI artifacts, tests copied from several): the tables of
``SCHEMA`` and, in a file of copies, those of ``ORIGINS_SCHEMA``. ``meta`` holds one text
per key: ``format`` (``FORMAT_NAME``), ``schema_version`` (``SCHEMA_VERSION``, which a
reader checks first), ``run_id``, ``started`` (unix time), ``python``, ``pytest``,
``pytest_scope`` (versions), ``platform``, ``rootdir``, ``plan`` (JSON ``{"level",
"include", "exclude"}``: what the run records), and where known ``git_commit``,
``git_branch`` and ``baselines`` (JSON list of the ``--scope-baseline`` paths).

**A test's steps** are stored as *chunks*, each ``zlib(msgpack([keyframe, events]))``
(``codec``), in the ``chunks`` table in step order.

``keyframe`` is the complete state before the chunk's first step::

    {"step": S,                                  # last step before this chunk (0 for the first)
     "threads": [[thread, [frame, ...]], ...],   # each thread's stack, outermost first
     "suspended": [frame, ...],                  # generators between a yield and a resume
     "watched": {name: value, ...},              # optional: the watched objects so far
     "objects": [entry, ...]}                    # every object the values above refer to

(Over 16,384 objects, ``"objects"`` holds them in segments, ``[[entry, ...], ...]``, each
within a reader's bound on one array; ``codec.unpack_chunk`` joins them.)

    frame = [frame_no, code_no, line, {name: value, ...}]

``frame_no`` numbers frames in the order they were entered (a generator keeps its number
across yields); ``code_no`` is a row of ``codes``; ``thread`` numbers threads in the order
they made their first step.

``events`` is a list of steps, numbered consecutively from ``S + 1``::

    [step, kind, thread, frame_no, code_no, line, payload]

``kind`` is one of ``Kind``, 0 to 7: ``call``, ``line``, ``return``, ``yield``,
``resume``, ``exception``, ``handled``, ``unwind`` (``KIND_NAMES``). ``payload`` is
``None`` or a map with any of the keys of ``Payload``:

- ``"u"`` (``Payload.UNWOUND``): how many frames to pop from the top of the thread's stack
  before applying the event: they left without an event of their own (a generator closed
  without ``PY_UNWIND``, gh-140373);
- ``"l"`` (``Payload.LOCALS``): ``{name: value}`` locals of the event's frame that are new
  or changed;
- ``"d"`` (``Payload.DELETED``): ``[name, ...]`` locals of the event's frame that no longer
  exist;
- ``"o"`` (``Payload.OTHER_FRAMES``): ``[[frame_no, line, {name: value}, [deleted name,
  ...]], ...]`` changes in other frames of the same thread's stack (a callee rebound their
  cells, or their current line moved while they were not recorded line by line);
- ``"r"`` (``Payload.RETURNED``): the value returned (``return``) or yielded (``yield``);
- ``"x"`` (``Payload.EXCEPTION``): the exception in flight (``exception``, ``handled``,
  ``unwind``, and ``resume`` by a ``throw()``);
- ``"w"`` (``Payload.WATCHED``): ``{name: value}`` objects the test watches
  (``pytest_scope.watch``) that are new or changed. Watched objects belong to the test,
  not to a frame or thread: they stay in the state, as last recorded, until the test ends;
- ``"b"`` (``Payload.OBJECTS``): ``[entry, ...]`` objects that are new or whose shallow
  form changed at this step (see *Objects by identity*); an entry replaces the earlier
  entry of the same number.

Applying an event to a state: ``call`` pushes a new frame with empty locals and
``resume`` pushes the suspended frame back (or a new one if it is unknown), then the
payload is applied to the event's frame. ``return``, ``yield`` and ``unwind`` show the
frame still on the stack at their own step; it is popped (``yield``: moved to
``suspended``) before the next event of that thread is applied.

**Values** (the forms of ``scope-replay --format json``, which msgpack carries unchanged):
``None``, bool, int (within 64 bits), float (finite), str as themselves (UTF-8 with
``surrogatepass``: a lone surrogate is kept as the bytes UTF-8 would give its code point,
``codec.UNICODE_ERRORS``); list and tuple
as arrays; dict with str keys as maps; anything else as a map with a ``"$type"`` key
(the qualified type name) and one of ``"attrs"`` (instance attributes, a map),
``"items"`` (elements of other containers, an array; for dicts with non-str keys an
array of ``[key, value]`` pairs) or ``"repr"`` (a str the recorder built itself, never
by calling user code). A plugin's summary of an object (``hookspecs``) takes the same
forms: its fields as ``"attrs"``, its items as ``"items"``, its text as ``"repr"``.
``MARKS``, all ``$``-keyed: ``"$truncated": N`` (only the first items/characters are
kept; N is the full length), ``"$depth": true`` (nesting limit reached, or an object of a
class from outside the project below a local's own value; contents omitted),
``"$cycle": true`` (the object contains itself; contents omitted at the repeat),
``"$redacted": true`` (alone: the value of a secret-looking name, nothing of it kept;
beside ``"repr"``: a str or bytes with each secret value in it replaced by
``REDACTED_TEXT``).

**Objects by identity**: a value may be ``{"$ref": N}``, a reference to the object whose
*entry* ``[N, type name, form, foreign, container]`` the chunk holds (the keyframe's
``"objects"``, a payload's ``"b"``). ``N`` names one object for the whole test (an
object that takes a dead one's id gets a new number); ``form`` is its shallow form (the
objects in it are references in turn), or None when only its type is known (beyond the
bounds ``RESOLVE_DEPTH`` and ``RESOLVE_NODES``); ``foreign`` is true for an instance of a
class from outside the project (shown only as a local's own value); ``container`` is
what the object is as a container, from its builtin base classes (never its name): one
of ``Container``, by number. It tells a ``dict`` subclass's ``[key, value]`` items from a
``list`` subclass's pairs, and a tuple's array from a list's.

**Versions** (``SCHEMA_VERSION``): a reader refuses any other than its own, and says
what to do: record the tests again (an older file) or upgrade pytest-scope (a newer one).

1. The first format (meta, tests, codes, sources, chunks). Later additions that older
   readers skip without harm: the keyframe's ``"watched"`` and the payload's ``"w"``.
2. Objects by identity: values may be ``{"$ref": N}``; the keyframe's ``"objects"`` and the
   payload's ``"b"`` hold the entries. A version 1 reader would show references as maps.
3. An object entry names what the object is as a container (its fifth element,
   ``Container``). A version 2 reader would refuse the longer entries.
"""

from __future__ import annotations

from typing import Final

FORMAT_NAME: Final = "pytest-scope-trace"

SCHEMA_VERSION: Final = 3  # module docstring, *Versions*

# The bounds of a value as shown (module docstring, *Objects by identity*): the recorder
# walks objects no deeper, and readers resolve references no further.
RESOLVE_DEPTH: Final = 4
RESOLVE_NODES: Final = 500

SCHEMA: Final = """\
-- Facts about the run, one text per key (module docstring, *The file*).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per recorded test attempt (reruns of a test are separate attempts).
CREATE TABLE tests (
    id INTEGER PRIMARY KEY,
    nodeid TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,          -- passed | failed | skipped | xfailed | xpassed | interrupted
    started REAL NOT NULL,          -- unix time
    duration REAL NOT NULL,         -- seconds, test body only
    steps INTEGER NOT NULL,         -- steps the test made (the last step's number)
    first_step INTEGER NOT NULL,    -- first step kept; > 1 when the ring buffer dropped the oldest
    dropped_steps INTEGER NOT NULL, -- steps dropped by the ring buffer
    failure_step INTEGER,           -- where the failing exception was raised, if failed
    incomplete TEXT                 -- why recording of this test stopped early, or NULL
);
CREATE INDEX tests_nodeid ON tests (nodeid);

-- Code objects referenced by events (code_no).
CREATE TABLE codes (
    id INTEGER PRIMARY KEY,
    qualname TEXT NOT NULL,
    filename TEXT NOT NULL,
    firstlineno INTEGER NOT NULL
);

-- Source text of every file with recorded code, so replay needs nothing else.
CREATE TABLE sources (
    filename TEXT PRIMARY KEY,
    text TEXT NOT NULL
);

-- A test's steps, keyframe first, in chunks of bounded size (module docstring).
CREATE TABLE chunks (
    test_id INTEGER NOT NULL REFERENCES tests (id),
    seq INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (test_id, seq)
);
"""

# Only in a file that holds recordings copied from other runs (``scope-replay
# --export-baseline``, the CI artifacts): the run each test was recorded in, so that its
# provenance (run id, commit, branch, rootdir) survives the copy, and the text of a file
# as that run had it where it differs from ``sources``. A reader that does not know these
# tables shows the file's own meta, which is that of the newest run copied.
ORIGINS_SCHEMA: Final = """\
-- The runs the tests were copied from: each run's meta rows, as a JSON object.
CREATE TABLE origins (
    id INTEGER PRIMARY KEY,
    meta TEXT NOT NULL
);

-- The run each copied test was recorded in.
CREATE TABLE test_origins (
    test_id INTEGER PRIMARY KEY REFERENCES tests (id),
    origin INTEGER NOT NULL REFERENCES origins (id)
);

-- A file's text as one run had it, where it differs from the text in sources.
CREATE TABLE origin_sources (
    origin INTEGER NOT NULL REFERENCES origins (id),
    filename TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (origin, filename)
);
"""


class Kind:
    """Event kinds, as stored (small ints) and as shown (names)."""

    CALL: Final = 0
    LINE: Final = 1
    RETURN: Final = 2
    YIELD: Final = 3
    RESUME: Final = 4
    EXCEPTION: Final = 5
    HANDLED: Final = 6
    UNWIND: Final = 7


class Payload:
    """The keys of an event's payload (module docstring), one letter each: the payload is
    written at most steps, so its keys are kept short."""

    UNWOUND: Final = "u"
    LOCALS: Final = "l"
    DELETED: Final = "d"
    OTHER_FRAMES: Final = "o"
    RETURNED: Final = "r"
    EXCEPTION: Final = "x"
    WATCHED: Final = "w"
    OBJECTS: Final = "b"


KIND_NAMES: Final = ("call", "line", "return", "yield", "resume", "exception", "handled", "unwind")

# Kinds after which the event's frame leaves the stack.
LEAVING_KINDS: Final = frozenset({Kind.RETURN, Kind.YIELD, Kind.UNWIND})

# The marks of the value forms (module docstring): keys of a recorded map that are not data.
MARKS: Final = ("$truncated", "$depth", "$cycle", "$redacted")
# What stands for each secret value inside a recorded str or bytes (a form marked
# "$redacted"): the comparison matches it against the text of a run that did not redact.
REDACTED_TEXT: Final = "<redacted>"


class Container:
    """What an object is as a container (an object entry's last element), from its builtin
    base classes: a ``dict`` subclass is a mapping whatever its name, a ``list`` subclass a
    sequence. A reader indexes a mapping by key, a sequence or tuple by position, and a set
    not at all."""

    NONE: Final = 0  # not a container: an exception, an instance, a bytearray
    MAPPING: Final = 1  # dict and its subclasses (OrderedDict, defaultdict, Counter)
    SEQUENCE: Final = 2  # list, collections.deque and their subclasses
    TUPLE: Final = 3  # tuple and its subclasses (named tuples)
    SET: Final = 4  # set, frozenset and their subclasses


# The containers' names by number, as readers show them (``"$kind"`` of a resolved form).
CONTAINER_NAMES: Final = (None, "mapping", "sequence", "tuple", "set")
