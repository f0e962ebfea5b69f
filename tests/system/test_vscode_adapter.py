"""The VS Code extension in editors/vscode: its package.json, and the debug adapter driven
by Microsoft's ``DebugClient`` (@vscode/debugadapter-testsupport) in a mocha test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO
from support.recordings import record_demo

EXTENSION = REPO / "editors" / "vscode"
# What the server reads from a launch request (replay/interactive/dap.py, DebugSession._launch).
LAUNCH_ATTRIBUTES = {"test", "run", "attempt", "against", "scopeDir", "cwd"}


def test_the_extension_contributes_the_debug_type_and_its_snippet() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text())
    (debugger,) = manifest["contributes"]["debuggers"]
    assert debugger["type"] == "pytest-scope"
    launch = debugger["configurationAttributes"]["launch"]
    # Every attribute the server reads, and the extension's own scopeReplay.
    assert set(launch["properties"]) == LAUNCH_ATTRIBUTES | {"scopeReplay"}
    (snippet,) = debugger["configurationSnippets"]
    assert snippet["label"] == "pytest-scope: Replay failing test"
    assert snippet["body"]["type"] == "pytest-scope"
    assert manifest["contributes"]["breakpoints"] == [{"language": "python"}]


@pytest.mark.slow
@pytest.mark.skipif(
    not (EXTENSION / "node_modules" / "@vscode" / "debugadapter-testsupport").is_dir(),
    reason="npm ci in editors/vscode installs the DAP test client (.ci/run does)",
)
def test_debug_client_drives_the_adapter(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "editors/vscode/node_modules is there, npm is not"
    record_demo(tmp_path)
    scope_replay = Path(sys.executable).parent / "scope-replay"
    assert scope_replay.is_file(), "scope-replay is not installed beside this Python"
    run = subprocess.run(
        [npm, "test"],
        cwd=EXTENSION,
        env={**os.environ, "SCOPE_REPLAY": str(scope_replay), "SCOPE_DEMO": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 passing" in run.stdout
