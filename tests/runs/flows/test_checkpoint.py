"""A worktree kept in the run database comes back on another machine exactly as it was.

Two workers are two state folders with their own mirrors of one bare origin; nothing but
the run database (SQLite here) passes between them.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from devbot.runs.flows import worktree as worktrees
from devbot.runs.flows.checkpoint import WorkspaceKeeper, restore
from devbot.runs.state.checkpoints import Checkpoints
from devbot.vcs.mirrors import LocalRepository, MirrorCache
from devbot.vcs.repository import Repository
from tests.fixtures.repo import OriginRepo


def _files(root: Path) -> dict[str, tuple[str, int]]:
    """Path -> (content or link target, mode bits) of everything but `.git`."""
    found: dict[str, tuple[str, int]] = {}
    for directory, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f != ".git"]
        for name in names:
            path = Path(directory) / name
            if name == ".git":
                continue
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[key] = (f"-> {os.readlink(path)}", 0)
            else:
                found[key] = (path.read_bytes().hex(), path.stat().st_mode & 0o777)
    return found


def _mirror(root: Path, origin: OriginRepo) -> LocalRepository:
    return MirrorCache(root / "mirrors").mirror(Repository(str(origin.bare)), None)


def test_a_worktree_with_commits_and_every_kind_of_change_is_restored_elsewhere(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    checkpoints = Checkpoints(sa.create_engine(f"sqlite:///{tmp_path / 'runs.sqlite'}"))
    first = _mirror(tmp_path / "worker-1", origin_repo)
    here = tmp_path / "worker-1" / "worktrees" / "run-1"
    with first.synced() as git:
        checkout = worktrees.check_out(
            git, here, remote="origin", base_branch=None, new_branch="devbot/x"
        )
    tree = first.git.worktree(here)
    (here / "committed.txt").write_text("in a commit\n")
    tree.commit_all("devbot: work")
    (here / "utils.py").write_text("changed\n")
    (here / "README.md").unlink()
    (here / "new" / "deep").mkdir(parents=True)
    (here / "new" / "deep" / "file.bin").write_bytes(bytes(range(256)))
    (here / "run.sh").write_text("#!/bin/sh\n")
    (here / "run.sh").chmod(0o755)
    os.symlink("utils.py", here / "link")
    keeper = WorkspaceKeeper(checkpoints, "run-1", tree, checkout.base_sha)
    keeper.keep()
    keeper.keep()  # nothing changed: the same checkpoint

    second = _mirror(tmp_path / "worker-2", origin_repo)
    there = tmp_path / "worker-2" / "worktrees" / "run-1"
    kept = checkpoints.get("run-1")
    assert kept is not None and kept.branch == "devbot/x"
    restore(second, there, kept)

    moved = second.git.worktree(there)
    assert _files(there) == _files(here)
    assert moved.head_sha() == tree.head_sha()
    assert moved.current_branch() == "devbot/x"
    assert moved.run("status", "--porcelain") == tree.run("status", "--porcelain")
    assert moved.run("log", "--format=%s", "-1") == "devbot: work"


def test_a_detached_worktree_comes_back_detached(origin_repo: OriginRepo, tmp_path: Path) -> None:
    checkpoints = Checkpoints(sa.create_engine(f"sqlite:///{tmp_path / 'runs.sqlite'}"))
    first = _mirror(tmp_path / "a", origin_repo)
    here = tmp_path / "a" / "wt"
    with first.synced() as git:
        git.add_detached_worktree(here, "origin/main")
    tree = first.git.worktree(here)
    (here / "hello.txt").write_text("world\n")
    WorkspaceKeeper(checkpoints, "r", tree, tree.head_sha()).keep()
    kept = checkpoints.get("r")
    assert kept is not None and kept.branch == ""
    second = _mirror(tmp_path / "b", origin_repo)
    restore(second, tmp_path / "b" / "wt", kept)
    assert (tmp_path / "b" / "wt" / "hello.txt").read_text() == "world\n"
    assert second.git.worktree(tmp_path / "b" / "wt").current_branch() == ""
