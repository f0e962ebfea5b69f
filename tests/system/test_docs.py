"""The README and the documentation site say what the code does: its options, its commands,
its schema, its modules; and the README's links lead somewhere on GitHub and on the site."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
from support.paths import REPO

from pytest_scope.trace.schema import KIND_NAMES, ORIGINS_SCHEMA, SCHEMA, Payload
from replay.cli import main

DOCS = REPO / "docs"
PAGES = DOCS / "pages"
README = (REPO / "README.md").read_text()
# The folders whose modules the design page's module list must name, one by one.
PACKAGES = ("pytest_scope", "replay")


def _section(text: str, heading: str) -> str:
    """The body of a Markdown section, up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"\n#{{1,{len(level)}}} ", body, maxsplit=1)[0]


# --- the options table, in the README and in the guide ---------------------------------


def _plugin_help() -> str:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, check=True
    ).stdout


def _options_from_help(help_text: str) -> dict[str, tuple[str, str | None]]:
    """Each --scope option's ini setting and default, as the plugin declares them."""
    group = help_text.split("record tests for replay (pytest-scope):\n", 1)[1].split("\n\n", 1)[0]
    declared = {}
    for entry in re.split(r"\n  (?=--)", "\n" + group.strip("\n")):
        words = " ".join(entry.split())
        if not words:
            continue
        option = re.match(r"--[a-z-]+", words)
        ini = re.search(r"\(ini: (\w+)", words)
        assert option is not None and ini is not None, words
        default = re.search(r"default: (\d+)\)", words)
        declared[option.group()] = (ini.group(1), default.group(1) if default else None)
    return declared


def _table_rows(text: str) -> list[list[str]]:
    """The rows of the options table (the one whose header starts with `option`)."""
    table = text.split("| option | ini setting | default | what it does |\n|---|---|---|---|\n")[1]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| "):
            break
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


def _option_and_ini(row: list[str]) -> tuple[str, str]:
    option = re.match(r"`(-o |)([a-z_-]+)", row[0])
    ini = re.match(r"`([a-z_]+)", row[1])
    assert option is not None and ini is not None, row
    return option.group(2), ini.group(1)


@pytest.fixture(scope="module")
def plugin_help() -> str:
    return _plugin_help()


@pytest.mark.slow
def test_the_readme_tables_every_plugin_option_with_its_ini_setting_and_default(
    plugin_help: str,
) -> None:
    declared = _options_from_help(plugin_help)
    assert set(declared) >= {"--scope", "--scope-dir", "--scope-buffer-mb", "--scope-redact"}
    rows = _table_rows(_section(README, "## Options"))
    tabled = dict(_option_and_ini(row) for row in rows)
    options = {name: ini for name, ini in tabled.items() if name.startswith("--")}
    assert options == {option: ini for option, (ini, _) in declared.items()}
    defaults = {_option_and_ini(row)[0]: row[2] for row in rows}
    for option, (_, default) in declared.items():
        if default is not None:
            assert defaults[option] == default, option
    ini_settings = set(re.findall(r"^  (scope[_a-z]*) \(", plugin_help, re.MULTILINE))
    assert ini_settings >= {"scope", "scope_dir", "scope_progress_after"}
    assert set(tabled.values()) == ini_settings


def test_the_guide_has_the_readme_options_table() -> None:
    """The site's reader finds the same table, links aside (each points within its home)."""

    def without_links(rows: list[list[str]]) -> list[list[str]]:
        return [[re.sub(r"\]\([^)]*\)", "]", cell) for cell in row] for row in rows]

    readme = _table_rows(_section(README, "## Options"))
    guide = _table_rows(_section((PAGES / "guide.md").read_text(), "## Options"))
    assert len(readme) >= 14
    assert without_links(guide) == without_links(readme)


# --- scope-replay's command line ------------------------------------------------------


def test_the_replay_page_names_every_scope_replay_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    options = set(re.findall(r"^  (?:-\w, )?(--[a-z-]+)", help_text, re.MULTILINE)) - {"--help"}
    assert options >= {"--step", "--run", "--format", "--dir", "--timeline", "--list", "--runs"}
    usage = _section((PAGES / "replay.md").read_text(), "## The command").split("```")[1]
    assert set(re.findall(r"--[a-z-]+[a-z]", usage)) == options


def test_the_readme_shows_the_two_commands_and_the_tour() -> None:
    top = README.split("\n## A short tour", 1)[0]
    assert "pytest --scope" in top and "scope-replay TEST_ID --step N" in top
    tour = _section(README, "## A short tour")
    assert "$ scope-replay test_ship_takes_every_line --diverge" in tour
    assert "compared with its last pass" in tour


# --- the trace file ----------------------------------------------------------------------


def _schema_page_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_page", DOCS / "hooks" / "schema_page.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def test_the_trace_file_page_shows_the_format_as_schema_py_states_it() -> None:
    """The page is built from the module: its docstring (every payload key, every kind) and
    its tables, word for word, and nothing of the format is left unreplaced."""
    hook = _schema_page_hook()
    page = hook.render((PAGES / "trace-format.md").read_text(), hook.load_schema())
    assert "<!-- schema:" not in page
    assert f"```sql\n{SCHEMA}```" in page
    assert f"```sql\n{ORIGINS_SCHEMA}```" in page
    keys = [value for name, value in vars(Payload).items() if not name.startswith("_")]
    assert len(keys) == 8
    for key in keys:
        assert f'- ``"{key}"`` (``Payload.' in page, key
    assert all(f"``{kind}``" in page for kind in KIND_NAMES)


def test_the_schema_page_hook_refuses_a_marker_it_cannot_fill() -> None:
    hook = _schema_page_hook()
    with pytest.raises(ValueError, match="no text named 'TABLES'"):
        hook.render("<!-- schema: TABLES -->", hook.load_schema())


# --- the module list ---------------------------------------------------------------------


def _modules_listed() -> dict[str, set[str]]:
    """The modules each package folder's entry of the design page's module list names.

    An entry at the left margin is a top folder (`replay/`); one indented by two spaces is a
    folder inside it (`  reading/`), or `  *.py` for the top folder's own modules. A
    module named on an entry's lines belongs to that entry's folder.
    """
    page = (PAGES / "design.md").read_text()
    block = _section(page, "### Module by module").split("```\n", 2)[1]
    listed: dict[str, set[str]] = {}
    top = folder = ""
    for line in block.splitlines():
        entry = line[:23].rstrip()
        if entry and not entry.startswith(" "):
            top = folder = entry.rstrip("/")
        elif entry == "  *.py":
            folder = top
        elif entry:
            folder = f"{top}/{entry.strip().rstrip('/')}"
        if folder.split("/")[0] in PACKAGES:
            listed.setdefault(folder, set()).update(re.findall(r"\b\w+\.py\b", line[23:]))
    return {folder: modules for folder, modules in listed.items() if modules}


def test_the_design_page_lists_every_module_in_its_folder() -> None:
    in_tree = {}
    for package in PACKAGES:
        for init in (REPO / package).rglob("__init__.py"):
            modules = {path.name for path in init.parent.glob("*.py")} - {"__init__.py"}
            if modules:
                in_tree[init.parent.relative_to(REPO).as_posix()] = modules
    assert {"pytest_scope", "pytest_scope/trace", "pytest_scope/capture", "replay"} <= set(in_tree)
    assert _modules_listed() == in_tree


# --- the README's links ------------------------------------------------------------------


def _slugs(heading: str) -> tuple[str, str]:
    """A heading's anchor as MkDocs makes it (Python-Markdown's toc) and as GitHub does."""
    text = re.sub(r"[`*]", "", heading).strip()
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_text).strip().lower())
    github = re.sub(r" ", "-", re.sub(r"[^\w\- ]", "", text.lower()))
    return mkdocs, github


def _anchors(page: Path) -> tuple[set[str], set[str]]:
    headings = [
        line.lstrip("#").strip()
        for line in re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL).splitlines()
        if line.startswith("#")
    ]
    slugs = [_slugs(heading) for heading in headings]
    return {mkdocs for mkdocs, _ in slugs}, {github for _, github in slugs}


def test_every_readme_link_into_the_repository_leads_somewhere() -> None:
    links = re.findall(r"\]\(([^)]+)\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert any(link.startswith("docs/pages/") and "#" in link for link in local)
    for link in local:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.is_file(), link
        if anchor:
            on_the_site, on_github = _anchors(target)
            assert anchor in on_the_site and anchor in on_github, link


def test_the_readme_stays_an_entry_point() -> None:
    assert len(README.splitlines()) <= 400
