"""Run a command as a plain local subprocess: no isolation, only a clean environment.

The child sees an allowlisted environment (never tokens or keys) and leads its own session.
When the shell exits, or the timeout strikes, the whole session group is killed while the
unreaped shell still holds the group id, so no grandchild outlives its command.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from devbot.clipping import clip
from devbot.sandbox.base import CommandResult

ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
TIMEOUT_EXIT_CODE = 124
DRAIN_TIMEOUT_S = 5.0
MAX_POLL_S = 0.05


class LocalSandbox:
    """Runs `bash -c COMMAND` (or `sh -c` without bash) in the workspace on this machine."""

    name = "local"

    def __init__(self, extra_env_names: Sequence[str] = (), max_output_chars: int = 20_000) -> None:
        self.extra_env_names = tuple(extra_env_names)
        self.max_output_chars = max_output_chars

    def environment(self, workspace: Path) -> dict[str, str]:
        """The child's whole environment: the allowlist, TERM=dumb and HOME=workspace."""
        names = (*ALLOWED_ENV, *self.extra_env_names)
        env = {name: os.environ[name] for name in names if name in os.environ}
        env.setdefault("PATH", os.defpath)
        env["TERM"] = "dumb"
        env["HOME"] = str(workspace)
        return env

    def run(self, command: str, workspace: Path, timeout_s: float) -> CommandResult:
        shell = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
        started = time.monotonic()
        process = subprocess.Popen(
            [shell, "-c", command],
            cwd=workspace,
            env=self.environment(workspace),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        chunks: list[bytes] = []
        assert process.stdout is not None
        reader = threading.Thread(target=_read_all, args=(process.stdout, chunks), daemon=True)
        reader.start()
        try:
            finished = _wait_for_exit(process.pid, started + timeout_s)
        finally:
            _kill_group(process.pid)
            process.kill()
            process.wait()
        duration = time.monotonic() - started
        reader.join(DRAIN_TIMEOUT_S)
        output = clip(b"".join(chunks).decode("utf-8", errors="replace"), self.max_output_chars)
        return CommandResult(
            exit_code=_exit_code(process.returncode) if finished else TIMEOUT_EXIT_CODE,
            output=output,
            timed_out=not finished,
            duration_s=duration,
        )


def _read_all(stream: IO[bytes], chunks: list[bytes]) -> None:
    with stream:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            chunks.append(chunk)


def _wait_for_exit(pid: int, deadline: float) -> bool:
    """Wait until `pid` exits, without reaping it; False when `deadline` passes first."""
    delay = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_S)
    return True


def _kill_group(group: int) -> None:
    """SIGKILL every process in the command's session group (grandchildren included)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _exit_code(returncode: int) -> int:
    """Shell convention: a command killed by signal N exits 128+N."""
    return 128 - returncode if returncode < 0 else returncode
