"""One suite, run against docker and bwrap: hostile commands are contained and reported,
and the host is untouched afterwards."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devbot.agent.loop import run_directly
from devbot.config import Settings
from devbot.runs.flows import verify
from devbot.runs.flows.verify import Verification
from devbot.sandbox.ownership import host_identity, sandbox_identity
from tests.fixtures.sandbox import TEST_LIMITS, SandboxFactory


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


def _host_processes() -> int:
    return sum(name.isdigit() for name in os.listdir("/proc"))


def test_fork_bomb_hits_the_process_limit_and_leaves_nothing(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    before = _host_processes()
    started = time.monotonic()
    result = isolated_sandbox().run("bomb() { bomb | bomb & }; bomb; sleep 3", ws, timeout_s=60)
    assert time.monotonic() - started < 45
    assert "Resource temporarily unavailable" in result.output
    deadline = time.monotonic() + 10
    while _host_processes() > before + 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_processes() <= before + 20


def test_memory_hog_is_killed_at_the_limit_and_said_so(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    result = isolated_sandbox().run(
        "python3 -c \"x = b'x' * (1024 * 1024 * 1024); print('allocated')\"", ws, timeout_s=120
    )
    assert result.exit_code != 0
    assert "allocated" not in result.output
    assert "out of memory" in result.output or "MemoryError" in result.output
    assert not result.timed_out


def test_endless_loop_is_stopped_at_the_wall_time_limit(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    started = time.monotonic()
    result = isolated_sandbox().run("while :; do :; done & while :; do :; done", ws, timeout_s=2)
    assert result.timed_out
    assert result.exit_code == 124
    assert "time limit" in result.output
    assert time.monotonic() - started < 15


def test_no_network_neither_host_loopback_nor_outside(
    isolated_sandbox: SandboxFactory, ws: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), 2).close()  # the host itself can
    script = (
        "import socket\n"
        f"for host, port in (('127.0.0.1', {port}), ('1.1.1.1', 53), ('8.8.8.8', 443)):\n"
        "    try:\n"
        "        socket.create_connection((host, port), 3).close()\n"
        "        print('REACHED', host)\n"
        "    except OSError as exc:\n"
        "        print('blocked', host, type(exc).__name__)\n"
    )
    result = isolated_sandbox().run(f'python3 -c "{script}"', ws, timeout_s=60)
    assert result.exit_code == 0, result.output
    assert "REACHED" not in result.output
    assert result.output.count("blocked") == 3


def test_writes_land_only_in_the_workspace_owned_by_the_sandbox_user(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    name = f"devbot-escape-{uuid.uuid4().hex}"
    command = (
        f"touch /usr/{name}; touch /etc/{name}; touch /{name}; touch /workspace/../{name};"
        f" touch /tmp/{name}; mkdir -p $HOME/.cache && touch $HOME/{name};"
        " echo kept > /workspace/kept.txt; true"
    )
    result = isolated_sandbox().run(command, ws, timeout_s=60)
    assert result.exit_code == 0
    for host_path in (f"/usr/{name}", f"/etc/{name}", f"/{name}", f"/tmp/{name}"):
        assert not os.path.exists(host_path), host_path
    assert not (ws.parent / name).exists()
    assert not (Path.home() / name).exists()
    kept = ws / "kept.txt"
    assert kept.read_text() == "kept\n"
    owner = sandbox_identity() or host_identity()
    assert (kept.stat().st_uid, kept.stat().st_gid) == (owner.uid, owner.gid)


def test_host_secrets_never_reach_the_sandbox(
    isolated_sandbox: SandboxFactory, ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    for name in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEVBOT_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, canary)
    monkeypatch.setenv("PIP_INDEX_URL", "http://mirror.invalid/simple")
    secret = Path.home() / f".devbot-test-{uuid.uuid4().hex}"
    secret.write_text(canary)
    try:
        sandbox = isolated_sandbox(extra_env_names=("PIP_INDEX_URL", "GITHUB_TOKEN"))
        result = sandbox.run(
            f"env; cat /proc/*/environ; cat {secret}; ls -a /root {Path.home()}; true",
            ws,
            timeout_s=60,
        )
    finally:
        secret.unlink()
    assert canary not in result.output
    assert "PIP_INDEX_URL=http://mirror.invalid/simple" in result.output
    assert "HOME=/tmp" in result.output


def test_a_hanging_test_run_is_stopped_and_reported(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    settings = Settings(
        sandbox="auto",
        test_command="echo starting tests; sleep 600",
        command_timeout_s=2,
        max_test_rounds=0,
    )
    sandbox = isolated_sandbox()
    verification = Verification(settings, None, ws, sandbox, run_directly)
    started = time.monotonic()
    assert verification.review_finish() is None
    tests = verification.final(agent_submitted=True)
    assert time.monotonic() - started < 15
    assert tests.last is not None and tests.last.timed_out and tests.last.exit_code == 124
    notes = "\n".join(verify.testing_notes(tests))
    assert "timed out" in notes
    assert "starting tests" in notes
    assert f"`{sandbox.name}` sandbox" in notes
    assert "nothing was isolated" not in notes


def test_limits_apply_per_command_not_per_sandbox(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    sandbox = isolated_sandbox()
    assert sandbox.run("while :; do :; done", ws, timeout_s=1).timed_out
    result = sandbox.run("echo fine", ws, timeout_s=30)
    assert (result.exit_code, result.output, result.timed_out) == (0, "fine\n", False)
    assert TEST_LIMITS.pids == 64
