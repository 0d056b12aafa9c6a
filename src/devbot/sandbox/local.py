"""Run a command as a plain local subprocess: no isolation, only a clean environment.

The child sees an allowlisted environment (never tokens or keys), HOME is the workspace, and
the whole process group dies with the command or its timeout. Nothing else is contained:
the command can read and write anything this user can, and reach any network.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from devbot.sandbox.base import CommandResult
from devbot.sandbox.env import ALLOWED_ENV, sandbox_environment
from devbot.sandbox.process import TIMEOUT_EXIT_CODE, run_process

__all__ = ["ALLOWED_ENV", "TIMEOUT_EXIT_CODE", "LocalSandbox"]


class LocalSandbox:
    """Runs `bash -c COMMAND` (or `sh -c` without bash) in the workspace on this machine."""

    name = "local"
    isolated = False

    def __init__(self, extra_env_names: Sequence[str] = (), max_output_chars: int = 20_000) -> None:
        self.extra_env_names = tuple(extra_env_names)
        self.max_output_chars = max_output_chars

    def environment(self, workspace: Path) -> dict[str, str]:
        """The child's whole environment: the allowlist, TERM=dumb and HOME=workspace."""
        return sandbox_environment(self.extra_env_names, str(workspace))

    def run(
        self, command: str, workspace: Path, timeout_s: float, *, network: bool = False
    ) -> CommandResult:
        shell = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
        return run_process(
            [shell, "-c", command],
            workspace,
            self.environment(workspace),
            timeout_s,
            self.max_output_chars,
        )
