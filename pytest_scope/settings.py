"""What a recording run was asked to do: options and ini settings, read once into ``Settings``.

Options win over ini settings. Everything is checked here, before anything is created or
recorded, so that a bad value is a usage error naming it and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_scope.capture.redaction import check_pattern
from pytest_scope.marker import LEVELS
from pytest_scope.path_options import check_baseline, check_directory
from pytest_scope.progress import progress_delay
from pytest_scope.trace.retention import Policy
from pytest_scope.trace.scope_dir import DEFAULT_SCOPE_DIR


@dataclass(frozen=True, slots=True)
class Settings:
    """The run's settings, resolved: paths absolute, sizes in bytes."""

    scope_dir: Path
    level: str | None
    buffer_bytes: int
    retention: Policy
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # --scope-last-failed: the node ids to record (those that failed last time); None: all.
    only: frozenset[str] | None = None
    redact: tuple[str, ...] = ()  # patterns of secret names besides the built-in ones
    # --scope-baseline: where else last passes may be (a restored CI cache), resolved.
    baselines: tuple[Path, ...] = ()
    # Seconds of recording before a test's progress shows live (None: never).
    progress_after: float | None = None


def settings_from_config(config: pytest.Config) -> Settings:
    """Options win over ini settings; bad ini values are usage errors naming the value."""
    if config.option.scope_dir:
        scope_dir = (config.invocation_params.dir / config.option.scope_dir).resolve()
        check_directory(scope_dir, "--scope-dir")
    else:
        scope_dir = (config.rootpath / (config.getini("scope_dir") or DEFAULT_SCOPE_DIR)).resolve()
        check_directory(scope_dir, "scope_dir")
    level = config.option.scope_level or config.getini("scope_level") or None
    if level is not None and level not in LEVELS:
        raise pytest.UsageError(f"scope_level must be one of {', '.join(LEVELS)}, not {level!r}")
    buffer_mb = _positive_setting(config, "scope_buffer_mb")
    policy = Policy(
        _positive_setting(config, "scope_keep_runs"),
        _positive_setting(config, "scope_max_mb") * 1024 * 1024,
    )
    return Settings(
        scope_dir,
        level,
        buffer_mb * 1024 * 1024,
        policy,
        include=_patterns_setting(config, "scope_include"),
        exclude=_patterns_setting(config, "scope_exclude"),
        only=_last_failed(config),
        redact=_redact_patterns(config),
        baselines=_baselines(config),
        progress_after=progress_delay(config),
    )


def _baselines(config: pytest.Config) -> tuple[Path, ...]:
    """``--scope-baseline`` paths (relative to the invocation directory) if given, else the
    ini setting's (relative to the rootdir), like ``--scope-dir`` and ``scope_dir``."""
    given: list[str] | None = config.option.scope_baseline
    if given:
        name = "--scope-baseline"
        places = [(config.invocation_params.dir / path).resolve() for path in given]
    else:
        name = "scope_baseline"
        lines = [line.strip() for line in config.getini("scope_baseline")]
        places = [(config.rootpath / line).resolve() for line in lines if line]
    for place in places:
        check_baseline(place, name)
    return tuple(places)


def _patterns_setting(config: pytest.Config, name: str) -> tuple[str, ...]:
    """The patterns of the option ``name`` if given, else of its ini setting."""
    patterns: list[str] = getattr(config.option, name) or config.getini(name)
    if any(not pattern.strip() for pattern in patterns):
        raise pytest.UsageError(f"{name} patterns must not be empty")
    return tuple(pattern.strip() for pattern in patterns)


def _last_failed(config: pytest.Config) -> frozenset[str] | None:
    """The tests that failed last time, under ``--scope-last-failed``; else None."""
    if not (config.option.scope_last_failed or config.getini("scope_last_failed")):
        return None
    cache: pytest.Cache | None = getattr(config, "cache", None)
    if cache is None:
        raise pytest.UsageError(
            "--scope-last-failed needs pytest's cache provider, which says what failed last"
            " time: leave out -p no:cacheprovider"
        )
    failed = cache.get("cache/lastfailed", {})
    return frozenset(failed) if isinstance(failed, dict) else frozenset()


def _redact_patterns(config: pytest.Config) -> tuple[str, ...]:
    """The ini setting's patterns and the options': both count, a secret is never unmasked."""
    patterns: list[str] = list(config.getini("scope_redact"))
    for pattern in patterns:
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise pytest.UsageError(f"scope_redact: {exc}") from None
    return (*patterns, *(config.option.scope_redact or ()))


def _positive_setting(config: pytest.Config, name: str) -> int:
    """The option ``name`` if given, else its ini setting, which must be a positive int."""
    value: int | None = getattr(config.option, name)
    if value is not None:
        return value
    ini_value = config.getini(name)
    try:
        value = int(ini_value)
    except ValueError:
        value = 0
    if value <= 0:
        raise pytest.UsageError(f"{name} must be a positive whole number, not {ini_value!r}")
    return value
