"""Run a command under bubblewrap: Linux namespaces around a read-only view of the system.

Promises: only the system directories (/usr, /bin, /lib…) and a short list of harmless /etc
files are visible, read-only; the workspace is the only writable host directory (bound at
/workspace); /tmp and HOME are a private tmpfs; no network (its own, empty network
namespace, so not even the host's 127.0.0.1); its own pid namespace, dying with devbot; all
capabilities dropped; an allowlisted environment. Memory, CPU and process count are capped
by a per-command cgroup where devbot may create one, else by rlimits (prlimit).
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from devbot.sandbox.base import CommandResult, ResourceLimits
from devbot.sandbox.cgroups import Cgroup, create_cgroup
from devbot.sandbox.env import SANDBOX_PATH, sandbox_environment
from devbot.sandbox.notes import with_limit_notes
from devbot.sandbox.process import run_process

WORKDIR = "/workspace"
HOME = "/tmp"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "protocols",
    "services",
    "mime.types",
    "os-release",
    "debian_version",
    "python3",
    "python3.11",
    "bash.bashrc",
    "profile",
    "locale.alias",
)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


class BwrapSandbox:
    """Runs `bash -c COMMAND` inside bwrap with the workspace at /workspace."""

    name = "bwrap"
    isolated = True

    def __init__(
        self,
        extra_env_names: Sequence[str] = (),
        limits: ResourceLimits | None = None,
        max_output_chars: int = 20_000,
        executable: str | None = None,
    ) -> None:
        self.extra_env_names = tuple(extra_env_names)
        self.limits = limits or ResourceLimits()
        self.max_output_chars = max_output_chars
        found = executable or bwrap_path()
        if found is None:
            raise FileNotFoundError("bwrap is not installed (Debian: apt-get install bubblewrap)")
        self.executable = found

    def argv(self, command: str, workspace: Path, *, network: bool = False) -> list[str]:
        """The bwrap command line (without the resource-limit wrapper)."""
        args = [self.executable, "--unshare-all"]
        if network:
            args.append("--share-net")
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        args += ["--hostname", "devbot-sandbox"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(self.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        args += ["--bind", str(workspace.resolve()), WORKDIR, "--chdir", WORKDIR]
        return [*args, "--", "bash", "-c", command]

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult:
        env = sandbox_environment(self.extra_env_names, HOME, path=SANDBOX_PATH)
        inner = self.argv(command, workspace, network=network)
        cgroup = create_cgroup(self.limits)
        try:
            result = run_process(
                self._limited(inner, cgroup),
                workspace,
                env,
                timeout_s,
                self.max_output_chars,
                on_kill=(lambda _pid: cgroup.kill_all()) if cgroup else None,
            )
            oom = cgroup.oom_kills() if cgroup else 0
            refused = cgroup.forks_refused() if cgroup else 0
        finally:
            if cgroup is not None:
                cgroup.remove()
        return with_limit_notes(
            result, self.limits, timeout_s, oom_kills=oom, forks_refused=refused
        )

    def _limited(self, argv: list[str], cgroup: Cgroup | None) -> list[str]:
        """Prefix `argv` with what enters the cgroup, or with prlimit when there is none."""
        if cgroup is not None:
            joins = "".join(f"echo $$ > {shlex.quote(str(p))}; " for p in cgroup.procs_files)
            return ["/bin/sh", "-c", f'set -e; {joins}exec "$@"', "sh", *argv]
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            return argv
        memory = self.limits.memory_mb * 1024 * 1024
        return [prlimit, f"--nproc={self.limits.pids}", f"--as={memory}", "--", *argv]
