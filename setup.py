"""The build: the pure-Python package, plus the compiled event path where it can be built.

The modules that run inside the ``sys.monitoring`` callbacks are compiled with mypyc from
the same sources (README, "The compiled event path"). The extensions are optional: without
a C compiler, or with ``PYTEST_SCOPE_PURE_PYTHON=1`` set while building, the package
installs as pure Python and records the same way, only slower.
"""

import runpy

from setuptools import setup

# What is compiled, and whether the pure path is asked for, as the package itself tells
# (read as a file: the build does not import the package).
EVENT_PATH_MODULE = runpy.run_path("pytest_scope/capture/event_path.py")
EVENT_PATH = [EVENT_PATH_MODULE["source_path"](name) for name in EVENT_PATH_MODULE["MODULES"]]


def event_path_extensions() -> list:
    if EVENT_PATH_MODULE["pure_python_requested"]():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    extensions = mypycify(EVENT_PATH, opt_level="3", group_name="pytest_scope._event_path")
    for extension in extensions:
        extension.optional = True  # a machine without a compiler gets the pure package
    return extensions


setup(ext_modules=event_path_extensions())
