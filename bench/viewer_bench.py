"""The HTML viewer of a 100,000-step test: its size, how long it takes to write and to load.

The test is recorded passing, then failing, so the viewer carries the comparison with the
pass (the diffs at the steps ``replay.views.html_view.diffed_steps`` picks) as a failure's does.

Run with a Python that has pytest-scope and playwright installed, and Debian's chromium:
``python bench/viewer_bench.py``. Measured here, never in a timed test.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

SUITE = """
import os


class Acc:
    def __init__(self):
        self.items = []
        self.total = 0

    def add(self, x):
        self.items.append(x)
        self.total += x
        return self.total


def test_long():
    acc = Acc()
    seen = []
    for i in range(11100):
        v = i * 3
        acc.add(v % 7)
        if i % 1000 == 0:
            seen.append(i)
    assert acc.total == (-1 if os.environ.get("BENCH_FAIL") else acc.total)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "test_long.py").write_text(SUITE)
        for failing in ("", "1"):
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--scope"],
                cwd=root,
                env={**os.environ, "BENCH_FAIL": failing},
                capture_output=True,
                check=False,
            )
        viewer = root / "viewer.html"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "replay.cli", "test_long", "--html", str(viewer)],
            cwd=root,
            check=True,
            capture_output=True,
        )
        written = time.perf_counter() - started
        trace = max((root / ".scope" / "runs").glob("*.sqlite"))  # the failing run's
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            loads = []
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                started = time.perf_counter()
                page.goto(viewer.as_uri())
                page.wait_for_selector("body.ready", state="attached")
                loads.append((time.perf_counter() - started, page.evaluate("window.scopeViewer")))
                steps = page.evaluate("window.scopeViewer.lastStep")
                stepping = time.perf_counter()
                for _ in range(50):
                    page.keyboard.press("ArrowLeft")
                per_key = (time.perf_counter() - stepping) / 50
                page.close()
            browser.close()
        print(f"steps: {steps:,}; trace file {trace.stat().st_size / 1e6:.2f} MB")
        print(f"viewer: {viewer.stat().st_size / 1e6:.2f} MB, written in {written:.2f} s")
        print(f"step diffs carried: {_step_diffs(viewer)}")
        for wall, facts in loads:
            print(f"load: {wall * 1000:.0f} ms until ready (in-page {facts['loadMs']:.0f} ms)")
        print(f"one step by keyboard: {per_key * 1000:.1f} ms")


def _step_diffs(viewer: Path) -> int:
    """How many steps' diffs the page carries (html_view packs them as it packs chunks)."""
    found = re.search(
        r'<script type="application/json" id="scope-data">(.*?)</script>',
        viewer.read_text(encoding="utf-8"),
    )
    assert found is not None
    packed = json.loads(found.group(1))["step_diffs"]
    return len(json.loads(gzip.decompress(base64.b64decode(packed)))) if packed else 0


if __name__ == "__main__":
    main()
