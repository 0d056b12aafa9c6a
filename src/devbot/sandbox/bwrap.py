"""Run a command under bubblewrap: Linux namespaces around a read-only view of the system.

Promises: only the system directories (/usr, /bin, /lib…) and a short list of harmless /etc
files are visible, read-only; the workspace is the only writable host directory (bound at
/workspace), besides a prepared environment while setup builds it (bound at /devbot-env,
read-only in every other command; its links are symbolic links); /tmp and HOME are a
private tmpfs; no network (its own, empty network namespace, so not even the host's
127.0.0.1); its own pid namespace, dying with devbot; all capabilities dropped; an
allowlisted environment. Memory, CPU and process count are capped by a per-command cgroup
where devbot may create one, else by rlimits (prlimit); the largest file by RLIMIT_FSIZE and
the workspace's (and a building environment's) growth by the disk watcher (`quota`).

The sandbox is never root on the host. It has its own user namespace, which may not create
another (`--disable-userns`), and a seccomp filter (`seccomp`) denying mount, namespace,
keyring, bpf, ptrace and other kernel-facing calls. `/proc/sys`, `/proc/sysrq-trigger`,
`/proc/irq`, `/proc/bus` and `/proc/fs` are read-only and the files Docker masks
(`/proc/kcore`, `/proc/keys`, `/proc/timer_list`…) are hidden. When devbot runs as root,
bwrap itself runs as `sandbox_uid` (setpriv), so the namespace maps an unprivileged uid: uid 0
inside would be uid 0 outside, able to write /proc/sys (kernel.core_pattern runs a program on
the host). The wrapper does, as root: `unshare --mount` (private propagation), then in that
namespace join the cgroup, bind the workspace (and the environment) onto fresh directories
under /tmp, set the rlimits, drop to `sandbox_uid` and exec bwrap, which binds them at
/workspace (and /devbot-env) (the cgroup join and the bind need root; the unshared
namespace keeps the bind private to the command). The bind is what lets the unprivileged
bwrap reach a workspace under a directory it may not traverse (a repository under /root,
mode 700): bwrap resolves bind sources as its own user, and `--bind-fd` fails there too
("Can't find source path /proc/self/fd/N: Permission denied"). Its cost:
bench/results/security_sandbox.md. When devbot is not root, bwrap maps the invoking user,
with the same filter and /proc rules.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from devbot.sandbox.base import ENV_ROOT, MIB, CommandResult, EnvironmentMount, ResourceLimits
from devbot.sandbox.cgroups import Cgroup, create_cgroup
from devbot.sandbox.env import SANDBOX_PATH, sandbox_environment, with_mount
from devbot.sandbox.notes import with_limit_notes
from devbot.sandbox.ownership import DEFAULT_SANDBOX_UID, Identity, hand_over, sandbox_identity
from devbot.sandbox.process import run_process
from devbot.sandbox.quota import DiskWatch, watch_environment
from devbot.sandbox.seccomp import filter_program

WORKDIR = "/workspace"
HOME = "/tmp"
MOUNT_BASE = "/tmp"
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
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROC_MASKED_FILES = ("kcore", "keys", "timer_list", "timer_stats", "latency_stats", "sched_debug")
PROC_MASKED_DIRS = ("acpi", "asound", "scsi")
"""Docker's readonlyPaths and maskedPaths under /proc (those this kernel has)."""
UTIL_LINUX = "util-linux (Debian: apt-get install util-linux mount)"


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
        sandbox_uid: int = DEFAULT_SANDBOX_UID,
        environment: EnvironmentMount | None = None,
    ) -> None:
        self.extra_env_names = tuple(extra_env_names)
        self.environment = environment
        self.limits = limits or ResourceLimits()
        self.max_output_chars = max_output_chars
        found = executable or bwrap_path()
        if found is None:
            raise FileNotFoundError("bwrap is not installed (Debian: apt-get install bubblewrap)")
        self.executable = found
        self.identity = sandbox_identity(sandbox_uid)
        self.tools = _tools(
            ("prlimit", "setpriv", "unshare", "mount") if self.identity else ("prlimit",)
        )
        self.seccomp = filter_program()

    def argv(
        self,
        command: str,
        source: str,
        seccomp_fd: int,
        *,
        network: bool = False,
        environment_source: str | None = None,
    ) -> list[str]:
        """The bwrap command line: `source` is bound at /workspace, the prepared environment
        (from `environment_source`, by default its own folder) at ENV_ROOT, the filter read
        from `seccomp_fd`."""
        args = [self.executable, "--unshare-all", "--unshare-user", "--disable-userns"]
        if network:
            args.append("--share-net")
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        args += ["--seccomp", str(seccomp_fd), "--hostname", "devbot-sandbox"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", *proc_protection(), "--dev", "/dev"]
        args += ["--size", str(self.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        args += ["--bind", source, WORKDIR]
        mount = self.environment
        if mount is not None:
            bind = "--bind" if mount.writable else "--ro-bind"
            args += [bind, environment_source or str(mount.source), ENV_ROOT]
            for name, place in mount.links:
                args += ["--symlink", f"{ENV_ROOT}/{name}", place]
        args += ["--chdir", WORKDIR]
        return [*args, "--", "bash", "-c", command]

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult:
        workspace = workspace.resolve()
        env = sandbox_environment(self.extra_env_names, HOME, path=SANDBOX_PATH)
        before = hand_over(workspace, self.identity)
        stop = threading.Event()
        mount = self.environment
        folders = [str(workspace), *([str(mount.source)] if mount else [])]
        with contextlib.ExitStack() as resources:
            seccomp_fd = resources.enter_context(_readable(self.seccomp))
            points = [resources.enter_context(_mount_point()) for _ in folders if self.identity]
            binds = list(zip(folders, points, strict=True)) if points else []
            sources = points or folders
            inner = self.argv(
                command,
                sources[0],
                seccomp_fd,
                network=network,
                environment_source=sources[1] if mount else None,
            )
            cgroup = create_cgroup(self.limits)
            argv = self._wrapped(inner, cgroup, binds)
            limit = self.limits.disk_bytes
            with (
                DiskWatch(workspace, before, limit, stop.set) as disk,
                watch_environment(mount, limit, stop.set) as environment_disk,
            ):
                try:
                    result = run_process(
                        argv,
                        Path("/"),
                        with_mount(env, mount),
                        timeout_s,
                        self.max_output_chars,
                        on_kill=(lambda _pid: cgroup.kill_all()) if cgroup else None,
                        pass_fds=(seccomp_fd,),
                        stop=stop,
                    )
                    oom = cgroup.oom_kills() if cgroup else 0
                    refused = cgroup.forks_refused() if cgroup else 0
                finally:
                    if cgroup is not None:
                        cgroup.remove()
        return with_limit_notes(
            result,
            self.limits,
            timeout_s,
            oom_kills=oom,
            forks_refused=refused,
            disk=disk.overrun,
            environment_disk=environment_disk.overrun if environment_disk else None,
        )

    def _wrapped(
        self, inner: list[str], cgroup: Cgroup | None, binds: Sequence[tuple[str, str]]
    ) -> list[str]:
        """`inner` behind what runs before it: the mount namespace, cgroup join and the
        (host folder, mount point) binds (as root), the rlimits, and the drop to the
        sandbox's uid."""
        limits = self.limits
        argv = [self.tools["prlimit"], f"--fsize={limits.disk_bytes}", "--core=0"]
        if cgroup is None:
            argv += [f"--nproc={limits.pids}", f"--as={limits.memory_mb * MIB}"]
        argv.append("--")
        if self.identity is not None:
            argv += _drop_to(self.tools["setpriv"], self.identity)
        argv += inner
        script = ""
        if cgroup is not None:
            script = "".join(f"echo $$ > {shlex.quote(str(p))}; " for p in cgroup.procs_files)
        for _ in binds:
            script += f'{shlex.quote(self.tools["mount"])} --bind -- "$1" "$2"; shift 2; '
        pairs = [path for pair in binds for path in pair]
        if script:
            argv = ["/bin/sh", "-c", f'set -e; {script}exec "$@"', "sh", *pairs, *argv]
        if binds:
            argv = [self.tools["unshare"], "--mount", "--propagation", "private", "--", *argv]
        return argv


def proc_protection(proc: Path = Path("/proc")) -> list[str]:
    """bwrap options, after `--proc`, that make /proc's dangerous parts read-only or hidden."""
    args: list[str] = []
    for name in PROC_READ_ONLY:
        if (proc / name).exists():
            args += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    for name in PROC_MASKED_FILES:
        if (proc / name).exists():
            args += ["--ro-bind", os.devnull, f"/proc/{name}"]
    for name in PROC_MASKED_DIRS:
        if (proc / name).is_dir():
            args += ["--tmpfs", f"/proc/{name}", "--remount-ro", f"/proc/{name}"]
    return args


def _drop_to(setpriv: str, identity: Identity) -> list[str]:
    uid, gid = str(identity.uid), str(identity.gid)
    return [setpriv, "--reuid", uid, "--regid", gid, "--clear-groups", "--"]


def _tools(names: Sequence[str]) -> dict[str, str]:
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise FileNotFoundError(f"the bwrap backend needs {', '.join(missing)} from {UTIL_LINUX}")
    return {name: path for name, path in found.items() if path is not None}


@contextlib.contextmanager
def _readable(data: bytes) -> Iterator[int]:
    """A pipe's read end holding `data` (for `bwrap --seccomp FD`, which reads it to EOF)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, data)
    finally:
        os.close(write_fd)
    try:
        yield read_fd
    finally:
        os.close(read_fd)


@contextlib.contextmanager
def _mount_point() -> Iterator[str]:
    """An empty directory the workspace is bound onto, in the command's own mount namespace."""
    path = tempfile.mkdtemp(prefix="devbot-sb-", dir=MOUNT_BASE)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(path)
