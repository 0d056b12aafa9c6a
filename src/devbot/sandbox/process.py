"""Run one process to completion or timeout, capture its output, leave nothing behind.

The child leads its own session. When it exits, or the timeout strikes, the whole session
group is killed while the unreaped child still holds the group id, so no grandchild outlives
its command. Backends that need more (a pid namespace, a container) build on this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from devbot.clipping import clip
from devbot.sandbox.base import CommandResult

TIMEOUT_EXIT_CODE = 124
DRAIN_TIMEOUT_S = 5.0
MAX_POLL_S = 0.05


def run_process(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_chars: int,
    *,
    on_timeout: Callable[[int], None] | None = None,
) -> CommandResult:
    """Run `argv`; stdout+stderr are interleaved, decoded leniently and clipped.

    `on_timeout(pid)` runs before the group is killed, for backends whose processes live
    outside the session group (e.g. in a cgroup).
    """
    started = time.monotonic()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
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
        finished = wait_for_exit(process.pid, started + timeout_s)
        if not finished and on_timeout is not None:
            on_timeout(process.pid)
    finally:
        kill_group(process.pid)
        process.kill()
        process.wait()
    duration = time.monotonic() - started
    reader.join(DRAIN_TIMEOUT_S)
    output = clip(b"".join(chunks).decode("utf-8", errors="replace"), max_output_chars)
    return CommandResult(
        exit_code=shell_exit_code(process.returncode) if finished else TIMEOUT_EXIT_CODE,
        output=output,
        timed_out=not finished,
        duration_s=duration,
    )


def _read_all(stream: IO[bytes], chunks: list[bytes]) -> None:
    with stream:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            chunks.append(chunk)


def wait_for_exit(pid: int, deadline: float) -> bool:
    """Wait until `pid` exits, without reaping it; False when `deadline` passes first."""
    delay = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_S)
    return True


def kill_group(group: int) -> None:
    """SIGKILL every process in the command's session group (grandchildren included)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def shell_exit_code(returncode: int) -> int:
    """Shell convention: a command killed by signal N exits 128+N."""
    return 128 - returncode if returncode < 0 else returncode
