"""The build: the pure-Python package, plus the compiled event path where it can be built.

The modules that run inside the ``sys.monitoring`` callbacks are compiled with mypyc from
the same sources (README, "The compiled event path"). The extensions are optional: without
a C compiler, or with ``PYTEST_SCOPE_PURE_PYTHON=1`` set while building, the package
installs as pure Python and records the same way, only slower.
"""

import os
import runpy

from setuptools import setup

# The list lives with the code that tells the recorder's frames (read as a file: the build
# does not import the package).
MODULES = runpy.run_path("pytest_scope/event_path.py")["MODULES"]
EVENT_PATH = [f"pytest_scope/{name}.py" for name in MODULES]


def event_path_extensions() -> list:
    if os.environ.get("PYTEST_SCOPE_PURE_PYTHON"):
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
