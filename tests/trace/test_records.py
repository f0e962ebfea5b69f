"""The record types are the one description of the trace file's tables: pinned to the schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import fields
from typing import get_type_hints

import pytest

from pytest_scope.trace.reader import RecordedTest
from pytest_scope.trace.records import ORIGIN_TABLES, TABLES, TESTS
from pytest_scope.trace.schema import ORIGINS_SCHEMA, SCHEMA


def _schema_columns() -> dict[str, list[tuple[str, str, bool]]]:
    """Each table of the schema: its columns' names, declared types and nullability."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA + ORIGINS_SCHEMA)
        names = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            name: [
                # Keys are never NULL as written, though SQLite lets a TEXT key hold one.
                (column, kind, not (not_null or primary))
                for _, column, kind, not_null, _, primary in db.execute(
                    f"PRAGMA table_info({name})"
                )
            ]
            for name in names
        }


def test_every_column_of_every_table_is_described_once() -> None:
    described = {
        table.name: [(column.name, column.sql_type, column.nullable) for column in table.columns]
        for table in (*TABLES, *ORIGIN_TABLES)
    }
    assert len(described) == len(TABLES) + len(ORIGIN_TABLES)
    assert described == _schema_columns()


def test_the_reader_shows_columns_of_the_tests_row() -> None:
    hints = get_type_hints(RecordedTest)
    shown = [field.name for field in fields(RecordedTest) if field.name != "origin"]
    by_name = {column.name: column for column in TESTS.columns}
    for name in shown:
        column = by_name[name]
        expected = column.kind | None if column.nullable else column.kind
        assert hints[name] == expected, name


@pytest.mark.slow
def test_capture_imports_no_sqlite() -> None:
    """What runs inside the callbacks, and what the session hands it, loads no SQLite."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import pytest_scope.capture as capture\n"
        "for module in pkgutil.iter_modules(capture.__path__):\n"
        "    importlib.import_module(f'pytest_scope.capture.{module.name}')\n"
        "import pytest_scope.interrupt, pytest_scope.cost\n"
        "print(sorted(name for name in sys.modules if 'sqlite' in name))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
