"""The build: the pure-Python package, plus the compiled event path where it can be built.

The modules that run inside the ``sys.monitoring`` callbacks are compiled with mypyc from
the same sources (docs/pages/guide.md, "The compiled event path"). The extensions are
optional: without a C compiler, or with ``PYTEST_SCOPE_PURE_PYTHON=1`` set while building,
the package installs as pure Python and records the same way, only slower.

An editable install (``pip install -e .``) compiles only when ``PYTEST_SCOPE_COMPILE=1``
asks for it: a contributor edits the sources, and compiled modules beside them would keep
running the old code. Whatever compiles records a hash of each source it compiled from
(``compiled-sources.json`` beside the compiled modules), so that compiled modules built
from other sources than those beside them are not used (``capture/event_path.py``).
"""

import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# What is compiled, and whether the pure path is asked for, as the package itself tells
# (read as a file: the build does not import the package).
EVENT_PATH_MODULE = runpy.run_path("pytest_scope/capture/event_path.py")
MODULES = EVENT_PATH_MODULE["MODULES"]
EVENT_PATH = [EVENT_PATH_MODULE["source_path"](name) for name in MODULES]
COMPILE_VARIABLE = "PYTEST_SCOPE_COMPILE"


def editable_install() -> bool:
    """Whether pip (``editable_wheel``) or setuptools (``develop``) installs the checkout."""
    return any(command in sys.argv for command in ("editable_wheel", "develop"))


def event_path_extensions() -> list:
    if EVENT_PATH_MODULE["pure_python_requested"]():
        return []
    if editable_install() and os.environ.get(COMPILE_VARIABLE, "") in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    extensions = mypycify(EVENT_PATH, opt_level="3", group_name="pytest_scope._event_path")
    # The native line and generator steps, which read the compiled recorder's objects
    # (_steps.c), the rebinding check of a frame's locals (_rebinding.c) and the walk of a
    # step's objects (_sameparts.c); the first two share the keys of leaves (_leaves.h).
    headers = {"_steps": ["_leaves.h"], "_rebinding": ["_leaves.h"], "_sameparts": []}
    extensions += [
        Extension(
            f"pytest_scope.capture.{name}",
            [f"pytest_scope/capture/{name}.c"],
            depends=[f"pytest_scope/capture/{header}" for header in included],
        )
        for name, included in headers.items()
    ]
    for extension in extensions:
        extension.optional = True  # a machine without a compiler gets the pure package
    return extensions


class BuildEventPath(build_ext):
    """Builds the extensions, then records the sources they were compiled from beside the
    compiled recorder, wherever the build put it (the build directory, and the checkout for
    an in-place build)."""

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        digests = {
            name: EVENT_PATH_MODULE["source_digest"](Path(source))
            for name, source in zip(MODULES, EVENT_PATH, strict=True)
        }
        record = json.dumps(digests, indent=1, sort_keys=True)
        recorder = Path(self.get_ext_filename("pytest_scope.capture.recorder"))
        places = [Path(self.build_lib) / recorder]
        if self.inplace:  # copied into the checkout (an editable install)
            places.append(recorder)
        for place in places:
            if place.is_file():
                place.with_name(EVENT_PATH_MODULE["COMPILED_SOURCES"]).write_text(record)


setup(ext_modules=event_path_extensions(), cmdclass={"build_ext": BuildEventPath})
