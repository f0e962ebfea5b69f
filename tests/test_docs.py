"""The README documents what the code does: its schema, its options."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_scope.trace.schema import ORIGINS_SCHEMA, SCHEMA
from replay.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_shows_the_trace_schema_verbatim() -> None:
    assert f"```sql\n{SCHEMA}```" in README
    assert f"```sql\n{ORIGINS_SCHEMA}```" in README


def test_readme_names_every_plugin_option_and_ini_setting() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, check=True
    ).stdout
    options = set(re.findall(r"--scope[-a-z]*", help_text))
    ini_settings = set(re.findall(r"^  (scope[_a-z]*) \(", help_text, re.MULTILINE))
    assert options >= {"--scope", "--scope-dir", "--scope-level", "--scope-buffer-mb"}
    assert ini_settings >= {"scope", "scope_dir", "scope_level", "scope_buffer_mb"}
    assert [name for name in options | ini_settings if f"`{name}" not in README] == []


def test_readme_names_every_scope_replay_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    options = set(re.findall(r"--[a-z]+", capsys.readouterr().out)) - {"--help"}
    assert options >= {"--step", "--run", "--format", "--dir", "--timeline", "--list", "--runs"}
    assert [option for option in options if option not in README] == []
