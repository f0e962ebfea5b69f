"""The size of ``scope-replay --export-baseline`` for a suite of 1,000 small tests.

Run from the checkout: ``python bench/baseline_bench.py [TESTS]``. Writes a suite of TESTS
small tests (16 steps each) into a temporary project, records it with ``pytest --scope``,
exports the baseline and prints the run's trace file and the export's sizes. Then it
records half of the suite again (a later run) and exports again: one file that merges the
passes of two runs, each test keeping its own run's provenance.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TEST = """
def test_{n}():
    total = 0
    for value in (1, 2, 3, 4, 5):
        total += value
    checked = total
    assert checked == 15
"""


def main(tests: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "pytest.ini").write_text("[pytest]\n")
        (root / "test_many.py").write_text("".join(TEST.format(n=n) for n in range(tests)))
        summary = _pytest(root, "test_many.py")
        (run,) = (root / ".scope" / "runs").glob("*.sqlite")
        print(next(line for line in summary.splitlines() if line.startswith("recorded ")))
        print(f"run's trace file: {_mb(run)}")
        print(f"export of one run: {_export(root)}")
        half = [f"test_many.py::test_{n}" for n in range(0, tests, 2)]
        _pytest(root, *half)
        print(f"export merging two runs: {_export(root)}")


def _pytest(root: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--scope", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _export(root: Path) -> str:
    subprocess.run(
        [sys.executable, "-m", "replay.cli", "--export-baseline", "baseline"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    files = list((root / "baseline" / "runs").glob("*.sqlite"))
    return f"{len(files)} file(s), " + ", ".join(_mb(path) for path in files)


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
