"""The rows of a trace file, one record type per table: the one description of each column.

A record's fields are its table's columns, with the Python type SQLite returns for them
(``int`` INTEGER, ``float`` REAL, ``str`` TEXT, ``bytes`` BLOB; ``| None`` where NULL is
allowed). Where the writer assigns a row's place (the id of a test or code, a chunk's test
and sequence number), those key columns are described by the table, not the record, so
that what the recorder hands over carries no id. The writer inserts, the reader selects
and checks, and combining and copying move rows, all by these descriptions; a test pins
them against ``schema.SCHEMA``. Standard library only: the recorder's callbacks use
``Chunk`` and must not import SQLite.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Union, get_args, get_origin, get_type_hints


@dataclass(frozen=True, slots=True)
class MetaEntry:
    """A fact about the run (``meta``)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One recorded attempt of a test: the ``tests`` row, without its id."""

    __test__ = False  # not a pytest test class, whatever its name says

    nodeid: str
    attempt: int
    outcome: str
    started: float
    duration: float
    steps: int
    first_step: int
    dropped_steps: int
    failure_step: int | None
    incomplete: str | None


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A code object events refer to: the ``codes`` row, without its number."""

    qualname: str
    filename: str
    firstlineno: int


@dataclass(frozen=True, slots=True)
class Source:
    """A file's text (``sources``)."""

    filename: str
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A packed chunk (``codec.seal_chunk``) and the steps it holds: the ``chunks`` row,
    without its test and place among the test's chunks."""

    first_step: int
    last_step: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Origin:
    """A run tests were copied from (``origins``): its meta rows as a JSON object."""

    id: int
    meta: str


@dataclass(frozen=True, slots=True)
class TestOrigin:
    """The run a copied test was recorded in (``test_origins``)."""

    __test__ = False

    test_id: int
    origin: int


@dataclass(frozen=True, slots=True)
class OriginSource:
    """A file's text as one run had it, where it differs from ``sources``."""

    origin: int
    filename: str
    text: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: type  # int, float, str or bytes
    nullable: bool

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self.kind]

    @property
    def accepts(self) -> tuple[type, ...]:
        """The Python types a valid value of this column may have when read."""
        read = (int, float) if self.kind is float else (self.kind,)  # REAL may hold 3
        return (*read, type(None)) if self.nullable else read


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    record: type[Any]
    keys: Mapping[str, type] = field(default_factory=dict)  # columns set by the writer
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        keys = tuple(Column(name, kind, nullable=False) for name, kind in self.keys.items())
        fields = tuple(_column(name, hint) for name, hint in _hints(self.record).items())
        object.__setattr__(self, "columns", keys + fields)

    def names(self, *, keys: bool = True) -> list[str]:
        """The columns in the schema's order; with ``keys=False``, only the record's."""
        return [column.name for column in self.columns if keys or column.name not in self.keys]

    def accepts(self, names: Sequence[str]) -> tuple[tuple[type, ...], ...]:
        """For each column named, the Python types its values may have when read."""
        by_name = {column.name: column for column in self.columns}
        return tuple(by_name[name].accepts for name in names)

    def row(self, record: Any, **keys: object) -> dict[str, object]:
        """``record`` as the column -> value map of its row, with the key columns ``keys``."""
        return {**keys, **{name: getattr(record, name) for name in self.names(keys=False)}}


_SQL_TYPES: Final[Mapping[type, str]] = {
    int: "INTEGER",
    float: "REAL",
    str: "TEXT",
    bytes: "BLOB",
}


def _hints(record: type[Any]) -> dict[str, Any]:
    """The record's fields and their types, in order."""
    hints = get_type_hints(record)
    return {field.name: hints[field.name] for field in dataclasses.fields(record)}


def _column(name: str, hint: Any) -> Column:
    if get_origin(hint) in (Union, types.UnionType):
        (kind,) = (arg for arg in get_args(hint) if arg is not type(None))
        return Column(name, kind, nullable=True)
    return Column(name, hint, nullable=False)


META: Final = Table("meta", MetaEntry)
TESTS: Final = Table("tests", TestRecord, {"id": int})
CODES: Final = Table("codes", CodeInfo, {"id": int})
SOURCES: Final = Table("sources", Source)
CHUNKS: Final = Table("chunks", Chunk, {"test_id": int, "seq": int})
ORIGINS: Final = Table("origins", Origin)
TEST_ORIGINS: Final = Table("test_origins", TestOrigin)
ORIGIN_SOURCES: Final = Table("origin_sources", OriginSource)
TABLES: Final = (META, TESTS, CODES, SOURCES, CHUNKS)
ORIGIN_TABLES: Final = (ORIGINS, TEST_ORIGINS, ORIGIN_SOURCES)  # copied tests only
