"""One fresh cgroup per sandboxed command: memory, CPU and process-count limits.

Used by the bwrap backend when this process may create cgroups (root, or a delegated
cgroup v2 subtree). rlimits cannot stand in for it when running as root: the kernel exempts
uid 0 from RLIMIT_NPROC, so only a pids cgroup stops a fork bomb there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devbot.sandbox.base import ResourceLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP_NAME = "devbot-sandbox"
CPU_PERIOD_US = 100_000
V1_CONTROLLERS = ("pids", "memory", "cpu")


@dataclass
class Cgroup:
    """The directories of one command's cgroup (one per v1 controller, or one for v2)."""

    dirs: dict[str, Path]
    v2: bool

    @property
    def procs_files(self) -> list[Path]:
        """Write a pid into each of these to put that process (and its children) inside."""
        return sorted({d / "cgroup.procs" for d in self.dirs.values()})

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(line) for line in path.read_text().split())
        return sorted(found)

    def kill_all(self) -> None:
        """SIGKILL every process still inside, until none is left (or 2 s pass)."""
        deadline = time.monotonic() + 2.0
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        return _counter(self.dirs["memory"] / name, "oom_kill")

    def forks_refused(self) -> int:
        """How many forks the process limit refused."""
        return _counter(self.dirs["pids"] / "pids.events", "max")

    def remove(self) -> None:
        self.kill_all()
        for path in set(self.dirs.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def cgroup_mode(root: Path = CGROUP_ROOT) -> str | None:
    """ "v2" or "v1" when this process can create cgroups with our limits, else None."""
    if (root / "cgroup.controllers").is_file():
        wanted = {"pids", "memory", "cpu"}
        controllers = set((root / "cgroup.subtree_control").read_text().split())
        if wanted <= controllers and os.access(root, os.W_OK):
            return "v2"
        return None
    if all(os.access(root / name, os.W_OK) for name in V1_CONTROLLERS):
        return "v1"
    return None


def create_cgroup(limits: ResourceLimits, root: Path = CGROUP_ROOT) -> Cgroup | None:
    """A new cgroup with `limits` applied, or None when cgroups are not available here."""
    mode = cgroup_mode(root)
    if mode is None:
        return None
    name = uuid.uuid4().hex[:16]
    memory = str(limits.memory_mb * 1024 * 1024)
    quota = str(int(limits.cpus * CPU_PERIOD_US))
    try:
        if mode == "v2":
            path = root / GROUP_NAME / name
            path.mkdir(parents=True)
            (path / "pids.max").write_text(str(limits.pids))
            (path / "memory.max").write_text(memory)
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")
            (path / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
            return Cgroup({c: path for c in V1_CONTROLLERS}, v2=True)
        dirs = {c: root / c / GROUP_NAME / name for c in V1_CONTROLLERS}
        for path in dirs.values():
            path.mkdir(parents=True)
        (dirs["pids"] / "pids.max").write_text(str(limits.pids))
        (dirs["memory"] / "memory.limit_in_bytes").write_text(memory)
        with contextlib.suppress(OSError):
            (dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(memory)
        (dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (dirs["cpu"] / "cpu.cfs_quota_us").write_text(quota)
        return Cgroup(dirs, v2=False)
    except OSError:
        return None


def _counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0
