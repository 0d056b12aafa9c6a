"""Choose the backend: the one the settings name, or for "auto" the strongest that works here.

"auto" takes docker when an engine answers and has the image, else bwrap on Linux when it
is installed and can create its namespaces, else refuses: running unisolated must be a
choice (`sandbox = "local"`), never a silent fallback.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devbot.config import ConfigError, Settings
from devbot.sandbox.base import EnvironmentMount, ResourceLimits, Sandbox
from devbot.sandbox.bwrap import BwrapSandbox, bwrap_path
from devbot.sandbox.docker import DockerSandbox, DockerUnavailable, docker_client, has_image
from devbot.sandbox.local import LocalSandbox
from devbot.sandbox.ownership import DEFAULT_SANDBOX_UID
from devbot.sandbox.seccomp import UnsupportedArchitecture
from devbot.templating import render

PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Choice:
    """The backend to use and why, in one sentence for people."""

    backend: str
    reason: str


def resource_limits(settings: Settings) -> ResourceLimits:
    return ResourceLimits(
        memory_mb=settings.sandbox_memory_mb,
        cpus=settings.sandbox_cpus,
        pids=settings.sandbox_pids,
        disk_mb=settings.sandbox_disk_mb,
    )


def docker_status(image: str) -> tuple[bool, str]:
    """Whether docker can be used with `image`, and what was found."""
    try:
        client = docker_client()
    except DockerUnavailable as exc:
        return False, str(exc)
    if not has_image(client, image):
        return False, (
            f"a Docker engine answers but has no image {image!r}"
            " (build it: devbot sandbox build-image)"
        )
    return True, f"a Docker engine answers and has the image {image!r}"


def bwrap_status(sandbox_uid: int = DEFAULT_SANDBOX_UID) -> tuple[bool, str]:
    """Whether bwrap is installed here and can build its whole sandbox (one `true` in it)."""
    if not sys.platform.startswith("linux"):
        return False, "bubblewrap needs Linux"
    path = bwrap_path()
    if path is None:
        return False, "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        sandbox = BwrapSandbox(sandbox_uid=sandbox_uid)
    except (FileNotFoundError, UnsupportedArchitecture) as exc:
        return False, str(exc)
    with tempfile.TemporaryDirectory(prefix="devbot-probe-") as tmp:
        probe = sandbox.run("true", Path(tmp), PROBE_TIMEOUT_S)
    if probe.exit_code != 0:
        return False, f"bwrap cannot create its sandbox here: {probe.output.strip()}"
    return True, f"bubblewrap works ({path})"


def choose_backend(settings: Settings) -> Choice:
    """The backend for `settings.sandbox`; ConfigError when it cannot work on this machine."""
    wanted = settings.sandbox
    if wanted not in ("auto", "docker", "bwrap", "local"):
        raise ConfigError(f"sandbox = {wanted}: choose auto, docker, bwrap or local")
    docker_why = "not tried"
    if wanted == "local":
        return Choice("local", "sandbox = local: commands run unisolated on this machine")
    if wanted in ("auto", "docker"):
        ok, why = docker_status(settings.sandbox_image)
        if ok:
            return Choice("docker", why)
        if wanted == "docker":
            raise ConfigError(f"sandbox = docker, but {why}")
        docker_why = why
    if wanted in ("auto", "bwrap"):
        ok, why = bwrap_status(settings.sandbox_uid)
        if ok:
            prefix = f"{docker_why}; " if wanted == "auto" else ""
            return Choice("bwrap", prefix + why)
        if wanted == "bwrap":
            raise ConfigError(f"sandbox = bwrap, but {why}")
    reasons = f"  - docker: {docker_why}\n  - bwrap: {why}"
    raise ConfigError(render("devbot.sandbox", "refusal.txt", reasons=reasons).rstrip())


def build_sandbox(
    settings: Settings, backend: str, environment: EnvironmentMount | None = None
) -> Sandbox:
    """An instance of `backend` ("docker", "bwrap" or "local") configured by `settings`,
    with a prepared `environment` mounted (isolated backends only)."""
    extra = settings.extra_env_names
    limits = resource_limits(settings)
    uid = settings.sandbox_uid
    if backend == "docker":
        image = settings.sandbox_image
        return DockerSandbox(image, extra, limits, sandbox_uid=uid, environment=environment)
    if backend == "bwrap":
        return BwrapSandbox(extra, limits, sandbox_uid=uid, environment=environment)
    if backend == "local":
        if environment is not None:
            raise ConfigError("the local backend runs on the host and mounts no environment")
        return LocalSandbox(extra)
    raise ConfigError(f"unknown sandbox backend {backend!r}")


def make_sandbox(settings: Settings) -> Sandbox:
    """The sandbox the settings ask for (resolving "auto" on this machine)."""
    return build_sandbox(settings, choose_backend(settings).backend)
