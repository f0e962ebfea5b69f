"""pytest-scope: record every pytest test with sys.monitoring, replay the state at any step.

Importing this package is cheap on purpose: pytest loads the plugin in every run of every
project that installs it, and ``replay`` imports the format modules from here. ``watch``
and ``paused`` are the API a test may call; they do nothing when nothing records.
"""

from pytest_scope.capture.event_path import choose_event_path
from pytest_scope.capture.steering import paused, watch

choose_event_path()  # before any module of the event path is imported

__all__ = ["paused", "watch"]

__version__ = "0.1.0"
