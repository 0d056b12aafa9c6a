"""`devbot sandbox check`: prove each isolation promise live, on this machine, right now.

Every probe runs a real command in the chosen sandbox with a scratch workspace, and passes
only when the sandbox contained it. On the local backend most probes fail, as they should.
Probes never change the host even when nothing contains them: /proc files are opened for
writing but never written, denied calls are made with arguments that do nothing.
"""

from __future__ import annotations

import os
import platform
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devbot.sandbox.base import CommandResult, ResourceLimits, Sandbox
from devbot.sandbox.seccomp import SYSCALLS

MAX_VISIBLE_PROCESSES = 20
CANARY_ENV = ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEVBOT_WEBHOOK_SECRET")
DISK_PROBE_SLEEP_S = 20
PROC_FILES = ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger")
SECCOMP_PROBES = {"mount": (0, 0, 0, 0, 0), "keyctl": (0, 0, 0)}
"""Calls both isolated backends deny; allowed, these arguments only fail (EFAULT, EINVAL)."""


@dataclass(frozen=True)
class Probe:
    promise: str
    passed: bool
    detail: str


def run_checks(sandbox: Sandbox, limits: ResourceLimits) -> list[Probe]:
    """Run every probe in `sandbox`; each says which promise it tested and what it saw."""
    canary = f"devbot-canary-{uuid.uuid4().hex}"
    file_name = f".devbot-check-{uuid.uuid4().hex}"
    with (
        tempfile.TemporaryDirectory(prefix="devbot-check-") as tmp,
        _listener() as port,
        _env_canaries(canary),
        _home_canary(file_name, canary) as secret_file,
    ):
        ws = Path(tmp)

        def run(command: str, timeout_s: float = 60.0) -> CommandResult:
            return sandbox.run(command, ws, timeout_s)

        probes: list[Callable[[], Probe]] = [
            lambda: _workspace(run, ws),
            lambda: _read_only(run),
            lambda: _proc_read_only(run),
            lambda: _seccomp(run),
            lambda: _secrets(run, canary, secret_file),
            lambda: _network(run, port),
            lambda: _pid_namespace(run),
            lambda: _memory(run, limits),
            lambda: _processes(run, limits),
            lambda: _disk(run, ws, limits),
            lambda: _time_limit(run),
        ]
        return [probe() for probe in probes]


def _workspace(run: Callable[..., CommandResult], ws: Path) -> Probe:
    result = run("echo written > probe.txt && cat probe.txt")
    ok = result.exit_code == 0 and (ws / "probe.txt").read_text().strip() == "written"
    owner = (ws / "probe.txt").stat().st_uid if ok else None
    if os.geteuid() == 0:
        promise = "workspace writable, files not owned by root on the host"
        ok = ok and owner is not None and owner != 0
    else:
        promise = "workspace writable, files owned by you"
        ok = ok and owner == os.getuid()
    return Probe(promise, ok, f"exit {result.exit_code}, owner uid {owner}")


def _read_only(run: Callable[..., CommandResult]) -> Probe:
    target = f"/usr/devbot-probe-{uuid.uuid4().hex}"
    result = run(f"touch {target} 2>&1; echo x > /etc/devbot-probe 2>&1; true")
    leaked = os.path.exists(target) or os.path.exists("/etc/devbot-probe")
    for path in (target, "/etc/devbot-probe"):
        if os.path.exists(path):
            os.unlink(path)
    return Probe("system read-only", not leaked, _first_line(result.output))


def _proc_read_only(run: Callable[..., CommandResult]) -> Probe:
    script = (
        "import os\n"
        f"for path in {PROC_FILES!r}:\n"
        "    if not os.path.exists(path):\n"
        "        continue\n"
        "    try:\n"
        "        open(path, 'r+b').close(); print('writable', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, exc.strerror)\n"
    )
    result = run(f"python3 -c {_quote(script)}")
    ok = "refused" in result.output and "writable" not in result.output
    return Probe("/proc/sys and /proc/sysrq-trigger read-only", ok, _first_line(result.output))


def _seccomp(run: Callable[..., CommandResult]) -> Probe:
    numbers = SYSCALLS.get(platform.machine(), {})
    calls = {
        name: (numbers[name], args) for name, args in SECCOMP_PROBES.items() if name in numbers
    }
    script = (
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "mode = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')]\n"
        "print('seccomp mode', mode[0] if mode else '?')\n"
        f"for name, (nr, args) in {calls!r}.items():\n"
        "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])\n"
        "    e = ctypes.get_errno()\n"
        "    print(name, 'EPERM' if r == -1 and e == errno.EPERM else f'not denied ({r}, {e})')\n"
    )
    result = run(f"python3 -c {_quote(script)}")
    lines = result.output.strip().splitlines()
    ok = bool(calls) and "seccomp mode 2" in lines and all(f"{n} EPERM" in lines for n in calls)
    return Probe("seccomp filter active", ok, "; ".join(lines))


def _secrets(run: Callable[..., CommandResult], canary: str, secret_file: Path) -> Probe:
    result = run(f"env; cat /proc/1/environ; cat {secret_file}; ls -a /root; true")
    return Probe(
        "no host secrets (env, home, /root)",
        canary not in result.output,
        "canaries not seen" if canary not in result.output else "a canary leaked",
    )


def _network(run: Callable[..., CommandResult], port: int) -> Probe:
    script = (
        "import socket,sys\n"
        "ok=[]\n"
        f"for host,port in (('127.0.0.1',{port}),('1.1.1.1',53),('deb.debian.org',80)):\n"
        "    try:\n"
        "        socket.create_connection((host,port),3).close(); ok.append(host)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('reached', ok); sys.exit(1 if ok else 0)\n"
    )
    result = run(f"python3 -c {_quote(script)}")
    return Probe(
        "no network (host loopback, outside)", result.exit_code == 0, result.output.strip()
    )


def _pid_namespace(run: Callable[..., CommandResult]) -> Probe:
    count = run("ls /proc | grep -c '^[0-9]'").output.strip()
    ok = count.isdigit() and int(count) < MAX_VISIBLE_PROCESSES
    return Probe("own pid namespace", ok, f"{count} processes visible")


def _memory(run: Callable[..., CommandResult], limits: ResourceLimits) -> Probe:
    size = limits.memory_mb + 512
    result = run(f"python3 -c \"x = b'x' * ({size} * 1024 * 1024); print('allocated')\"", 120)
    ok = "allocated" not in result.output and result.exit_code != 0
    return Probe(f"memory limit ({limits.memory_mb} MB)", ok, _last_line(result.output))


def _processes(run: Callable[..., CommandResult], limits: ResourceLimits) -> Probe:
    script = (
        "import os,time\n"
        "n=0\n"
        f"for _ in range({limits.pids * 2}):\n"
        "    try:\n"
        "        pid=os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid==0:\n"
        "        time.sleep(30); os._exit(0)\n"
        "    n+=1\n"
        "print('forked', n)\n"
    )
    result = run(f"python3 -c {_quote(script)}", 60)
    forked = _forked(result.output)
    ok = forked is not None and forked < limits.pids
    return Probe(f"process limit ({limits.pids})", ok, f"forked {forked} before refusal")


def _disk(run: Callable[..., CommandResult], ws: Path, limits: ResourceLimits) -> Probe:
    chunk_mb = limits.disk_mb // 4 + 1
    script = (
        "import os, time\n"
        "for i in range(5):\n"
        "    fd = os.open(f'disk-probe-{i}', os.O_CREAT | os.O_WRONLY)\n"
        f"    os.posix_fallocate(fd, 0, {chunk_mb} * 1024 * 1024); os.close(fd)\n"
        f"time.sleep({DISK_PROBE_SLEEP_S})\n"
    )
    before = set(os.listdir(ws))
    started = time.monotonic()
    result = run(f"python3 -c {_quote(script)}", 2 * DISK_PROBE_SLEEP_S)
    took = time.monotonic() - started
    left = sorted(set(os.listdir(ws)) - before)
    stopped = not result.timed_out and took < DISK_PROBE_SLEEP_S
    ok = stopped and "disk limit" in result.output and not left
    detail = f"stopped after {took:.1f}s, {len(left)} probe file(s) left"
    return Probe(f"disk limit ({limits.disk_mb} MB per command)", ok, detail)


def _time_limit(run: Callable[..., CommandResult]) -> Probe:
    started = time.monotonic()
    result = run("sleep 60 & sleep 60; wait", 1.0)
    took = time.monotonic() - started
    ok = result.timed_out and took < 10
    return Probe("wall-time limit kills the tree", ok, f"stopped after {took:.1f}s")


def _forked(output: str) -> int | None:
    for line in output.splitlines():
        if line.startswith("forked "):
            return int(line.split()[1])
    return None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


@contextmanager
def _listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


@contextmanager
def _env_canaries(canary: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in CANARY_ENV}
    os.environ.update({name: canary for name in CANARY_ENV})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _home_canary(name: str, canary: str) -> Iterator[Path]:
    path = Path.home() / name
    path.write_text(canary + "\n", encoding="utf-8")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
