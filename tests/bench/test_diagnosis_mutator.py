"""The diagnosis benchmark's AST mutator (bench/mutator.py): every operator changes what the
code does, the mutant compiles with the original's line numbers, and a site names its
function as the code object does (what recordings show). bench/ is not a package: its
modules are imported from the folder, as ``python bench/diagnosis.py`` does."""

from __future__ import annotations

import ast
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO

sys.path.insert(0, str(REPO / "bench"))

import mutator

# One function per operator, and what calling it gives: each mutant must give another result.
CASES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "int_off_by_one": ("def f(x):\n    return x * 3\n", (2,)),
    "bound_off_by_one": ("def f(xs, n):\n    return [x for x in xs[:n]]\n", ([1, 2, 3], 1)),
    "comparison": ("def f(a, b):\n    return a < b\n", (2, 2)),
    "drop_not": ("def f(x):\n    return not x\n", (True,)),
    "swap_args": ("def f(a, b):\n    return divmod(\n        a, b)\n", (7, 2)),
    "default_value": ("def f(x, strict=False):\n    return (x, strict)\n", (1,)),
    "drop_append": (
        "def f(xs):\n    out = []\n    for x in xs:\n        out.append(\n            x)\n"
        "    return out\n",
        ([1, 2],),
    ),
    "skip_first": (
        "def f(xs):\n    total = 0\n    for x in iter(xs):\n        total += x\n    return total\n",
        ([1, 2],),
    ),
    "and_or": ("def f(a, b):\n    return a and b\n", (True, False)),
}


def _run(source: str, args: tuple[Any, ...]) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<case>", "exec"), namespace)
    return namespace["f"](*args)


def test_every_operator_has_a_case() -> None:
    assert set(CASES) == set(mutator.OPERATORS)


@pytest.mark.parametrize("operator", mutator.OPERATORS)
def test_each_operator_changes_the_code_and_compiles(operator: str) -> None:
    source, args = CASES[operator]
    found = [site for site in mutator.sites(source) if site.operator == operator]
    assert found, f"no {operator} site in {source!r}"
    for site in found:
        mutant = mutator.mutate(source, site)
        compile(mutant, "<mutant>", "exec")
        assert ast.dump(ast.parse(mutant)) != ast.dump(ast.parse(source))
        assert mutant.count("\n") == source.count("\n")  # recordings name the same lines
        assert site.qualname == "f"
    mutant = mutator.mutate(source, found[0])
    assert _run(mutant, args) != _run(source, args)


def test_the_rest_of_the_file_keeps_its_bytes() -> None:
    source = "def f(x):  # café\n    y = x < 1  # a comment\n    return y\n\nZ = 1  # kept\n"
    (site,) = [s for s in mutator.sites(source) if s.operator == "comparison"]
    mutant = mutator.mutate(source, site)
    assert mutant.splitlines()[0] == source.splitlines()[0]
    assert mutant.splitlines()[1] == "    y = (x <= 1)  # a comment"
    assert mutant.splitlines()[2:] == source.splitlines()[2:]
    assert not [s for s in mutator.sites(source) if s.line == 5]  # module level: not mutated


def test_a_site_names_its_function_as_the_code_object_does() -> None:
    source = textwrap.dedent(
        """
        class Box:
            def size(self, n=2):
                def inner(m):
                    return m + 1
                key = lambda v: v > 0
                return inner(n) if key(n) else 0

            class Lid:
                def close(self):
                    return not self

        def free(a, b):
            return [x for x in range(a, b) if x != a]
        """
    )
    qualnames = set()

    def collect(code: types.CodeType) -> None:
        qualnames.add(code.co_qualname)
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                collect(constant)

    collect(compile(source, "<box>", "exec"))
    found = mutator.sites(source)
    assert {site.qualname for site in found} == {
        "Box.size",
        "Box.size.<locals>.inner",
        "Box.size.<locals>.<lambda>",
        "Box.Lid.close",
        "free",
    }
    assert {site.qualname for site in found} <= qualnames
    (default,) = [site for site in found if site.operator == "default_value"]
    assert (default.qualname, default.function_lines) == ("Box.size", (3, 7))


def test_shuffled_is_seeded_and_takes_each_operator_in_turn() -> None:
    source = "".join(source for source, _ in CASES.values())
    found = mutator.sites(source)
    first = mutator.shuffled(found, lambda site: site.operator, 3)
    assert first == mutator.shuffled(found, lambda site: site.operator, 3)
    assert sorted(first, key=lambda s: s.key) == sorted(found, key=lambda s: s.key)
    present = [op for op in mutator.OPERATORS if any(s.operator == op for s in found)]
    assert [site.operator for site in first[: len(present)]] == present


def test_a_site_not_in_the_source_is_refused() -> None:
    source, _ = CASES["comparison"]
    (site,) = mutator.sites(source)
    with pytest.raises(ValueError, match="no comparison site"):
        mutator.mutate("def f(a, b):\n    return a\n", site)


def test_a_mutated_file_is_restored_whatever_happens(tmp_path: Path) -> None:
    import diagnosis

    module = tmp_path / "mod.py"
    source, _ = CASES["comparison"]
    module.write_text(source)
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "mod.cpython-313.pyc").write_bytes(b"stale")
    (site,) = mutator.sites(source)
    with pytest.raises(RuntimeError), diagnosis._mutated(module, site):
        assert module.read_text() == mutator.mutate(source, site)
        assert not list(cache.iterdir())  # no byte code of the original to pick up
        raise RuntimeError("the run failed")
    assert module.read_text() == source


def test_an_installed_copy_and_the_source_are_one_module() -> None:
    from diagnosis_score import Target

    target = Target("Box.size", "pkg/mod.py", "src/")
    root = "/work/proj"
    for filename in ("/work/proj/src/pkg/mod.py", "/venv/lib/python3.13/site-packages/pkg/mod.py"):
        assert target.is_frame({"function": "Box.size", "file": filename}, root)
        assert target.is_frame({"function": "Box.size.<locals>.<genexpr>", "file": filename}, root)
        assert not target.is_frame({"function": "Box.sizes", "file": filename}, root)
    assert not target.is_frame(
        {"function": "Box.size", "file": "/work/proj/src/pkg/other.py"}, root
    )
