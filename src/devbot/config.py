"""devbot's settings: command-line flags > environment (`DEVBOT_*`) > `devbot.toml` > defaults.

`devbot.toml` lives at the repository root; its keys are the field names below.
Unknown keys and values of the wrong type are refused with the file and key named.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CONFIG_FILE = "devbot.toml"
STATE_DIR = ".devbot"


class ConfigError(ValueError):
    """A setting is malformed; the message names where it came from."""


PROTOCOL_NAMES = ("auto", "text", "tools", "anthropic", "apply_patch")
"""`auto` picks per model (devbot.agent.protocols.protocol_for)."""


@dataclass(frozen=True)
class Settings:
    """Every setting devbot reads. Field name = toml key; env name = DEVBOT_<NAME upper>."""

    model: str = "anthropic/claude-sonnet-4-5"
    api_base: str | None = None
    protocol: str = "auto"
    sandbox: str = "auto"
    test_command: str | None = None
    setup_command: str | None = None
    sandbox_image: str = "devbot-sandbox:bookworm"
    sandbox_network: str = "setup"
    sandbox_environment: str = "auto"
    sandbox_memory_mb: int = 2048
    sandbox_cpus: float = 2.0
    sandbox_pids: int = 512
    sandbox_disk_mb: int = 2048
    sandbox_uid: int = 65534
    max_test_rounds: int = 3
    plan_dirs: tuple[str, ...] = ("ai-plans",)
    spec_dirs: tuple[str, ...] = ("specs",)
    spec_context_tokens: int = 8000
    database_url: str | None = None
    base_branch: str | None = None
    remote: str = "origin"
    branch_prefix: str = "devbot/"
    max_steps: int = 30
    max_usd: float = 2.0
    max_wall_s: float = 1800.0
    max_format_errors: int = 3
    max_repeated_turns: int = 2
    context_tokens: int = 2000
    instruction_files: tuple[str, ...] = (
        "AGENTS.md",
        "CLAUDE.md",
        ".github/copilot-instructions.md",
    )
    command_timeout_s: float = 300.0
    max_plan_bytes: int = 100_000
    model_timeout_s: float = 120.0
    model_retries: int = 4
    extra_env_names: tuple[str, ...] = field(default=())
    workers: str = "local"
    worker_concurrency: int = 4
    repo_concurrency: int = 1
    worker_timeout_s: float = 20.0
    stall_timeout_s: float = 900.0
    queue_poll_s: float = 0.2
    github_api_url: str = "https://api.github.com"
    github_repo: str | None = None
    github_app_id: str | None = None
    github_draft: bool = False
    github_timeout_s: float = 30.0
    github_retries: int = 4
    mention: str = "@devbot"
    issue_label: str = "devbot"
    allow_workflow_changes: bool = False
    protected_paths: tuple[str, ...] = ()
    feedback_debounce_s: float = 3.0
    ci_fix_attempts: int = 2
    ci_rerun_flaky: bool = False
    ci_wait_s: float = 1800.0
    ci_poll_s: float = 30.0
    ci_log_lines: int = 80
    webhook_max_connections: int = 1000
    dashboard_login: str = "auto"
    state_dir: str | None = None
    mirror_max_age_days: float = 30.0
    mirror_max_gb: float = 20.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0

    def process_state_dir(
        self, checkout: Path | None, environ: Mapping[str, str] | None = None
    ) -> Path:
        """Where a process keeps its state (run database when SQLite, mirrors, worktrees,
        environments): `state_dir` when set, else the served checkout's `.devbot/`, else
        `$XDG_STATE_HOME/devbot` (`~/.local/state/devbot`)."""
        if self.state_dir:
            return Path(self.state_dir).expanduser().resolve()
        if checkout is not None:
            return checkout_state_dir(checkout)
        env = os.environ if environ is None else environ
        home = Path(env.get("HOME") or Path.home())
        base = Path(env.get("XDG_STATE_HOME") or home / ".local" / "state")
        return (base / "devbot").resolve()

    def system_database_url(self, state: Path) -> str:
        """Where DBOS keeps its workflows: `DEVBOT_DATABASE_URL`, else SQLite in `state`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(state / 'dbos.sqlite').resolve()}"


def checkout_state_dir(repo: Path) -> Path:
    """devbot's folder in a checkout it serves (kept out of git by `.git/info/exclude`)."""
    return repo / STATE_DIR


_FIELDS = {f.name: f for f in fields(Settings)}


def env_name(key: str) -> str:
    return "DEVBOT_" + key.upper()


def _coerce(key: str, value: Any, origin: str) -> Any:
    """Convert a raw value (toml value or env string) to the type of field `key`."""
    default = _FIELDS[key].default
    try:
        if isinstance(default, tuple):
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise TypeError("expected a list of strings")
        if isinstance(default, bool):
            return _boolean(value)
        if isinstance(value, bool):
            raise TypeError("expected a number or a string, not true/false")
        if isinstance(default, int):
            if isinstance(value, float):
                raise TypeError("expected an integer")
            return int(value)
        if isinstance(default, float):
            return float(value)
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return None if value == "" and default is None else value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {key} = {value!r}: {exc}") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise TypeError("expected true or false")


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def read_toml(path: Path) -> dict[str, Any]:
    """Read and validate `devbot.toml`; an absent file is an empty config."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        named = ", ".join(_with_suggestion(key) for key in unknown)
        raise ConfigError(f"{path}: unknown key(s) {named}; known keys: {', '.join(_FIELDS)}")
    return {key: _coerce(key, value, str(path)) for key, value in data.items()}


def _with_suggestion(key: str) -> str:
    """`key`, with the known key it was probably meant to be."""
    close = difflib.get_close_matches(key, list(_FIELDS), n=1, cutoff=0.6)
    return f"{key} (did you mean {close[0]}?)" if close else key


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _FIELDS:
        name = env_name(key)
        if name in environ:
            values[key] = _coerce(key, environ[name], f"environment {name}")
    return values


def load_settings(
    repo: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    toml_text_path: Path | None = None,
) -> Settings:
    """Merge the four layers. `flags` holds only the options the user actually passed."""
    toml_path = toml_text_path or ((repo / CONFIG_FILE) if repo else None)
    merged: dict[str, Any] = {}
    if toml_path is not None:
        merged.update(read_toml(toml_path))
    merged.update(read_env(os.environ if environ is None else environ))
    for key, value in (flags or {}).items():
        if value is not None:
            merged[key] = _coerce(key, value, f"option --{key.replace('_', '-')}")
    settings = replace(Settings(), **merged)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.protocol not in PROTOCOL_NAMES:
        raise ConfigError(
            f"protocol = {settings.protocol!r}: choose one of {', '.join(PROTOCOL_NAMES)}"
        )
    _validate_sandbox(settings)
    if "/" not in settings.model:
        raise ConfigError(
            f"model = {settings.model!r}: write provider/model, e.g. anthropic/claude-sonnet-4-5,"
            " openai/gpt-5 or scripted/path/to/replies.yaml"
        )
    if settings.workers not in ("local", "external"):
        raise ConfigError(f"workers = {settings.workers!r}: choose 'local' or 'external'")
    if settings.dashboard_login not in ("auto", "always"):
        raise ConfigError(
            f"dashboard_login = {settings.dashboard_login!r}: choose 'auto' or 'always'"
        )
    for key in (
        "max_steps",
        "max_format_errors",
        "max_plan_bytes",
        "worker_concurrency",
        "repo_concurrency",
        "webhook_max_connections",
    ):
        if getattr(settings, key) < 1:
            raise ConfigError(f"{key} must be at least 1")
    if not 0 <= settings.metrics_port <= 65535:
        raise ConfigError("metrics_port must be a port number (0: no metrics server)")
    for key in (
        "max_usd",
        "max_wall_s",
        "command_timeout_s",
        "model_timeout_s",
        "github_timeout_s",
        "worker_timeout_s",
        "stall_timeout_s",
        "queue_poll_s",
        "mirror_max_age_days",
        "mirror_max_gb",
    ):
        if getattr(settings, key) <= 0:
            raise ConfigError(f"{key} must be positive")


def _validate_sandbox(settings: Settings) -> None:
    if settings.sandbox not in ("auto", "docker", "bwrap", "local"):
        raise ConfigError(
            f"sandbox = {settings.sandbox!r}: choose 'auto', 'docker', 'bwrap' or 'local'"
        )
    if settings.sandbox_network not in ("none", "setup", "all"):
        raise ConfigError(
            f"sandbox_network = {settings.sandbox_network!r}: choose 'none', 'setup' or 'all'"
        )
    if settings.sandbox_environment not in ("auto", "off"):
        raise ConfigError(
            f"sandbox_environment = {settings.sandbox_environment!r}: choose 'auto' or 'off'"
        )
    if settings.max_test_rounds < 0:
        raise ConfigError("max_test_rounds must be 0 or more")
    if settings.sandbox_memory_mb < 64 or settings.sandbox_pids < 16:
        raise ConfigError("sandbox_memory_mb must be at least 64 and sandbox_pids at least 16")
    if settings.sandbox_cpus <= 0:
        raise ConfigError("sandbox_cpus must be positive")
    if settings.sandbox_disk_mb < 1:
        raise ConfigError("sandbox_disk_mb must be at least 1")
    if settings.sandbox_uid < 1:
        raise ConfigError("sandbox_uid must not be 0 (root) or negative")
