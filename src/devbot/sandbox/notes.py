"""Say in a command's output which limit stopped it, so neither model nor person guesses."""

from __future__ import annotations

from dataclasses import replace

from devbot.sandbox.base import MIB, CommandResult, ResourceLimits
from devbot.sandbox.quota import Overrun
from devbot.sandbox.tree import MAX_DEPTH
from devbot.templating import render


def with_limit_notes(
    result: CommandResult,
    limits: ResourceLimits,
    timeout_s: float,
    *,
    oom_kills: int = 0,
    forks_refused: int = 0,
    disk: Overrun | None = None,
    environment_disk: Overrun | None = None,
) -> CommandResult:
    """`result` with one line appended per limit that was hit."""
    notes = []
    if oom_kills:
        notes.append(_note("limit_memory.txt", count=oom_kills, limit=limits.memory_mb))
    if forks_refused:
        notes.append(_note("limit_pids.txt", count=forks_refused, limit=limits.pids))
    if disk is not None and disk.unmeasured:
        notes.append(
            _note(
                "limit_disk_unmeasured.txt",
                depth=MAX_DEPTH,
                limit=limits.disk_mb,
                removed=disk.removed,
            )
        )
    elif disk is not None:
        added = f"{disk.added_bytes / MIB:.0f}"
        notes.append(
            _note("limit_disk.txt", added=added, limit=limits.disk_mb, removed=disk.removed)
        )
    if environment_disk is not None:
        added = f"{environment_disk.added_bytes / MIB:.0f}"
        notes.append(_note("limit_disk_environment.txt", added=added, limit=limits.disk_mb))
    if result.timed_out:
        notes.append(_note("limit_time.txt", seconds=f"{timeout_s:g}"))
    if not notes:
        return result
    output = result.output
    if output and not output.endswith("\n"):
        output += "\n"
    return replace(result, output=output + "\n".join(notes) + "\n")


def _note(template: str, **values: object) -> str:
    return render("devbot.sandbox", template, **values).strip()
