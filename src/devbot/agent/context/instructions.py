"""The repository's instruction files for agents, nearest to the files in play first.

A plain name (`AGENTS.md`, `CLAUDE.md`) is looked for in every folder: the folders of the
files the task is about, innermost first, then their parents up to the root. A name with a
folder (`.github/copilot-instructions.md`) is one file at that path. Names match in any case.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath


def instruction_files(
    files: Sequence[str], names: Sequence[str], in_play: Sequence[str]
) -> list[str]:
    """The instruction files among `files`, in the order they should be read."""
    by_folder: dict[tuple[str, str], str] = {}
    by_path = {path.lower(): path for path in files}
    for path in files:
        pure = PurePosixPath(path)
        by_folder[(str(pure.parent), pure.name.lower())] = path
    plain = [name.lower() for name in names if "/" not in name]
    found: list[str] = []
    for folder in _folders_nearest_first(in_play):
        found += [by_folder[(folder, n)] for n in plain if (folder, n) in by_folder]
    found += [by_path[name.lower()] for name in names if "/" in name and name.lower() in by_path]
    return list(dict.fromkeys(found))


def _folders_nearest_first(in_play: Sequence[str]) -> list[str]:
    """Each in-play file's folder and its parents, innermost first, the root last."""
    folders: list[str] = []
    for path in in_play:
        parent = PurePosixPath(path).parent
        folders += [str(parent), *(str(p) for p in parent.parents)]
    ordered = [folder for folder in dict.fromkeys(folders) if folder != "."]
    return [*ordered, "."]
