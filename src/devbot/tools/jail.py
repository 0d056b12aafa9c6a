"""Keep every path the model names inside the workspace and out of every `.git`.

A path is checked twice: as written (no absolute paths, no `..` above the root, no component
named `.git` at any depth) and as the file system will follow it (no symbolic link leading out
of the root or to a path with a `.git` component). A nested `.git` is refused like the top one:
host git would run what its config says (core.fsmonitor, hooks) for any repository it finds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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
    (so a link can be deleted), but each one on the way must lead back into the root and not
    into a `.git`. The path need not exist yet.
    """
    if relative == "" or relative.isspace():
        raise PathOutsideWorkspace(relative, "empty")
    if "\0" in relative:
        raise PathOutsideWorkspace("", "nul")
    if os.path.isabs(relative):
        raise PathOutsideWorkspace(relative, "absolute")
    parts = _normalise(relative)
    if has_git_part(parts):
        raise PathOutsideWorkspace(relative, "git")
    base = Path(os.path.realpath(root))
    candidate = base.joinpath(*parts)
    followed = Path(os.path.realpath(candidate))
    if not followed.is_relative_to(base):
        raise PathOutsideWorkspace(relative, "symlink")
    if has_git_part(followed.relative_to(base).parts):
        raise PathOutsideWorkspace(relative, "git")
    return candidate


def has_git_part(parts: Iterable[str]) -> bool:
    """Whether a path component is `.git` in any case, or as Windows would read it
    (trailing dots and spaces dropped)."""
    return any(part.casefold().rstrip(". ") == ".git" for part in parts)


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
