"""The plan and the REPORT a branch holds, as devbot reads them on the host.

The branch is not trusted: only regular files inside the worktree count; a plan folder,
report or plan that is a symbolic link out of the worktree is ignored.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from devbot.config import Settings
from devbot.plans.plan import Plan, parse_plan_text
from devbot.plans.report import parse_report
from devbot.tools.inside import inside_path, read_inside
from devbot.tools.jail import PathOutsideWorkspace


def find_report(worktree: Path, plan_dirs: tuple[str, ...]) -> tuple[str, str]:
    """(plan path, report path) of the newest REPORT on the branch; ("", "") when none.

    Only regular files inside the worktree count: a plan folder, report or plan that is a
    symbolic link out of the worktree is ignored (the branch is not trusted)."""
    reports: list[str] = []
    for folder in plan_dirs:
        try:
            real = inside_path(worktree, folder)
        except PathOutsideWorkspace:
            continue
        if real.is_dir():
            reports += [f"{folder}/{p.name}" for p in real.glob("*__REPORT__*.md")]
    for report_rel in sorted(reports, key=lambda rel: PurePosixPath(rel).name, reverse=True):
        try:
            plan_rel = parse_report(read_inside(worktree, report_rel)).plan_file
        except (OSError, ValueError):
            continue
        if plan_rel and _plan_text(worktree, plan_rel) is None:
            plan_rel = ""
        return plan_rel, report_rel
    return "", ""


def _plan_text(worktree: Path, plan_rel: str) -> str | None:
    try:
        return read_inside(worktree, plan_rel)
    except (OSError, ValueError):
        return None


def read_plan(worktree: Path, plan_rel: str, settings: Settings) -> Plan:
    text = read_inside(worktree, plan_rel, settings.max_plan_bytes)
    return parse_plan_text(text, worktree / plan_rel, settings.max_plan_bytes)
