"""The plan never records pytest-scope's own code, wherever its modules sit in the tree."""

from pathlib import Path

import pytest_scope
import replay
from pytest_scope.capture.plan import Level, Plan


def test_own_modules_are_never_recorded_even_when_asked_for() -> None:
    installed = Path(pytest_scope.__file__).resolve().parent.parent
    plan = Plan(installed, ["test_*.py"], level="lines", include=["*"])
    own = [
        *Path(pytest_scope.__file__).resolve().parent.rglob("*.py"),
        *Path(replay.__file__).resolve().parent.rglob("*.py"),
    ]
    assert {"recorder.py", "writer.py", "session.py", "cli.py"} <= {path.name for path in own}
    assert {path: plan.level_for_file(str(path)) for path in own} == dict.fromkeys(own, Level.SKIP)


def test_a_project_module_beside_them_is_recorded(tmp_path: Path) -> None:
    module = tmp_path / "shop" / "cart.py"
    module.parent.mkdir()
    module.write_text("")
    assert Plan(tmp_path, ["test_*.py"], level="lines").level_for_file(str(module)) is Level.LINES
