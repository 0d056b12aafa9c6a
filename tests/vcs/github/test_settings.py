"""GitHub settings: booleans from toml and environment; secrets never come from devbot.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbot.config import ConfigError, load_settings


def test_github_settings_layers(tmp_path: Path) -> None:
    (tmp_path / "devbot.toml").write_text(
        'github_draft = true\ngithub_repo = "octo/x"\ngithub_app_id = "12"\n', encoding="utf-8"
    )
    settings = load_settings(tmp_path, environ={})
    assert (settings.github_draft, settings.github_repo, settings.github_app_id) == (
        True,
        "octo/x",
        "12",
    )
    env = {"DEVBOT_GITHUB_DRAFT": "false", "DEVBOT_GITHUB_API_URL": "https://h/api/v3"}
    settings = load_settings(tmp_path, environ=env)
    assert settings.github_draft is False and settings.github_api_url == "https://h/api/v3"


def test_bad_boolean_and_secret_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="github_draft"):
        load_settings(tmp_path, environ={"DEVBOT_GITHUB_DRAFT": "maybe"})
    (tmp_path / "devbot.toml").write_text('github_token = "ghp_x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(tmp_path, environ={})
