"""`devbot sandbox check | exec | build-image`: see, use and build the sandbox."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devbot.config import load_settings
from devbot.outward import outward
from devbot.sandbox import build_sandbox, choose_backend
from devbot.sandbox.check import run_checks
from devbot.sandbox.docker import DockerUnavailable
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
    return 1 if failed else 0
