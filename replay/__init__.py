"""Replay pytest-scope trace files: state at any step, timelines, diffs and views.

Nothing here imports the recorder or the recorded project: a trace file must be
replayable on any machine with this package installed.
"""
