"""The viewer page in a real browser: Debian's Chromium (``.ci/run`` installs it), driven
by Playwright, whose own browser downloads are never used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


class Viewer:
    """One open viewer page; every dialog and page error is collected, none expected."""

    def __init__(self, browser: Any, path: Path, size: tuple[int, int] = (1400, 900)) -> None:
        self.path = path
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri())
        # A selector, not wait_for_function: its polling evaluates a string, which the
        # page's Content-Security-Policy refuses once the page is slower than the first try.
        self.page.wait_for_selector("body.ready, body[data-error]", state="attached")
        assert self.page.evaluate("document.body.dataset.error") is None

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def step(self) -> int:
        return int(self.page.evaluate("document.body.dataset.step"))

    def press(self, key: str) -> int:
        before = self.step
        self.page.keyboard.press(key)  # the page renders synchronously on the key
        assert self.errors == [], (key, before, self.errors)
        return self.step

    def shown_locals(self) -> list[tuple[str, str]]:
        """The rows of the locals panel as a person reads them: (name, value text)."""
        rows: list[list[str]] = self.page.eval_on_selector_all(
            "#locals > .value-row",
            "rows => rows.map(row => [row.querySelector(':scope > .name').textContent,"
            " row.querySelector(':scope > .value').textContent])",
        )
        return [(name, text) for name, text in rows]

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("window.scopeViewer.state()")
        return state
