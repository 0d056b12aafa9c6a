"""What a sandbox promises: run one command in a workspace and report what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

MIB = 1024 * 1024
ENV_ROOT = "/devbot-env"
"""Where a prepared environment appears in the sandbox: a fixed path outside /workspace."""


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command. `output` is stdout+stderr interleaved, already clipped."""

    exit_code: int
    output: str
    timed_out: bool = False
    duration_s: float = 0.0


@dataclass(frozen=True)
class ResourceLimits:
    """What one command may use. Wall time is the `timeout_s` of each call; `disk_mb` is what
    it may add to the workspace (and the largest file it may write)."""

    memory_mb: int = 2048
    cpus: float = 2.0
    pids: int = 512
    tmp_mb: int = 512
    disk_mb: int = 2048

    @property
    def disk_bytes(self) -> int:
        return self.disk_mb * MIB


@dataclass(frozen=True)
class EnvironmentMount:
    """A prepared environment as every command sees it: the host folder `source` at
    ENV_ROOT, read-only unless `writable` (while setup builds it); `path` put first on PATH,
    `variables` set, and each (name in `source`, absolute place) of `links` shown at that
    place too (node_modules at /node_modules, where Node looks from /workspace upwards)."""

    source: Path
    writable: bool = False
    path: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()


class Sandbox(Protocol):
    """Runs shell commands with the workspace as working directory.

    `isolated` is False only for the local backend, which runs commands on this machine.
    `network=True` lets one command (e.g. the setup command) reach the network.
    """

    name: str
    isolated: bool

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult: ...


class Online:
    """`inner` with network for every command (`sandbox_network = "all"`)."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.name = inner.name
        self.isolated = inner.isolated

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult:
        return self.inner.run(command, workspace, timeout_s, network=True)
