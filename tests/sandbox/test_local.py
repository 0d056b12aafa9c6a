"""LocalSandbox runs real shell commands; make_sandbox picks the backend."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from devbot.clipping import clip
from devbot.config import ConfigError, Settings
from devbot.sandbox import LocalSandbox, make_sandbox


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie waiting for a reaper counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_exit_code_output_and_cwd(ws: Path) -> None:
    (ws / "marker.txt").write_text("here\n")
    result = LocalSandbox().run("cat marker.txt; echo err >&2; exit 3", ws, timeout_s=10)
    assert result.exit_code == 3
    assert not result.timed_out
    assert result.output == "here\nerr\n"
    assert result.duration_s > 0


def test_stdin_is_empty(ws: Path) -> None:
    result = LocalSandbox().run("cat; echo done", ws, timeout_s=10)
    assert result.output == "done\n"
    assert result.exit_code == 0


def test_bash_features_are_available(ws: Path) -> None:
    result = LocalSandbox().run("[[ -n x ]] && echo ${BASH_VERSION:+bash}", ws, timeout_s=10)
    assert result.output == "bash\n"


def test_killed_by_signal_is_128_plus_n(ws: Path) -> None:
    assert LocalSandbox().run("kill -TERM $$", ws, timeout_s=10).exit_code == 143


def test_timeout_kills_the_grandchild(ws: Path) -> None:
    command = "sleep 300 & echo $! > grandchild.pid; echo started; wait"
    started = time.monotonic()
    result = LocalSandbox().run(command, ws, timeout_s=1)
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert result.exit_code == 124
    assert result.output == "started\n"
    assert result.duration_s >= 1
    grandchild = int((ws / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_background_leftovers_die_when_the_command_ends(ws: Path) -> None:
    command = "sleep 300 > /dev/null 2>&1 & echo $! > bg.pid; echo done"
    result = LocalSandbox().run(command, ws, timeout_s=30)
    assert result.exit_code == 0
    assert not result.timed_out
    assert result.duration_s < 10
    background = int((ws / "bg.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(background) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(background)


def test_environment_is_an_allowlist(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("PIP_INDEX_URL", "http://mirror.invalid/simple")
    monkeypatch.setenv("DEVBOT_UNLISTED", "nope")
    sandbox = LocalSandbox(extra_env_names=("PIP_INDEX_URL", "NOT_SET_ANYWHERE"))
    result = sandbox.run("env", ws, timeout_s=10)
    env = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    assert "secret" not in result.output
    for name in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEVBOT_UNLISTED"):
        assert name not in env
    assert env["PIP_INDEX_URL"] == "http://mirror.invalid/simple"
    assert "NOT_SET_ANYWHERE" not in env
    assert env["HOME"] == str(ws)
    assert env["TERM"] == "dumb"
    assert env["PATH"] == os.environ["PATH"]


def test_long_output_is_clipped_head_and_tail(ws: Path) -> None:
    sandbox = LocalSandbox(max_output_chars=2000)
    result = sandbox.run("seq 1 100000", ws, timeout_s=30)
    assert result.exit_code == 0
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("99999\n100000\n")
    assert "characters clipped" in result.output
    assert len(result.output) < 2100


def test_undecodable_output_is_replaced_not_raised(ws: Path) -> None:
    result = LocalSandbox().run(r"printf 'a\377b'", ws, timeout_s=10)
    assert result.output == "a\ufffdb"


def test_clip_keeps_short_text_and_counts_what_it_cuts() -> None:
    assert clip("short", 10) == "short"
    text = "".join(f"line {i:04}\n" for i in range(1000))
    clipped = clip(text, 200)
    head, _, tail = clipped.partition("[... ")
    count = int(tail.split(" characters clipped", 1)[0])
    assert text.startswith(head)
    assert text.endswith(tail.split("...]\n", 1)[1])
    assert len(head) + count + len(tail.split("...]\n", 1)[1]) == len(text)
    assert head.endswith("\n")


def test_make_sandbox(ws: Path) -> None:
    sandbox = make_sandbox(Settings(sandbox="local", extra_env_names=("FOO",)))
    assert sandbox.name == "local"
    assert isinstance(sandbox, LocalSandbox)
    assert sandbox.extra_env_names == ("FOO",)
    assert sandbox.isolated is False
    with pytest.raises(ConfigError, match="sandbox = nope"):
        make_sandbox(Settings(sandbox="nope"))
