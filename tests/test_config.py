"""Settings precedence and validation: flags > environment > devbot.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbot.config import ConfigError, Settings, load_settings


def write_toml(repo: Path, text: str) -> None:
    (repo / "devbot.toml").write_text(text, encoding="utf-8")


def test_defaults_without_any_source(tmp_path: Path) -> None:
    assert load_settings(tmp_path, environ={}) == Settings()


def test_precedence_flags_over_env_over_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, 'model = "openai/from-toml"\nmax_steps = 7\nprotocol = "tools"\n')
    env = {"DEVBOT_MODEL": "openai/from-env", "DEVBOT_MAX_STEPS": "9"}

    settings = load_settings(tmp_path, {"model": "openai/from-flag"}, environ=env)

    assert settings.model == "openai/from-flag"
    assert settings.max_steps == 9
    assert settings.protocol == "tools"


def test_flags_left_unset_do_not_override(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"model": None}, environ={"DEVBOT_MODEL": "openai/x"})
    assert settings.model == "openai/x"


def test_lists_from_toml_and_comma_separated_env(tmp_path: Path) -> None:
    write_toml(tmp_path, 'plan_dirs = ["plans", "more-plans"]\n')
    assert load_settings(tmp_path, environ={}).plan_dirs == ("plans", "more-plans")
    env = {"DEVBOT_PLAN_DIRS": "a, b"}
    assert load_settings(tmp_path, environ=env).plan_dirs == ("a", "b")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('modle = "x/y"\n', "unknown key(s) modle"),
        ("max_steps = 2.5\n", "max_steps = 2.5: expected an integer"),
        ('max_steps = "ten"\n', "max_steps = 'ten'"),
        ("max_usd = true\n", "max_usd = True"),
        ("plan_dirs = [1]\n", "expected a list of strings"),
        ("model = \n", "invalid TOML"),
        ('protocol = "json"\n', "choose one of auto, text, tools"),
        ('model = "gpt-5"\n', "write provider/model"),
        ("max_steps = 0\n", "max_steps must be at least 1"),
        ("max_wall_s = -1\n", "max_wall_s must be positive"),
    ],
)
def test_bad_toml_is_refused_with_key_and_file(tmp_path: Path, toml: str, expected: str) -> None:
    write_toml(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert expected in str(caught.value)


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DEVBOT_MAX_USD"):
        load_settings(tmp_path, environ={"DEVBOT_MAX_USD": "lots"})


def test_database_url_defaults_to_sqlite_under_state_dir(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert (
        settings.system_database_url(settings.process_state_dir(tmp_path))
        == f"sqlite:///{tmp_path.resolve()}/.devbot/dbos.sqlite"
    )
    pg = load_settings(tmp_path, environ={"DEVBOT_DATABASE_URL": "postgresql://h/db"})
    assert pg.system_database_url(tmp_path) == "postgresql://h/db"
