"""Prepare a repository's environment: reuse the cached one of its key, or build it once.

The key hashes all an environment is made of: the recipe (its command, the files devbot
writes, what commands see), the bytes of its inputs, and the system it runs on — for docker
the image id, for bwrap the host's own tools (resolved path, size and mtime of bash,
python3, node, npm, go, cargo, rustc, and /etc/os-release), since a venv links to the
interpreter it was made with. A build runs the recipe in the chosen sandbox on a copy of
the inputs, with the environment writable at ENV_ROOT and network as asked; only a build
that succeeds is cached.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from devbot.clipping import clip
from devbot.config import Settings
from devbot.sandbox.base import ENV_ROOT, EnvironmentMount
from devbot.sandbox.docker import docker_client
from devbot.sandbox.env import SANDBOX_PATH
from devbot.sandbox.environment.cache import Entry, EnvironmentCache
from devbot.sandbox.environment.inputs import copy_inputs, reader
from devbot.sandbox.environment.recipes import Recipe
from devbot.sandbox.ownership import sandbox_identity
from devbot.sandbox.select import build_sandbox

KEY_VERSION = "1"
KEY_CHARS = 16
OUTPUT_CHARS = 4_000
HOST_TOOLS = ("bash", "python3", "node", "npm", "go", "cargo", "rustc")


@dataclass(frozen=True)
class PreparedEnvironment:
    """What setup did for a recipe (recorded): reused or built, in how long, the build's
    outcome, and what commands mount afterwards (None when the build failed)."""

    recipe: str
    why: str
    key: str
    cached: bool
    seconds: float
    network: bool
    exit_code: int = 0
    timed_out: bool = False
    output: str = ""
    mount: EnvironmentMount | None = None


def prepare_environment(
    recipe: Recipe,
    workspace: Path,
    cache: EnvironmentCache,
    settings: Settings,
    backend: str,
    *,
    network: bool,
    say: Callable[[str], None] = lambda _line: None,
) -> PreparedEnvironment:
    """The environment of `recipe` for the repository checked out at `workspace`."""
    started = time.monotonic()
    key = environment_key(recipe, system_id(settings, backend))
    entry = cache.find(key)
    if entry is None:
        with cache.lock(key):
            entry = cache.find(key)
            if entry is None:
                say(f"environment: building {recipe.name} ({recipe.why})")
                return _build(recipe, key, workspace, cache, settings, backend, network, started)
    seconds = time.monotonic() - started
    say(f"environment: {recipe.name} reused from the cache ({key}, {seconds:.2f}s)")
    return PreparedEnvironment(
        recipe.name, recipe.why, key, True, seconds, network, mount=mount_of(recipe, entry.path)
    )


def environment_key(recipe: Recipe, system: str) -> str:
    hashed = hashlib.sha256(KEY_VERSION.encode())
    for value in (
        recipe.command,
        repr(recipe.files),
        repr((recipe.path, recipe.variables, recipe.links)),
        recipe.digest,
        system,
    ):
        hashed.update(b"\0" + value.encode())
    return hashed.hexdigest()[:KEY_CHARS]


def system_id(settings: Settings, backend: str) -> str:
    """What the sandbox's system is: the docker image's id, or the host's tools for bwrap."""
    if backend == "docker":
        return str(docker_client().images.get(settings.sandbox_image).id)
    parts = [platform.machine(), _read_text("/etc/os-release")]
    for tool in HOST_TOOLS:
        found = shutil.which(tool, path=SANDBOX_PATH)
        if found is not None:
            real = os.path.realpath(found)
            info = os.stat(real)
            parts.append(f"{tool}={real}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def mount_of(recipe: Recipe, folder: Path) -> EnvironmentMount:
    """How commands see the environment in `folder`: read-only, with the PATH entries and
    links of `recipe` that the build made (a link's source must be a real folder, never a
    symbolic link, which docker would resolve on the host)."""
    path = tuple(p for p in recipe.path if (folder / os.path.relpath(p, ENV_ROOT)).is_dir())
    links = tuple((name, place) for name, place in recipe.links if _is_folder(folder / name))
    return EnvironmentMount(folder, False, path, recipe.variables, links)


def _build(
    recipe: Recipe,
    key: str,
    workspace: Path,
    cache: EnvironmentCache,
    settings: Settings,
    backend: str,
    network: bool,
    started: float,
) -> PreparedEnvironment:
    owner = sandbox_identity(settings.sandbox_uid)
    with cache.scratch(key, recipe.files, owner) as scratch:
        copy_inputs(reader(workspace), recipe.inputs, scratch.inputs)
        writable = EnvironmentMount(scratch.environment, True, recipe.path, recipe.variables)
        sandbox = build_sandbox(settings, backend, writable)
        timeout_s = settings.command_timeout_s
        result = sandbox.run(recipe.command, scratch.inputs, timeout_s, network=network)
        built = PreparedEnvironment(
            recipe=recipe.name,
            why=recipe.why,
            key=key,
            cached=False,
            seconds=round(time.monotonic() - started, 3),
            network=network,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            output=clip(result.output, OUTPUT_CHARS),
        )
        if result.exit_code != 0 or result.timed_out:
            return built
        made = Entry(key, recipe.name, recipe.why, time.time(), built.seconds, 0, cache.root)
        entry = cache.commit(key, scratch, made, owner)
    cache.prune(keep=key)
    seconds = time.monotonic() - started
    return replace(built, seconds=seconds, mount=mount_of(recipe, entry.path))


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
