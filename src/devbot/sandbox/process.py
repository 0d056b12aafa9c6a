"""Run one process to completion, timeout or a stop request; keep its output in bounded memory.

The child leads its own session. When it exits, the timeout strikes or `stop` is set (the
disk quota), the whole session group is killed while the unreaped child still holds the group
id, so no grandchild outlives its command. Output is streamed into an `OutputBuffer`: devbot's
memory does not grow with what a command prints. Backends that need more (a pid namespace, a
container) build on this.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from devbot.sandbox.base import CommandResult
from devbot.sandbox.output import OutputBuffer

TIMEOUT_EXIT_CODE = 124
DRAIN_TIMEOUT_S = 5.0
MAX_POLL_S = 0.05
STOP_POLL_S = 0.05
READ_SIZE = 65536


def run_process(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_chars: int,
    *,
    on_kill: Callable[[int], None] | None = None,
    pass_fds: Sequence[int] = (),
    stop: threading.Event | None = None,
) -> CommandResult:
    """Run `argv`; stdout+stderr are interleaved, decoded leniently and clipped.

    `on_kill(pid)` runs before the group is killed early (timeout or `stop`), for backends
    whose processes live outside the session group (e.g. in a cgroup). `pass_fds` stay open
    in the child.
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
        pass_fds=tuple(pass_fds),
    )
    output = OutputBuffer(max_output_chars)
    assert process.stdout is not None
    reader = threading.Thread(target=read_into, args=(process.stdout, output), daemon=True)
    reader.start()
    try:
        finished = wait_for_exit(process.pid, started + timeout_s, stop)
        if not finished and on_kill is not None:
            on_kill(process.pid)
    finally:
        kill_group(process.pid)
        process.kill()
        process.wait()
    duration = time.monotonic() - started
    reader.join(DRAIN_TIMEOUT_S)
    timed_out = not finished and not (stop is not None and stop.is_set())
    return CommandResult(
        exit_code=TIMEOUT_EXIT_CODE if timed_out else shell_exit_code(process.returncode),
        output=output.text(),
        timed_out=timed_out,
        duration_s=duration,
    )


def read_into(stream: IO[bytes], output: OutputBuffer) -> None:
    """Feed `stream` to `output` until it ends."""
    with stream:
        for chunk in iter(lambda: os.read(stream.fileno(), READ_SIZE), b""):
            output.feed(chunk)


def wait_for_exit(pid: int, deadline: float, stop: threading.Event | None = None) -> bool:
    """Wait until `pid` exits, without reaping it; False when `deadline` passes or `stop`
    is set first. A pidfd wakes the wait the moment the child exits; `stop` is looked at
    every `STOP_POLL_S`."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return _poll_for_exit(pid, deadline, stop)
    try:
        waiter = select.poll()
        waiter.register(pidfd, select.POLLIN)
        while not waiter.poll(_wait_ms(deadline, stop)):
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return False
        return True
    finally:
        os.close(pidfd)


def _wait_ms(deadline: float, stop: threading.Event | None) -> int:
    remaining = max(deadline - time.monotonic(), 0.0)
    if stop is not None:
        remaining = min(remaining, STOP_POLL_S)
    return max(int(remaining * 1000), 1)


def _poll_for_exit(pid: int, deadline: float, stop: threading.Event | None) -> bool:
    """`wait_for_exit` for kernels without pidfds (before 5.3): exponential back-off."""
    delay = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop.is_set()):
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
