"""A prepared environment mounted into both backends: where commands see it, read-only once
built, writable (and under the disk quota) while setup builds it, never in the workspace."""

from __future__ import annotations

import os
from pathlib import Path

from devbot.sandbox.base import EnvironmentMount
from devbot.sandbox.ownership import sandbox_identity
from tests.fixtures.sandbox import TEST_LIMITS, SandboxFactory


def _environment(root: Path) -> Path:
    folder = root / "env"
    (folder / "bin").mkdir(parents=True)
    (folder / "node_modules" / "dep").mkdir(parents=True)
    (folder / "node_modules" / "dep" / "index.js").write_text("module.exports = 1;\n")
    tool = folder / "bin" / "devbot-env-tool"
    tool.write_text("#!/bin/sh\necho tool from the environment\n")
    tool.chmod(0o755)
    return folder


def test_commands_see_the_environment_read_only_first_on_path_and_its_links(
    isolated_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    folder = _environment(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    mount = EnvironmentMount(
        folder,
        path=("/devbot-env/bin",),
        variables=(("DEVBOT_ENV", "/devbot-env"),),
        links=(("node_modules", "/node_modules"),),
    )
    result = isolated_sandbox(environment=mount).run(
        "devbot-env-tool; echo PATH=$PATH; echo VAR=$DEVBOT_ENV; cat /node_modules/dep/index.js;"
        " touch /devbot-env/new 2>&1 || echo refused; ls -A",
        workspace,
        60,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "tool from the environment" in lines
    assert any(line.startswith("PATH=/devbot-env/bin:") for line in lines), result.output
    assert "VAR=/devbot-env" in lines
    assert "module.exports = 1;" in lines
    assert "refused" in lines
    assert not (folder / "new").exists()
    assert os.listdir(workspace) == []


def test_while_setup_builds_it_the_environment_is_writable_by_the_sandbox(
    isolated_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "building"
    folder.mkdir()
    identity = sandbox_identity()
    if identity is not None:
        os.chown(folder, identity.uid, identity.gid)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    mount = EnvironmentMount(folder, writable=True)
    result = isolated_sandbox(environment=mount).run(
        "mkdir /devbot-env/venv && echo built > /devbot-env/venv/marker", workspace, 60
    )
    assert result.exit_code == 0, result.output
    marker = folder / "venv" / "marker"
    assert marker.read_text() == "built\n"
    if identity is not None:
        assert marker.stat().st_uid == identity.uid
    assert os.listdir(workspace) == []


def test_setup_writing_past_the_disk_limit_into_the_environment_is_stopped(
    isolated_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "building"
    folder.mkdir()
    identity = sandbox_identity()
    if identity is not None:
        os.chown(folder, identity.uid, identity.gid)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    chunk_mb = TEST_LIMITS.disk_mb // 4 + 1
    script = (
        "import os, time\n"
        "for i in range(5):\n"
        "    fd = os.open(f'/devbot-env/blob-{i}', os.O_CREAT | os.O_WRONLY)\n"
        f"    os.posix_fallocate(fd, 0, {chunk_mb} * 1024 * 1024); os.close(fd)\n"
        "time.sleep(30)\n"
    )
    mount = EnvironmentMount(folder, writable=True)
    result = isolated_sandbox(environment=mount).run(f'python3 -c "{script}"', workspace, 60)
    assert not result.timed_out
    assert "into the environment it prepares" in result.output
    assert os.listdir(folder) == []
