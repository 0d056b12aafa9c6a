"""What a sandbox promises: run one command in a workspace and report what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command. `output` is stdout+stderr interleaved, already clipped."""

    exit_code: int
    output: str
    timed_out: bool = False
    duration_s: float = 0.0


class Sandbox(Protocol):
    """Runs shell commands with the workspace as working directory."""

    name: str

    def run(self, command: str, workspace: Path, timeout_s: float) -> CommandResult: ...
