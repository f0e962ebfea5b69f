"""The layers of pytest_scope and replay: who imports whom.

``import_graph`` reads every import statement (at module level, inside functions and
under ``TYPE_CHECKING``) of the packages' sources, without importing them, so that a
rule holds for the code as written and not only for what one run happens to load.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from support.paths import REPO

PACKAGES = ("pytest_scope", "replay")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Each module of ``packages`` under ``root``, by its dotted name."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def import_graph(root: Path = REPO, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """Which of the packages' modules each module imports, anywhere in its source."""
    files = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(_known(alias.name, files) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, name, is_package)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    imported.add(submodule if submodule in files else _known(base, files))
        imported.discard("")
        graph[name] = imported
    return graph


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module name of a ``from ... import`` statement."""
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    if not is_package:
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _known(name: str, files: Mapping[str, Path]) -> str:
    """``name`` if it is one of the modules, else its closest enclosing one, else ''."""
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The graph's strongly connected components that hold a cycle, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.b import B\n"
        "def f():\n    from .sub import c\n"
    )
    (package / "b.py").write_text("import pkg.sub.c\n")
    (package / "sub" / "__init__.py").write_text("from .. import a\n")
    (package / "sub" / "c.py").write_text("from ..b import x\nimport os\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.sub.c"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": {"pkg.a"},
        "pkg.sub.c": {"pkg.b"},
    }
    assert cycles(graph) == [["pkg.b", "pkg.sub.c"]]


def test_no_module_of_pytest_scope_or_replay_imports_itself_back() -> None:
    graph = import_graph()
    assert "pytest_scope.session" in graph and "replay.cli" in graph
    assert cycles(graph) == []


@pytest.mark.slow
def test_the_entry_point_imports_nothing_of_recording() -> None:
    """pytest loads ``plugin`` in every run: recording's modules wait for ``--scope``."""
    heavy = ("sqlite3", "msgpack", "rich", "replay", "pytest_scope.session")
    heavy += ("pytest_scope.capture.recorder", "pytest_scope.trace")
    probe = (
        "import sys, pytest_scope.plugin\n"
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


def stage(module: str) -> str:
    """Where a module stands on the data path (docs/pages/design.md, "The layout")."""
    if module == "pytest_scope.errors":
        return "errors"
    for package in ("pytest_scope.trace", "pytest_scope.capture", "replay"):
        if module == package or module.startswith(f"{package}."):
            return package.rpartition(".")[2]
    return "glue"


# What each stage may import. The trace format is the bottom: capture packs into it, the
# pytest glue writes it, replay only reads it (the package itself gives replay its
# version). Capture runs in the callbacks: the format's in-memory half, no SQLite.
MAY_IMPORT = {
    "errors": set(),
    "trace": {"errors", "trace"},
    "capture": {"errors", "capture", "pytest_scope.trace.schema", "pytest_scope.trace.codec",
                "pytest_scope.trace.records"},
    "replay": {"errors", "trace", "replay", "pytest_scope"},
    "glue": {"errors", "trace", "capture", "glue"},
}  # fmt: skip
# The pytest side needs replay only to build CI artifacts and for the summary's lines that
# read recordings back.
GLUE_READING_BACK = {"pytest_scope.artifacts", "pytest_scope.comparisons"}


def test_each_stage_imports_only_what_lies_below_it() -> None:
    wrong = []
    for module, imported in import_graph().items():
        allowed = MAY_IMPORT[stage(module)]
        if module in GLUE_READING_BACK:
            allowed = allowed | {"replay"}
        wrong += [
            f"{module} -> {name}"
            for name in sorted(imported)
            if name not in allowed and stage(name) not in allowed
        ]
    assert wrong == []


def test_the_stages_are_told_apart() -> None:
    assert [
        stage(name)
        for name in ("pytest_scope.errors", "pytest_scope.trace.reader", "pytest_scope.capture",
                     "replay.cli", "pytest_scope.session", "pytest_scope")
    ] == ["errors", "trace", "capture", "replay", "glue", "glue"]  # fmt: skip


# The concerns inside replay, lowest first: a module imports from its own concern or a
# lower one only. Interactive use and export stand side by side: neither imports the other.
# The package itself (its __init__) is below them all and imports nothing of replay.
REPLAY_LAYERS = (("replay",), ("reading",), ("comparing",), ("views",), ("interactive", "export"),
                 ("cli",))  # fmt: skip


def replay_concern(module: str) -> str | None:
    """A replay module's concern: its subpackage, ``cli``, or ``replay`` for the package."""
    if module == "replay":
        return "replay"
    return module.split(".")[1] if module.startswith("replay.") else None


def replay_rank(concern: str) -> int | None:
    """Where a concern stands in ``REPLAY_LAYERS``, or None for one that has no place."""
    for rank, layer in enumerate(REPLAY_LAYERS):
        if concern in layer:
            return rank
    return None


def replay_layer_faults(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import inside replay that reaches up or sideways, and each module of replay
    whose concern has no layer."""
    faults = []
    for module, imported in sorted(graph.items()):
        concern = replay_concern(module)
        if concern is None:
            continue
        rank = replay_rank(concern)
        if rank is None:
            faults.append(f"{module} is in no layer")
            continue
        for name in sorted(imported):
            other = replay_concern(name)
            if other is None or other == concern:
                continue
            other_rank = replay_rank(other)
            if other_rank is None or other_rank >= rank:
                faults.append(f"{module} -> {name}")
    return faults


def test_replay_imports_only_its_own_concern_or_a_lower_one() -> None:
    graph = import_graph()
    assert {replay_concern(name) for name in graph} - {None} == {
        concern for layer in REPLAY_LAYERS for concern in layer
    }
    assert replay_layer_faults(graph) == []


def test_the_replay_layers_are_told_apart() -> None:
    graph = {
        "replay": set(),
        "replay.cli": {"replay.views.text_view", "replay.export.bundle"},
        "replay.reading.state": {"replay.comparing.compare", "replay.reading.references"},
        "replay.reading.references": {"replay"},
        "replay.comparing.compare": {"replay.reading.state"},
        "replay.views.text_view": {"replay.interactive.prompt"},
        "replay.interactive.prompt": {"replay.export.bundle", "replay.views.text_view"},
        "replay.export.bundle": {"replay.cli"},
        "replay.scratch": set(),
        "pytest_scope.plugin": {"replay.cli"},
    }
    assert replay_layer_faults(graph) == [
        "replay.export.bundle -> replay.cli",
        "replay.interactive.prompt -> replay.export.bundle",
        "replay.reading.state -> replay.comparing.compare",
        "replay.scratch is in no layer",
        "replay.views.text_view -> replay.interactive.prompt",
    ]
