"""Showing what was read and compared: the terminal, JSON and self-contained HTML views.

Each view renders the same states, timelines and diffs for its reader: ``text_view`` for
people at a terminal, ``json_view`` for scripts, ``html_view`` for a browser (with the
page's HTML, CSS and JavaScript in ``viewer``). Views take what ``replay.reading`` and
``replay.comparing`` produce and decide nothing about it.
"""
