"""The red-team findings against the sandbox, each replayed on docker and bwrap.

A command must not change the host's kernel settings, own files as root, reach the calls
the seccomp filter denies, fill the disk, or make devbot's memory grow with what it prints.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fixtures.sandbox import TEST_LIMITS, SandboxFactory, make_backend, require_backend

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_UID = 65534
MIB = 1024 * 1024
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")

NUMBERS = {
    "x86_64": {
        "unshare": 272,
        "mount": 165,
        "keyctl": 250,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "ptrace": 101,
    },
    "aarch64": {
        "unshare": 97,
        "mount": 40,
        "keyctl": 219,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "ptrace": 117,
    },
}
ARGUMENTS = {
    "unshare": (0x10000000,),  # CLONE_NEWUSER: succeeds where allowed
    "mount": (0, 0, 0, 0, 0),  # EFAULT where allowed
    "keyctl": (0, 0, 0),  # KEYCTL_GET_KEYRING_ID of keyring 0: EINVAL where allowed
    "bpf": (0xFFFF, 0, 0),  # no such command: EINVAL where allowed
    "perf_event_open": (0, 0, -1, -1, 0),  # EFAULT where allowed
    "userfaultfd": (1,),  # UFFD_USER_MODE_ONLY: a descriptor where allowed
    "ptrace": (0, 0, 0, 0),  # PTRACE_TRACEME: succeeds where allowed
}
DOCKER_ALLOWS = {"ptrace"}
"""Docker's default seccomp profile allows ptrace on kernels >= 4.8 (the container has no
CAP_SYS_PTRACE and its own pid namespace); the README's promise table says so."""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def _python(script: str) -> str:
    return "python3 -c " + "'" + script.replace("'", "'\"'\"'") + "'"


@contextlib.contextmanager
def _core_pattern_restored() -> Iterator[str]:
    """The host's kernel.core_pattern, put back if a failing sandbox changed it."""
    original = CORE_PATTERN.read_text()
    try:
        yield original
    finally:
        if CORE_PATTERN.read_text() != original and os.geteuid() == 0:
            CORE_PATTERN.write_text(original)


def test_writing_kernel_core_pattern_is_refused_and_the_host_keeps_its_value(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    probe = f"core.devbot-probe-{uuid.uuid4().hex[:8]}"
    script = (
        "try:\n"
        f"    open('{CORE_PATTERN}', 'w').write('{probe}')\n"
        "    print('WROTE')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    with _core_pattern_restored() as original:
        result = isolated_sandbox().run(_python(script), ws, timeout_s=60)
        host_value = CORE_PATTERN.read_text()
    assert host_value == original
    assert "WROTE" not in result.output
    assert "refused" in result.output, result.output


@pytest.mark.parametrize("path", ["/proc/sysrq-trigger", "/proc/irq/default_smp_affinity"])
def test_other_dangerous_proc_files_cannot_be_opened_for_writing(
    isolated_sandbox: SandboxFactory, ws: Path, path: str
) -> None:
    if not os.path.exists(path):
        pytest.skip(f"this kernel has no {path}")
    script = (
        "try:\n"
        f"    open('{path}', 'wb').close()\n"
        "    print('OPENED')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    result = isolated_sandbox().run(_python(script), ws, timeout_s=60)
    assert "OPENED" not in result.output
    assert "refused" in result.output, result.output


def test_files_the_command_creates_are_not_owned_by_root_on_the_host(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    result = isolated_sandbox().run("mkdir -p made && echo x > made/file && id -u", ws, 60)
    assert result.exit_code == 0, result.output
    for path in (ws / "made", ws / "made" / "file"):
        info = path.stat()
        if os.geteuid() == 0:
            assert (info.st_uid, info.st_gid) == (SANDBOX_UID, SANDBOX_UID), path
        else:
            assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid()), path


def test_no_capabilities_no_new_privileges_and_a_seccomp_filter(
    isolated_sandbox: SandboxFactory, ws: Path
) -> None:
    result = isolated_sandbox().run("cat /proc/self/status", ws, 60)
    status = dict(line.split(":\t", 1) for line in result.output.splitlines() if ":\t" in line)
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[name], 16) == 0, name
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"


def _denied_calls() -> list[tuple[str, str]]:
    return [
        (backend, call)
        for backend in ("docker", "bwrap")
        for call in ARGUMENTS
        if not (backend == "docker" and call in DOCKER_ALLOWS)
    ]


@pytest.mark.parametrize(("backend", "call"), _denied_calls())
def test_seccomp_denied_calls_fail_with_eperm(backend: str, call: str, ws: Path) -> None:
    require_backend(backend)
    machine = platform.machine()
    if machine not in NUMBERS:
        pytest.skip(f"no syscall numbers for {machine}")
    args = ", ".join(f"ctypes.c_long({value})" for value in ARGUMENTS[call])
    script = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"result = libc.syscall(ctypes.c_long({NUMBERS[machine][call]}), {args})\n"
        "print('RESULT', result, ctypes.get_errno() if result == -1 else 0)\n"
    )
    result = make_backend(backend).run(_python(script), ws, timeout_s=60)
    assert f"RESULT -1 {errno.EPERM}\n" in result.output, result.output


def test_a_workspace_under_a_private_folder_works_under_bwrap_as_root(tmp_path: Path) -> None:
    require_backend("bwrap")
    if os.geteuid() != 0:
        pytest.skip("only root can hold a workspace its sandbox user may not traverse")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    ws = private / "ws"
    ws.mkdir()
    (ws / "given.txt").write_text("from the host\n")
    result = make_backend("bwrap").run("cat given.txt && echo made > made.txt", ws, 60)
    assert (result.exit_code, result.output) == (0, "from the host\n"), result.output
    assert (ws / "made.txt").read_text() == "made\n"
    assert (ws / "made.txt").stat().st_uid == SANDBOX_UID
    assert private.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    "command",
    [
        "head -c 200M /dev/zero > big.bin; echo wrote",
        "mkdir out; for i in $(seq 1 100); do head -c 4M /dev/zero > out/f$i; done; sleep 30",
    ],
    ids=["one-big-file", "many-files"],
)
def test_the_disk_quota_stops_a_command_and_leaves_none_of_its_files(
    isolated_sandbox: SandboxFactory, ws: Path, command: str
) -> None:
    (ws / "kept.txt").write_text("kept\n")
    limits = replace(TEST_LIMITS, disk_mb=16)
    result = isolated_sandbox(limits=limits).run(command, ws, timeout_s=60)
    assert not result.timed_out, result.output
    assert "disk limit" in result.output, result.output
    assert "limit of 16 MB" in result.output
    assert "deleted, so none of them will be committed" in result.output
    assert sorted(path.name for path in ws.iterdir()) == ["kept.txt"]


MEMORY_SCRIPT = """
import json, resource, sys
from pathlib import Path
from tests.fixtures.sandbox import make_backend

sandbox = make_backend(sys.argv[1])
workspace = Path(sys.argv[2])
sandbox.run("true", workspace, 60)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = sandbox.run(sys.argv[3], workspace, 600)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": after - before, "exit_code": result.exit_code,
                  "output": result.output}))
"""


def test_printing_300_mb_leaves_devbot_memory_flat_and_keeps_head_and_tail(
    sandbox_backend: str, ws: Path
) -> None:
    command = "echo HEAD-MARK; head -c 300M /dev/zero | tr '\\0' x; echo; echo TAIL-MARK"
    measured = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, sandbox_backend, str(ws), command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    report = json.loads(measured.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0, report["output"][-2000:]
    assert report["growth_kb"] < 100 * 1024, report["growth_kb"]
    output: str = report["output"]
    assert output.startswith("HEAD-MARK\n")
    assert output.endswith("TAIL-MARK\n")
    assert "characters clipped" in output
    assert len(output) < 30_000


PLAIN_USER = 4242


@pytest.fixture
def plain_workspace() -> Iterator[Path]:
    """A workspace owned by an unprivileged user, under a folder that user may enter."""
    base = Path(tempfile.mkdtemp(prefix="devbot-plain-", dir="/tmp"))
    base.chmod(0o755)
    ws = base / "ws"
    ws.mkdir()
    os.chown(ws, PLAIN_USER, PLAIN_USER)
    try:
        yield ws
    finally:
        shutil.rmtree(base)


def test_bwrap_started_by_a_plain_user_maps_that_user_under_the_same_rules(
    plain_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_backend("bwrap")
    if os.geteuid() != 0:
        pytest.skip("needs root to become another plain user")
    if platform.machine() not in NUMBERS:
        pytest.skip(f"no syscall numbers for {platform.machine()}")
    unshare = NUMBERS[platform.machine()]["unshare"]
    from devbot.sandbox import bwrap
    from devbot.sandbox.bwrap import BwrapSandbox, _readable

    monkeypatch.setattr(bwrap, "sandbox_identity", lambda uid: None)
    sandbox = BwrapSandbox(limits=TEST_LIMITS)
    assert sandbox.identity is None
    script = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('uid', os.getuid())\n"
        "print('seccomp', [l.split()[1] for l in open('/proc/self/status')"
        " if l.startswith('Seccomp:')][0])\n"
        f"r = libc.syscall(ctypes.c_long({unshare}), ctypes.c_long(0x10000000))\n"
        "print('unshare', r, ctypes.get_errno())\n"
        "try:\n"
        f"    open('{CORE_PATTERN}', 'r+b'); print('core_pattern writable')\n"
        "except OSError:\n"
        "    print('core_pattern refused')\n"
        "open('made.txt', 'w').write('x')\n"
    )
    with _readable(sandbox.seccomp) as seccomp_fd:
        inner = sandbox.argv(_python(script), str(plain_workspace), seccomp_fd)
        argv = sandbox._wrapped(inner, None, [])
        done = subprocess.run(
            [
                "setpriv",
                "--reuid",
                str(PLAIN_USER),
                "--regid",
                str(PLAIN_USER),
                "--clear-groups",
                "--",
                *argv,
            ],
            pass_fds=(seccomp_fd,),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"uid {PLAIN_USER}" in lines
    assert "seccomp 2" in lines
    assert f"unshare -1 {errno.EPERM}" in lines
    assert "core_pattern refused" in lines
    assert (plain_workspace / "made.txt").stat().st_uid == PLAIN_USER
