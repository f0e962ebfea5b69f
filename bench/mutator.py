"""A small AST mutator: one injected bug at a time, in a project's source, for the
diagnosis benchmark (``diagnosis.py``).

``sites(source)`` lists every place an operator applies, in source order; ``mutate(source,
site)`` returns the source with that one change. The change is written over the node's
own text (the rest of the file keeps its bytes, comments and line numbers: a recording of
the mutant names the same lines as one of the original), as the node's ``ast.unparse``
in parentheses, padded with newlines to the node's line count. Only code inside a
function is mutated (and a function's default values, which belong to it): a site names
the function as its code object's ``co_qualname`` does, which is what recordings show.

Operators (``OPERATORS``):

- ``int_off_by_one``: an int constant ``n`` becomes ``n + 1``;
- ``bound_off_by_one``: a slice bound or the last argument of ``range(...)`` that is not a
  constant gets ``+ 1``;
- ``comparison``: ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in``
  swapped;
- ``drop_not``: ``not x`` becomes ``x``;
- ``swap_args``: the first two positional arguments of a call swapped;
- ``default_value``: a constant default of a parameter changed (a bool flipped, an int
  ``+ 1``, a str emptied or made ``"x"``);
- ``drop_append``: a statement ``x.append(...)`` (``add``, ``extend``, ``insert``,
  ``appendleft``, ``update``) becomes ``pass``: an element skipped;
- ``skip_first``: ``for v in it`` iterates over ``islice(it, 1, None)``: the first element
  skipped;
- ``and_or``: ``and`` and ``or`` swapped.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

OPERATORS = (
    "int_off_by_one",
    "bound_off_by_one",
    "comparison",
    "drop_not",
    "swap_args",
    "default_value",
    "drop_append",
    "skip_first",
    "and_or",
)

_SWAPPED_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ADDING_METHODS = frozenset({"append", "add", "extend", "insert", "appendleft", "update"})


@dataclass(frozen=True)
class _Scope:
    """The function a node belongs to: its qualname and lines."""

    qualname: str
    first: int
    last: int

    def nested(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str
    ) -> _Scope:
        return _Scope(
            f"{self.qualname}.<locals>.{name}", node.lineno, node.end_lineno or node.lineno
        )


_Found = tuple[ast.AST, _Scope, ast.AST, str]  # node, its function, replacement, operator


@dataclass(frozen=True)
class Site:
    """One mutation: the operator, the node it rewrites (by its position), and the
    function whose behaviour changes."""

    operator: str
    line: int
    col: int
    end_line: int
    end_col: int
    qualname: str  # as the function's code object names it (co_qualname)
    function_lines: tuple[int, int]  # the first and last line of that function
    detail: str  # the node before and after, for a person reading the report

    @property
    def key(self) -> str:
        return f"{self.operator}@{self.line}:{self.col}"


def sites(source: str) -> list[Site]:
    """Every mutation of ``source``, in source order; the source must parse."""
    found: list[Site] = []
    for node, scope, replacement, operator in _candidates(ast.parse(source)):
        assert node.end_lineno is not None and node.end_col_offset is not None
        before = ast.unparse(node)
        after = ast.unparse(replacement)
        if before == after:
            continue
        found.append(
            Site(
                operator,
                node.lineno,
                node.col_offset,
                node.end_lineno,
                node.end_col_offset,
                scope.qualname,
                (scope.first, scope.last),
                f"{_short(before)} -> {_short(after)}",
            )
        )
    return found


def mutate(source: str, site: Site) -> str:
    """``source`` with ``site``'s change, same number of lines; raises ValueError if the
    site is not in ``source`` or the result does not compile."""
    tree = ast.parse(source)
    for node, _, replacement, operator in _candidates(tree):
        position = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        if operator == site.operator and position == (site.line, site.col, site.end_line,
                                                      site.end_col):  # fmt: skip
            text = _replaced(source, node, replacement)
            compile(text, "<mutant>", "exec")
            return text
    raise ValueError(f"no {site.operator} site at line {site.line}, column {site.col}")


def shuffled[T](found: Sequence[T], operator_of: Callable[[T], str], seed: int) -> list[T]:
    """``found`` (sites, or things that hold one) in a seeded order that takes each
    operator in turn, so that a short run still tries them all."""
    rng = random.Random(seed)
    by_operator: dict[str, list[T]] = {}
    for item in found:
        by_operator.setdefault(operator_of(item), []).append(item)
    queues = []
    for operator in OPERATORS:
        queue = list(by_operator.get(operator, []))
        rng.shuffle(queue)
        queues.append(queue)
    ordered: list[T] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop())
    return ordered


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _replaced(source: str, node: ast.AST, replacement: ast.AST) -> str:
    """The source with ``node``'s text replaced; columns are UTF-8 byte offsets."""
    lines = source.encode().splitlines(keepends=True)
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    head = lines[first][: node.col_offset]  # type: ignore[attr-defined]
    tail = lines[last][node.end_col_offset :]  # type: ignore[attr-defined]
    padding = "\n" * (last - first)
    if isinstance(replacement, ast.stmt):  # its other lines become blank lines
        text = ast.unparse(replacement) + padding
    else:
        text = f"({ast.unparse(replacement)}{padding})"
    return b"".join([*lines[:first], head + text.encode() + tail, *lines[last + 1 :]]).decode()


def _candidates(tree: ast.Module) -> Iterator[_Found]:
    """``(node, scope, replacement, operator)`` for every site, in source order."""
    yield from _walk_scope(tree.body, "")


def _walk_scope(body: list[ast.stmt], prefix: str) -> Iterator[_Found]:
    """The sites of the functions defined in ``body`` (a module's or a class's), whose
    qualnames start with ``prefix``."""
    for statement in body:
        for node in _scope_children(statement):
            if isinstance(node, ast.ClassDef):
                yield from _walk_scope(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope = _Scope(f"{prefix}{node.name}", node.lineno, node.end_lineno or node.lineno)
                yield from _function_sites(node, scope)


def _scope_children(statement: ast.stmt) -> Iterator[ast.stmt]:
    """The statement, or the definitions nested in its blocks (``if TYPE_CHECKING:``,
    ``try:``) that still belong to the same scope."""
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        yield statement
        return
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(statement, field, ()):
            if isinstance(child, ast.ExceptHandler):
                for inner in child.body:
                    yield from _scope_children(inner)
            elif isinstance(child, ast.stmt):
                yield from _scope_children(child)


def _function_sites(
    function: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope
) -> Iterator[_Found]:
    for default in [*function.args.defaults, *function.args.kw_defaults]:
        if default is not None:
            changed = _changed_default(default)
            if changed is not None:
                yield default, scope, changed, "default_value"
    for statement in function.body:  # nested functions and classes get their own names
        yield from _node_sites(statement, scope)


def _node_sites(node: ast.AST, scope: _Scope) -> Iterator[_Found]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for decorator in node.decorator_list:
            yield from _node_sites(decorator, scope)
        yield from _function_sites(node, scope.nested(node, node.name))
        return
    if isinstance(node, ast.ClassDef):
        yield from _walk_scope(node.body, f"{scope.qualname}.<locals>.{node.name}.")
        return
    if isinstance(node, ast.Lambda):
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                yield from _node_sites(default, scope)
        yield from _node_sites(node.body, scope.nested(node, "<lambda>"))
        return
    if isinstance(node, (ast.JoinedStr, ast.AnnAssign)) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ):
        return  # f-strings (positions inside them), annotations, docstrings
    yield from _own_sites(node, scope)
    for child in ast.iter_child_nodes(node):
        yield from _node_sites(child, scope)


def _own_sites(node: ast.AST, scope: _Scope) -> Iterator[_Found]:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        yield node, scope, ast.Constant(node.value + 1), "int_off_by_one"
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        for bound in (node.slice.lower, node.slice.upper):
            if bound is not None and not isinstance(bound, ast.Constant):
                yield bound, scope, _plus_one(bound), "bound_off_by_one"
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
            bound = node.args[-1]
            if not isinstance(bound, (ast.Constant, ast.Starred)):
                yield bound, scope, _plus_one(bound), "bound_off_by_one"
        positional = node.args[:2]
        if (
            len(positional) == 2
            and not any(isinstance(a, ast.Starred) for a in positional)
            and ast.dump(positional[0]) != ast.dump(positional[1])
        ):
            swapped = ast.Call(node.func, [positional[1], positional[0], *node.args[2:]],
                               node.keywords)  # fmt: skip
            yield node, scope, swapped, "swap_args"
    elif isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            ops = list(node.ops)
            ops[index] = _SWAPPED_COMPARISONS[type(op)]()
            yield node, scope, ast.Compare(node.left, ops, node.comparators), "comparison"
            break  # one site per comparison: the first operator
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, scope, node.operand, "drop_not"
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield node, scope, ast.BoolOp(other, node.values), "and_or"
    elif (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in _ADDING_METHODS
    ):
        yield node, scope, ast.Pass(), "drop_append"
    elif isinstance(node, ast.For):
        skipped = ast.Call(
            ast.Attribute(
                ast.Call(ast.Name("__import__"), [ast.Constant("itertools")], []), "islice"
            ),
            [node.iter, ast.Constant(1), ast.Constant(None)],
            [],
        )
        yield node.iter, scope, skipped, "skip_first"


def _plus_one(node: ast.expr) -> ast.expr:
    return ast.BinOp(node, ast.Add(), ast.Constant(1))


def _changed_default(node: ast.expr) -> ast.expr | None:
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if type(value) is bool:
        return ast.Constant(not value)
    if type(value) is int:
        return ast.Constant(value + 1)
    if type(value) is str:
        return ast.Constant("" if value else "x")
    return None
