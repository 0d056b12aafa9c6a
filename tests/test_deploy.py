"""The systemd units in deploy/systemd start commands devbot accepts, with the settings
they name spelled as devbot reads them."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from devbot.config import Settings, env_name
from devbot.triggers.cli import build_parser

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"
KNOWN = {env_name(name) for name in Settings.__dataclass_fields__} | {
    "DEVBOT_WORKER_ID",
    "DEVBOT_WEBHOOK_SECRET",
    "DEVBOT_GITHUB_PRIVATE_KEY",
}


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize("name", ["devbot-serve.service", "devbot-worker@.service"])
def test_each_unit_starts_a_command_devbot_parses(name: str) -> None:
    unit = _unit(name)
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[0].endswith("/devbot")
    build_parser().parse_args(command[1:])
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Service"]["EnvironmentFile"] == "/etc/devbot/devbot.env"


def test_the_environment_file_names_only_settings_devbot_reads() -> None:
    lines = (UNITS / "devbot.env.example").read_text().splitlines()
    names = {line.split("=", 1)[0].lstrip("# ") for line in lines if "=" in line}
    devbot = {name for name in names if name.startswith("DEVBOT_")}
    assert devbot <= KNOWN, devbot - KNOWN
