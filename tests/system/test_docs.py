"""The README documents what the code does: its schema, its options, its modules."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support.paths import REPO

from pytest_scope.trace.schema import ORIGINS_SCHEMA, SCHEMA
from replay.cli import main

README = (REPO / "README.md").read_text()
# The entries of the README's module list ("Development") that list a folder's modules.
MODULE_FOLDERS = {
    "  trace/": "pytest_scope/trace",
    "  capture/": "pytest_scope/capture",
    "  *.py": "pytest_scope",
    "replay/": "replay",
}


def test_readme_shows_the_trace_schema_verbatim() -> None:
    assert f"```sql\n{SCHEMA}```" in README
    assert f"```sql\n{ORIGINS_SCHEMA}```" in README


@pytest.mark.slow
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


def _modules_listed() -> dict[str, set[str]]:
    """The modules each folder's entry of the README's module list names."""
    block = README.split("## Development\n\n```\n", 1)[1].split("```", 1)[0]
    listed: dict[str, set[str]] = {}
    folder = None
    for line in block.splitlines():
        entry = line[:23].rstrip()
        if entry:
            folder = MODULE_FOLDERS.get(entry)
        if folder is not None:
            listed.setdefault(folder, set()).update(re.findall(r"\b\w+\.py\b", line[23:]))
    return listed


def test_readme_lists_every_module_in_its_folder() -> None:
    in_tree = {
        folder: {path.name for path in (REPO / folder).glob("*.py")} - {"__init__.py"}
        for folder in MODULE_FOLDERS.values()
    }
    assert _modules_listed() == in_tree
