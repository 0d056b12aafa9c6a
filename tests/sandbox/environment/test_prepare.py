"""Preparing an environment in the real backends: built once with the repository's own
setup script, reused without running it again, rebuilt when an input changes, never cached
when setup fails (no registry needed: the script writes a tool of its own from a manifest,
the only files setup sees)."""

from __future__ import annotations

import os
from pathlib import Path

from devbot.config import Settings
from devbot.sandbox.environment import EnvironmentCache, detect_recipe, prepare_environment
from devbot.sandbox.environment.prepare import PreparedEnvironment
from devbot.sandbox.select import build_sandbox

SCRIPT = (
    'mkdir -p "$DEVBOT_ENV/bin"\n'
    "printf '#!/bin/sh\\necho tool %s\\n' \"$(head -1 requirements.txt)\""
    ' > "$DEVBOT_ENV/bin/tool"\n'
    'chmod +x "$DEVBOT_ENV/bin/tool"\n'
    "echo setup ran\n"
)


def _repo(root: Path, script: str = SCRIPT) -> Path:
    (root / ".devbot").mkdir(parents=True)
    (root / ".devbot" / "setup.sh").write_text(script)
    (root / "requirements.txt").write_text("six\n")
    return root


def _prepare(repo: Path, cache: EnvironmentCache, backend: str) -> PreparedEnvironment:
    recipe = detect_recipe(repo)
    assert recipe is not None
    settings = Settings(sandbox=backend, command_timeout_s=120)
    return prepare_environment(recipe, repo, cache, settings, backend, network=False)


def test_built_once_then_reused_without_running_setup(sandbox_backend: str, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    cache = EnvironmentCache(tmp_path / "envs")

    first = _prepare(repo, cache, sandbox_backend)
    entry = cache.find(first.key)
    assert first.exit_code == 0, first.output
    assert not first.cached and "setup ran" in first.output
    assert entry is not None and first.mount is not None
    inode = entry.path.stat().st_ino

    second = _prepare(repo, cache, sandbox_backend)

    assert second.cached and second.key == first.key
    assert second.output == ""
    assert entry.path.stat().st_ino == inode
    assert second.mount == first.mount
    workspace = tmp_path / "ws"
    workspace.mkdir()
    sandbox = build_sandbox(Settings(sandbox=sandbox_backend), sandbox_backend, second.mount)
    result = sandbox.run("tool; ls -A", workspace, 60)
    assert result.output.splitlines() == ["tool six"], result.output
    if os.geteuid() == 0:
        assert (entry.path / "bin" / "tool").stat().st_uid == 0


def test_a_changed_input_makes_a_new_key_and_a_new_build(
    sandbox_backend: str, tmp_path: Path
) -> None:
    repo = _repo(tmp_path / "repo")
    cache = EnvironmentCache(tmp_path / "envs")
    first = _prepare(repo, cache, sandbox_backend)
    (repo / "requirements.txt").write_text("six\nattrs\n")

    second = _prepare(repo, cache, sandbox_backend)

    assert second.key != first.key and not second.cached
    assert {entry.key for entry in cache.entries()} == {first.key, second.key}


def test_a_failing_setup_is_reported_and_nothing_is_cached(
    sandbox_backend: str, tmp_path: Path
) -> None:
    repo = _repo(tmp_path / "repo", 'touch "$DEVBOT_ENV/half"; echo no index; exit 3\n')
    cache = EnvironmentCache(tmp_path / "envs")

    prepared = _prepare(repo, cache, sandbox_backend)

    assert prepared.exit_code == 3 and prepared.mount is None
    assert "no index" in prepared.output
    assert cache.entries() == []
    assert [p.name for p in (tmp_path / "envs").iterdir()] == [f"{prepared.key}.lock"]
