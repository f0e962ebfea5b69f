"""The build: the pure-Python package, plus the compiled event path where it can be built.

The modules that run inside the ``sys.monitoring`` callbacks are compiled with mypyc from
the same sources (README, "The compiled event path"). The extensions are optional: without
a C compiler, or with ``PYTEST_SCOPE_PURE_PYTHON=1`` set while building, the package
installs as pure Python and records the same way, only slower.
"""

import os

from setuptools import setup

# What a step runs: the callbacks, the object table, value encoding, redaction, the plan
# (consulted at each new code object) and the ring buffer with its packer.
EVENT_PATH = [
    "pytest_scope/buffer.py",
    "pytest_scope/codec.py",
    "pytest_scope/linenames.py",
    "pytest_scope/objects.py",
    "pytest_scope/plan.py",
    "pytest_scope/recorder.py",
    "pytest_scope/redaction.py",
    "pytest_scope/values.py",
]


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
