"""Whether pytest took a pytest-scope option's value for a test path when it chose the rootdir.

pytest chooses the rootdir and reads its configfile before plugins add their options, so
in ``--scope-baseline /ci/cache`` it does not yet know that ``/ci/cache`` belongs to an
option: an existing path among the arguments is a place of tests to it, and the rootdir
becomes an ancestor of it. Then ``.scope`` lands there, test ids get a path prefix, and no
baseline matches. ``--scope-baseline=/ci/cache`` (one word) is never mistaken.

Whether the rootdir came out different cannot be told without choosing it again, which
only pytest's internals do; that the value took part can, and is what is reported, with
the rootdir it led to.
"""

from __future__ import annotations

import itertools
import os
import shlex

import pytest

# The options that take a value, which pytest may mistake for a test path.
VALUE_OPTIONS = frozenset(
    {
        "--scope-dir",
        "--scope-level",
        "--scope-include",
        "--scope-exclude",
        "--scope-buffer-mb",
        "--scope-keep-runs",
        "--scope-max-mb",
        "--scope-artifacts",
        "--scope-artifacts-mb",
        "--scope-baseline",
        "--scope-redact",
    }
)


def mistaken_values(config: pytest.Config) -> list[tuple[str, str]]:
    """The (option, value) pairs written as two words whose value pytest took for a test
    path (one that exists), in the order given."""
    here = config.invocation_params.dir
    # What pytest read when it chose the rootdir: PYTEST_ADDOPTS, then the command line
    # (the ini file's addopts come after that choice).
    args = [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *config.invocation_params.args]
    mistaken = []
    for option, value in itertools.pairwise(args):
        if option == "--":
            break
        if option in VALUE_OPTIONS and not value.startswith("-"):
            place = here / value.split("::")[0]  # pytest's reading of a test path
            if os.path.exists(place):
                mistaken.append((option, value))
    return mistaken


def warning_line(config: pytest.Config) -> str | None:
    """One line saying which values took part in choosing the rootdir and how to write
    them instead, or None."""
    mistaken = mistaken_values(config)
    if not mistaken:
        return None
    given = ", ".join(f"{option} {value}" for option, value in mistaken)
    fixed = " ".join(f"{option}={shlex.quote(value)}" for option, value in mistaken)
    return (
        f"pytest-scope: warning: pytest took {given} for a test path when it chose the"
        f" rootdir ({config.rootpath}); write {fixed}"
    )
