"""Which locals each line names, read from the bytecode: the names a line step checks."""

from __future__ import annotations

from types import CodeType

from pytest_scope.capture.linenames import line_names


def _code(source: str, name: str) -> CodeType:
    namespace: dict[str, object] = {}
    exec(compile(source, "<test>", "exec"), namespace)
    return namespace[name].__code__  # type: ignore[attr-defined]


def _names(table: dict, line: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    found = table[line]
    return found.deep, found.shallow, found.drops


def test_a_line_names_what_it_loads_stores_and_deletes_and_how_deep() -> None:
    code = _code(
        "def f(items, n):\n"  # 1
        "    total = n + 1\n"  # 2: stores total, reads n
        "    items.append(total)\n"  # 3: a call reaches what it names
        "    copy = total\n"  # 4: reads total, stores copy
        "    del copy\n"  # 5
        "    return total\n",  # 6
        "f",
    )
    table = line_names(code)
    assert _names(table, 2) == (("total",), ("n",), ("total",))
    assert _names(table, 3) == (("items", "total"), (), ())
    assert _names(table, 4) == (("copy",), ("total",), ("copy",))
    assert _names(table, 5) == ((), ("copy",), ("copy",))
    assert _names(table, 6) == ((), ("total",), ())


def test_a_local_past_the_first_256_is_named_through_its_extended_argument() -> None:
    """Its index takes an ``EXTENDED_ARG`` prefix, which carries the high bits."""
    names = [f"v{i}" for i in range(300)]
    body = "".join(f"    {name} = {i}\n" for i, name in enumerate(names))
    code = _code(f"def f():\n{body}    return v299 + v3\n", "f")
    table = line_names(code)
    assert _names(table, 301) == (("v299",), (), ("v299",))
    assert set(table[302].shallow) == {"v299", "v3"}


def test_cells_and_the_names_of_a_class_body_are_named() -> None:
    code = _code(
        "def outer():\n"  # 1
        "    shared = []\n"  # 2
        "    def inner():\n"  # 3
        "        shared.append(1)\n"  # 4
        "    return inner\n",  # 5
        "outer",
    )
    assert "shared" in line_names(code)[2].deep
    inner = next(const for const in code.co_consts if isinstance(const, CodeType))
    assert line_names(inner)[4].deep == ("shared",)
    module = compile("class C:\n    x = 1\n    y = x\n", "<test>", "exec")
    body = next(const for const in module.co_consts if isinstance(const, CodeType))
    last = line_names(body)[3]  # 3.13 also stores __static_attributes__ there
    assert "y" in last.deep and last.shallow == ("x",)
