"""Helpers that several test modules share; test modules import from here, never from
each other. pyproject's pytest settings put tests/ on ``sys.path`` (``pythonpath``), so
this package is ``support``."""
