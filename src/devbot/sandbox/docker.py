"""Run a command in a fresh Docker container, through the Python `docker` SDK.

Promises: the workspace is mounted read-write at /workspace and is the only host directory
the container sees, besides a prepared environment at /devbot-env (and its links, such as
/node_modules), read-only except while setup builds it; the root filesystem is read-only,
/tmp (also HOME) a private tmpfs; no network unless asked for (then Docker's bridge, never
the host's); memory (no swap), CPU and process-count limits; every capability dropped and
no-new-privileges, under Docker's default seccomp profile and its read-only /proc/sys; the
wall-time limit kills the container, and with it every process. The sandbox is never root
on the host: when devbot is root, processes run as `sandbox_uid` and the workspace is
handed to that uid before each command (as for bwrap); otherwise they run as the invoking
user (uid:gid), so files keep that ownership.

Output is streamed: devbot attaches to the container before starting it and keeps only the
head and tail (`OutputBuffer`); the log driver is `none`, so the engine keeps no copy
either. RLIMIT_FSIZE caps one file at the disk quota and the disk watcher (`quota`) kills
the container when the workspace grows past it. The SDK is imported lazily: `devbot --help`
and runs on other backends never pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from devbot.sandbox.base import ENV_ROOT, CommandResult, EnvironmentMount, ResourceLimits
from devbot.sandbox.env import SANDBOX_PATH, sandbox_environment, with_mount
from devbot.sandbox.notes import with_limit_notes
from devbot.sandbox.output import OutputBuffer
from devbot.sandbox.ownership import DEFAULT_SANDBOX_UID, hand_over, host_identity, sandbox_identity
from devbot.sandbox.process import DRAIN_TIMEOUT_S, TIMEOUT_EXIT_CODE
from devbot.sandbox.quota import DiskWatch, watch_environment

DEFAULT_IMAGE = "devbot-sandbox:bookworm"
WORKDIR = "/workspace"
HOME = "/tmp"
PING_TIMEOUT_S = 3.0


class DockerUnavailable(RuntimeError):
    """No Docker engine answers, or the image is missing."""


def docker_client(timeout_s: float = PING_TIMEOUT_S) -> Any:
    """A client for the engine `DOCKER_HOST` (or the default socket) names, pinged once."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # pragma: no cover - docker is a pinned dependency
        raise DockerUnavailable(f"the docker Python package is missing: {exc}") from None
    try:
        client = docker.from_env(timeout=max(int(timeout_s), 1))
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(f"no Docker engine answers: {exc}") from None
    return client


def has_image(client: Any, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


class DockerSandbox:
    """Runs `bash -c COMMAND` in a new container of `image`, removed afterwards."""

    name = "docker"
    isolated = True

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        extra_env_names: Sequence[str] = (),
        limits: ResourceLimits | None = None,
        max_output_chars: int = 20_000,
        client: Any = None,
        sandbox_uid: int = DEFAULT_SANDBOX_UID,
        environment: EnvironmentMount | None = None,
    ) -> None:
        self.image = image
        self.environment = environment
        self.extra_env_names = tuple(extra_env_names)
        self.limits = limits or ResourceLimits()
        self.max_output_chars = max_output_chars
        self._client = client
        self.identity = sandbox_identity(sandbox_uid)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def container_options(self, workspace: Path, *, network: bool = False) -> dict[str, Any]:
        """Everything `containers.create` gets besides image and command."""
        limits = self.limits
        memory = f"{limits.memory_mb}m"
        user = self.identity or host_identity()
        fsize = limits.disk_bytes
        env = sandbox_environment(self.extra_env_names, HOME, path=SANDBOX_PATH)
        return {
            "working_dir": WORKDIR,
            "volumes": {
                str(workspace.resolve()): {"bind": WORKDIR, "mode": "rw"},
                **self._environment_volumes(),
            },
            "environment": with_mount(env, self.environment),
            "user": f"{user.uid}:{user.gid}",
            "network_mode": "bridge" if network else "none",
            "mem_limit": memory,
            "memswap_limit": memory,
            "nano_cpus": int(limits.cpus * 1e9),
            "pids_limit": limits.pids,
            "ulimits": [
                {"name": "fsize", "soft": fsize, "hard": fsize},
                {"name": "core", "soft": 0, "hard": 0},
            ],
            "log_config": {"type": "none"},
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "init": True,
            "hostname": "devbot-sandbox",
            "stdin_open": False,
            "tty": False,
            "detach": True,
        }

    def _environment_volumes(self) -> dict[str, dict[str, str]]:
        """The prepared environment at ENV_ROOT and its links (bind mounts: the root
        filesystem is read-only, so no symbolic link can be made there)."""
        mount = self.environment
        if mount is None:
            return {}
        mode = "rw" if mount.writable else "ro"
        volumes = {str(mount.source): {"bind": ENV_ROOT, "mode": mode}}
        for name, place in mount.links:
            volumes[str(mount.source / name)] = {"bind": place, "mode": "ro"}
        return volumes

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult:
        from docker.errors import ImageNotFound
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import ReadTimeout

        started = time.monotonic()
        workspace = workspace.resolve()
        before = hand_over(workspace, self.identity)
        try:
            container = self.client.containers.create(
                self.image,
                ["bash", "-c", command],
                **self.container_options(workspace, network=network),
            )
        except ImageNotFound:
            message = (
                f"devbot sandbox: the Docker image {self.image!r} is missing;"
                " build it with `devbot sandbox build-image`\n"
            )
            return CommandResult(exit_code=125, output=message)
        output = OutputBuffer(self.max_output_chars)
        timed_out = False
        kill = functools.partial(_kill, container)
        limit = self.limits.disk_bytes
        with (
            DiskWatch(workspace, before, limit, kill) as disk,
            watch_environment(self.environment, limit, kill) as environment_disk,
        ):
            try:
                stream = container.attach(stdout=True, stderr=True, stream=True, logs=False)
                reader = threading.Thread(target=_read_into, args=(stream, output), daemon=True)
                reader.start()
                container.start()
                remaining = max(timeout_s - (time.monotonic() - started), 0.01)
                try:
                    status = container.wait(timeout=remaining)
                    exit_code = int(status.get("StatusCode", 1))
                except (ReadTimeout, RequestsConnectionError):
                    timed_out = True
                    _kill(container)
                    exit_code = TIMEOUT_EXIT_CODE
                reader.join(DRAIN_TIMEOUT_S)
                stream.close()
                reader.join(DRAIN_TIMEOUT_S)
                container.reload()
                oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
            finally:
                container.remove(force=True)
        result = CommandResult(
            exit_code=exit_code,
            output=output.text(),
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
        )
        return with_limit_notes(
            result,
            self.limits,
            timeout_s,
            oom_kills=int(oom),
            disk=disk.overrun,
            environment_disk=environment_disk.overrun if environment_disk else None,
        )


def _read_into(stream: Iterable[bytes], output: OutputBuffer) -> None:
    """Feed the attached container's output to `output` until it ends (or is closed)."""
    with contextlib.suppress(OSError, ValueError):
        for chunk in stream:
            output.feed(chunk)


def _kill(container: Any) -> None:
    """Kill `container` if it still runs (the disk watcher and the timeout may both try)."""
    from docker.errors import APIError

    with contextlib.suppress(APIError):
        container.kill()
