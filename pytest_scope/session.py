"""Starting and ending a recording run: which part this process plays, and its plugins.

``plugin`` calls ``start`` only when ``--scope`` is on. Settings and the redaction
patterns are checked before anything is created; then the role of this process under
pytest-xdist (or without it) is registered as ``scope-session``, and the CI artifacts
writer after it, so that its summary line follows the session's.
"""

from __future__ import annotations

import os

import pytest

from pytest_scope.artifacts import PLUGIN_NAME as ARTIFACTS_PLUGIN
from pytest_scope.artifacts import ScopeArtifacts, artifact_settings
from pytest_scope.capture.redaction import Redaction
from pytest_scope.extensions import plugin_redact_patterns
from pytest_scope.recording import Recording
from pytest_scope.roles import Controller, SingleProcess, Worker
from pytest_scope.run import Run
from pytest_scope.settings import settings_from_config
from pytest_scope.xdist import is_controller, worker_part

PLUGIN_NAME = "scope-session"
_environ = os.environ  # a test may replace os.environ


def start(config: pytest.Config) -> None:
    """Register the plugins of a recording run, once every setting is known to be usable."""
    settings = settings_from_config(config)
    # Plugins' patterns may be a usage error: before anything is created.
    try:
        redaction = Redaction([*settings.redact, *plugin_redact_patterns(config)], _environ)
    except ValueError as exc:
        raise pytest.UsageError(f"scope_redact: {exc}") from None
    artifacts = artifact_settings(config)
    worker = worker_part(config)
    run = Run(config, settings, worker)
    session: Controller | Recording
    if worker is not None:
        session = Worker(run, redaction)
    elif is_controller(config):
        session = Controller(run)
    else:
        session = SingleProcess(run, redaction)
    config.pluginmanager.register(session, PLUGIN_NAME)
    if artifacts is not None:
        config.pluginmanager.register(ScopeArtifacts(artifacts, run), ARTIFACTS_PLUGIN)


def stop(config: pytest.Config) -> None:
    """Finish the trace file if the session's end did not, and unregister the plugins."""
    session = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is not None:
        if isinstance(session, Recording):
            session.finish_trace()
        config.pluginmanager.unregister(session)
    artifacts = config.pluginmanager.get_plugin(ARTIFACTS_PLUGIN)
    if artifacts is not None:
        config.pluginmanager.unregister(artifacts)
