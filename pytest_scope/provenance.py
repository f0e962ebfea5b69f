"""Which build a run was: the git commit and branch it was recorded at.

A baseline restored on a CI runner comes from another build; the comparison says which
(``last pass in run R, commit C on main``). git is asked with a timeout and any failure
(no git, not a checkout, a hung filesystem) leaves the facts out: the run must go on.
CI runners check out a detached commit, so the branch falls back to what the CI names.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Final

GIT_TIMEOUT: Final = 5.0  # seconds per git command
# The branch or tag a CI job builds, where git itself only sees a detached HEAD.
_CI_BRANCH_VARIABLES: Final = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME")


def git_facts(directory: Path) -> dict[str, str]:
    """``{"git_commit": ..., "git_branch": ...}`` of the checkout holding ``directory``;
    what git cannot tell is left out."""
    facts = {}
    commit = _git(directory, "rev-parse", "HEAD")
    if commit:
        facts["git_commit"] = commit
        branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
        if branch == "HEAD":  # detached: a CI checkout
            branch = next(
                (os.environ[name] for name in _CI_BRANCH_VARIABLES if os.environ.get(name)), ""
            )
        if branch:
            facts["git_branch"] = branch
    return facts


def _git(directory: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
