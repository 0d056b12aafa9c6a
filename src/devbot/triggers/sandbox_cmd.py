"""`devbot sandbox check | exec | prepare | build-image`: see, use and build the sandbox and
the repository's prepared environment."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devbot.config import Settings, load_settings
from devbot.outward import outward
from devbot.sandbox import build_sandbox, choose_backend
from devbot.sandbox.check import run_checks
from devbot.sandbox.docker import DockerUnavailable
from devbot.sandbox.environment import (
    ENVIRONMENTS_DIR,
    EnvironmentCache,
    detect_recipe,
    prepare_environment,
)
from devbot.sandbox.environment.prepare import environment_key, system_id
from devbot.sandbox.image import ImageBuildError, build_image
from devbot.sandbox.select import resource_limits
from devbot.vcs.git import Git, GitError


@contextmanager
def scratch_workspace(repo: Path) -> Iterator[Path]:
    """Where `sandbox exec` runs: a throwaway worktree of the repository's HEAD (as a run's
    worktree is), or an empty folder outside a repository; the user's files are never the
    workspace, so nothing a command writes (or a hand-over to the sandbox uid) touches them."""
    with tempfile.TemporaryDirectory(prefix="devbot-exec-") as folder:
        workspace = Path(folder) / "workspace"
        try:
            git = Git.repository(repo)
            git.add_detached_worktree(workspace, "HEAD")
        except GitError:
            workspace.mkdir()
            yield workspace
            return
        try:
            yield workspace
        finally:
            git.remove_worktree(workspace)


def run_sandbox_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    repo = Path(args.repo).resolve()
    settings = load_settings(repo, {key: value for key, value in flags.items() if value})
    if args.sandbox_command == "build-image":
        tag = args.tag or settings.sandbox_image
        try:
            image_id = build_image(tag, args.dockerfile, mirror=args.mirror)
        except (ImageBuildError, DockerUnavailable) as exc:
            print(f"devbot: error: {exc}", file=sys.stderr)
            return 1
        print(f"built {tag} ({image_id})")
        return 0
    choice = choose_backend(settings)
    sandbox = build_sandbox(settings, choice.backend)
    cache = EnvironmentCache(settings.process_state_dir(repo) / ENVIRONMENTS_DIR)
    if args.sandbox_command == "prepare":
        return _prepare(repo, settings, choice.backend, cache)
    if args.sandbox_command == "exec":
        argv = [arg for arg in args.argv]
        if argv and argv[0] == "--":
            argv = argv[1:]
        if not argv:
            print("devbot: error: give a command: devbot sandbox exec -- CMD ...", file=sys.stderr)
            return 2
        command = argv[0] if len(argv) == 1 else shlex.join(argv)
        with scratch_workspace(repo) as workspace:
            result = sandbox.run(command, workspace, settings.command_timeout_s)
        sys.stdout.write(outward(result.output))
        sys.stdout.flush()
        return result.exit_code

    print(f"backend: {choice.backend} ({choice.reason})")
    probes = run_checks(sandbox, resource_limits(settings))
    for probe in probes:
        print(f"{'PASS' if probe.passed else 'FAIL'}  {probe.promise}: {probe.detail}")
    failed = sum(not probe.passed for probe in probes)
    if not sandbox.isolated:
        print("the local backend isolates nothing: these failures are expected")
    print(f"{len(probes) - failed} of {len(probes)} promises hold")
    _show_environments(repo, settings, choice.backend, cache)
    return 1 if failed else 0


def _prepare(repo: Path, settings: Settings, backend: str, cache: EnvironmentCache) -> int:
    """Build (or find) the environment the next run of HEAD starts from."""
    if settings.setup_command:
        print(f"setup_command is set ({settings.setup_command!r}): runs run it, not a recipe")
        return 0
    if backend == "local":
        print("the local backend uses the host's tools: there is no environment to prepare")
        return 0
    network = settings.sandbox_network in ("setup", "all")
    with scratch_workspace(repo) as workspace:
        recipe = detect_recipe(workspace, settings.test_command)
        if recipe is None:
            print("nothing to prepare: HEAD declares no manifest devbot knows (see README)")
            return 0
        prepared = prepare_environment(
            recipe, workspace, cache, settings, backend, network=network, say=print
        )
    if prepared.mount is None:
        how = "timed out" if prepared.timed_out else f"exit {prepared.exit_code}"
        sys.stdout.write(outward(prepared.output))
        print(f"devbot: error: setup of {prepared.recipe} failed ({how}); nothing was cached")
        return 1
    verb = "reused" if prepared.cached else f"built in {prepared.seconds:.1f}s"
    print(f"environment {prepared.key}: {prepared.recipe} ({prepared.why}), {verb}")
    return 0


def _show_environments(
    repo: Path, settings: Settings, backend: str, cache: EnvironmentCache
) -> None:
    """What the cache holds, and whether HEAD's environment is among it."""
    entries = cache.entries()
    print(f"environments cached in {cache.root}: {len(entries)}")
    for entry in entries:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.used_at))
        print(
            f"  {entry.key}  {entry.recipe:<12} {entry.size_bytes / 1024**2:8.1f} MB"
            f"  built in {entry.build_s:.1f}s  last used {used}"
        )
    if backend == "local" or settings.setup_command:
        return
    with scratch_workspace(repo) as workspace:
        recipe = detect_recipe(workspace, settings.test_command)
    if recipe is None:
        print("HEAD declares nothing to prepare")
        return
    key = environment_key(recipe, system_id(settings, backend))
    state = "cached" if cache.find(key, touch=False) else "not cached (devbot sandbox prepare)"
    print(f"HEAD needs {recipe.name} ({recipe.why}): {key} {state}")
