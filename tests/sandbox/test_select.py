"""Backend choice, the environment allowlist and test-command detection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devbot.config import ConfigError, Settings, load_settings
from devbot.sandbox import select
from devbot.sandbox.detect import detect_test_command
from devbot.sandbox.docker import DockerSandbox
from devbot.sandbox.env import is_secret_name, sandbox_environment


def _fake(monkeypatch: pytest.MonkeyPatch, docker: bool, bwrap: bool) -> None:
    monkeypatch.setattr(select, "docker_status", lambda image: (docker, f"docker says {docker}"))
    monkeypatch.setattr(select, "bwrap_status", lambda uid: (bwrap, f"bwrap says {bwrap}"))


def test_auto_prefers_docker_then_bwrap_then_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, docker=True, bwrap=True)
    assert select.choose_backend(Settings()).backend == "docker"
    _fake(monkeypatch, docker=False, bwrap=True)
    choice = select.choose_backend(Settings())
    assert choice.backend == "bwrap"
    assert "docker says False" in choice.reason
    _fake(monkeypatch, docker=False, bwrap=False)
    with pytest.raises(ConfigError) as refused:
        select.choose_backend(Settings())
    text = str(refused.value)
    assert "docker says False" in text and "bwrap says False" in text
    assert 'sandbox = "local"' in text and "DEVBOT_SANDBOX=local" in text


def test_a_named_backend_is_never_swapped_for_another(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, docker=False, bwrap=True)
    with pytest.raises(ConfigError, match="sandbox = docker, but docker says False"):
        select.choose_backend(Settings(sandbox="docker"))
    _fake(monkeypatch, docker=True, bwrap=False)
    with pytest.raises(ConfigError, match="sandbox = bwrap, but bwrap says False"):
        select.choose_backend(Settings(sandbox="bwrap"))
    assert select.choose_backend(Settings(sandbox="local")).backend == "local"


def test_secret_looking_names_are_dropped_even_when_listed() -> None:
    for name in (
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DEVBOT_MODEL",
        "PGPASSWORD",
    ):
        assert is_secret_name(name)
    for name in ("PATH", "PIP_INDEX_URL", "LANG", "NODE_ENV"):
        assert not is_secret_name(name)
    environ = {"PATH": "/host/bin", "GITHUB_TOKEN": "t", "DEVBOT_X": "x", "NODE_ENV": "test"}
    env = sandbox_environment(
        ("GITHUB_TOKEN", "DEVBOT_X", "NODE_ENV"), "/tmp", path="/usr/bin", environ=environ
    )
    assert env == {
        "PATH": "/usr/bin",
        "NODE_ENV": "test",
        "TERM": "dumb",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_ADDOPTS": "-p no:cacheprovider",
    }


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pytest.ini": "[pytest]\n"}, "python3 -m pytest -q"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\n"}, "python3 -m pytest -q"),
        ({"requirements-dev.txt": "pytest==8.0\n"}, "python3 -m pytest -q"),
        ({"package.json": json.dumps({"scripts": {"test": "jest"}})}, "npm test"),
        ({"go.mod": "module x\n"}, "go test ./..."),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"Makefile": "build:\n\ttrue\ntest: build\n\ttrue\n"}, "make test"),
        (
            {"package.json": json.dumps({"scripts": {"test": "echo 'Error: no test specified'"}})},
            None,
        ),
        ({"tests/test_x.py": "def test_x(): pass\n"}, None),
        ({"Makefile": "all:\n\ttrue\n"}, None),
        ({}, None),
    ],
)
def test_detection_follows_what_the_repository_declares(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = detect_test_command(tmp_path)
    assert (found[0] if found else None) == expected


def test_detection_order_is_pytest_npm_go_cargo_make(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    (tmp_path / "go.mod").write_text("module x\n")
    assert detect_test_command(tmp_path) == ("go test ./...", "go.mod exists")
    (tmp_path / "conftest.py").write_text("")
    assert detect_test_command(tmp_path) == ("python3 -m pytest -q", "conftest.py exists")


def test_sandbox_uid_and_disk_quota_come_from_the_settings() -> None:
    settings = load_settings(environ={"DEVBOT_SANDBOX_UID": "4321", "DEVBOT_SANDBOX_DISK_MB": "7"})
    assert select.resource_limits(settings).disk_mb == 7
    docker = select.build_sandbox(settings, "docker")
    assert isinstance(docker, DockerSandbox)
    expected = "4321:4321" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    options = docker.container_options(Path("/nonexistent"))
    assert options["user"] == expected
    assert {"name": "fsize", "soft": 7 * 1024 * 1024, "hard": 7 * 1024 * 1024} in options["ulimits"]
    assert options["log_config"] == {"type": "none"}


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_root_or_negative_sandbox_uid_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="sandbox_uid must not be 0"):
        load_settings(environ={"DEVBOT_SANDBOX_UID": value})
