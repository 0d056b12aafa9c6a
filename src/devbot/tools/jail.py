"""Keep every path the model names inside the workspace.

A path is checked twice: as written (no absolute paths, no `..` above the root, nothing in
`.git`) and as the file system will follow it (no symbolic link leading out of the root).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from devbot.templating import render


class PathOutsideWorkspace(ValueError):
    """A path breaks one of the jail's rules; the message names the rule for the model."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(render("devbot.tools", f"jail_{rule}.txt", path=path).strip())


def resolve_in_workspace(root: Path, relative: str) -> Path:
    """Return the absolute path `relative` names inside `root`, or raise PathOutsideWorkspace.

    The result has no `.` or `..` parts; symbolic links inside the root are kept as written
    (so a link can be deleted), but each one on the way must lead back into the root. The path
    need not exist yet.
    """
    if relative == "" or relative.isspace():
        raise PathOutsideWorkspace(relative, "empty")
    if "\0" in relative:
        raise PathOutsideWorkspace("", "nul")
    if os.path.isabs(relative):
        raise PathOutsideWorkspace(relative, "absolute")
    parts = _normalise(relative)
    if parts and parts[0] == ".git":
        raise PathOutsideWorkspace(relative, "git")
    base = Path(os.path.realpath(root))
    candidate = base.joinpath(*parts)
    followed = Path(os.path.realpath(candidate))
    if not followed.is_relative_to(base):
        raise PathOutsideWorkspace(relative, "symlink")
    inside = followed.relative_to(base).parts
    if inside and inside[0] == ".git":
        raise PathOutsideWorkspace(relative, "git")
    return candidate


def _normalise(relative: str) -> list[str]:
    """Resolve `.` and `..` lexically; a `..` above the root is refused."""
    parts: list[str] = []
    for part in PurePosixPath(relative).parts:
        if part == "..":
            if not parts:
                raise PathOutsideWorkspace(relative, "parent")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return parts
