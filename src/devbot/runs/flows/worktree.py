"""Give a run its own git worktree: a new branch from the base, or an existing branch.

The user's checkout is never touched. A branch that devbot pushed before is continued from
the remote's tip, so a re-run of a plan (or a feedback run) adds commits on top of what
reviewers saw; local commits the remote lacks (an earlier push failed) are kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devbot.vcs.git import Git, GitError


@dataclass(frozen=True)
class Checkout:
    branch: str
    base_branch: str
    base_sha: str
    reused: bool


def _has_remote(git: Git, remote: str) -> bool:
    return remote in git.run("remote").split()


def release(git: Git, branch: str) -> None:
    """Remove other worktrees that hold `branch` (left by a failed run; commits stay)."""
    path: str | None = None
    for line in git.run("worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            path = line.removeprefix("worktree ")
        elif line == f"branch refs/heads/{branch}" and path and Path(path) != git.work_tree:
            git.remove_worktree(Path(path))


def _sync_local_branch(git: Git, remote: str, branch: str) -> None:
    """Point the local `branch` at the remote's tip unless it holds commits the remote lacks."""
    if not (_has_remote(git, remote) and git.remote_branch_exists(remote, branch)):
        return
    tip = git.fetch(remote, branch)
    if not git.ref_exists(f"refs/heads/{branch}"):
        git.run("branch", "--no-track", branch, tip)
        return
    local = git.run("rev-parse", f"refs/heads/{branch}")
    if local != tip and git.is_ancestor(local, tip):
        git.run("branch", "--force", "--no-track", branch, tip)


def branch_exists(git: Git, remote: str, branch: str) -> bool:
    if git.ref_exists(f"refs/heads/{branch}"):
        return True
    return _has_remote(git, remote) and git.remote_branch_exists(remote, branch)


def check_out(
    git: Git,
    worktree: Path,
    *,
    remote: str,
    base_branch: str | None,
    new_branch: str,
    existing_branch: str | None = None,
    reserve: Callable[[str], None] | None = None,
) -> Checkout:
    """Create (or, after a crash, find) the worktree at `worktree`.

    `existing_branch` is continued when it still exists; otherwise the first free name from
    `new_branch` is created at the tip of the base branch, after `reserve(name)` recorded it
    (so a crash between choosing and creating does not make the next try pick `name-2`).
    """
    base = base_branch or git.default_branch(remote)
    if _has_remote(git, remote):
        git.fetch(remote, base)
        base_ref = f"{remote}/{base}"
    else:
        base_ref = base
    reused = False
    if worktree.exists():
        branch = git.worktree(worktree).run("rev-parse", "--abbrev-ref", "HEAD").strip()
        reused = branch == existing_branch
    elif existing_branch and branch_exists(git, remote, existing_branch):
        branch, reused = existing_branch, True
        release(git, branch)
        _sync_local_branch(git, remote, branch)
        worktree.parent.mkdir(parents=True, exist_ok=True)
        git.attach_worktree(worktree, branch)
    else:
        branch = git.unique_branch(new_branch, remote)
        if reserve is not None:
            reserve(branch)
        worktree.parent.mkdir(parents=True, exist_ok=True)
        git.add_worktree(worktree, branch, base_ref)
    base_sha = git.worktree(worktree).run("merge-base", base_ref, "HEAD").strip()
    return Checkout(branch=branch, base_branch=base, base_sha=base_sha, reused=reused)


def repair_interrupted(git: Git, worktree: Path) -> None:
    """Before a first step runs again: drop a worktree whose creation was cut short, and
    undo a half-done checkout. No agent step ran yet, so nothing of value is lost."""
    if not worktree.exists():
        return
    try:
        git.worktree(worktree).run("rev-parse", "--verify", "HEAD")
    except GitError:
        shutil.rmtree(worktree, ignore_errors=True)
        git.run("worktree", "prune")
        return
    git.worktree(worktree).run("reset", "--hard", "--quiet", "HEAD")


def remove(git: Git, worktree: Path) -> None:
    """Remove a run's worktree once its work is pushed (the branch stays)."""
    if worktree.exists():
        try:
            git.remove_worktree(worktree)
        except GitError:
            shutil.rmtree(worktree, ignore_errors=True)
            git.run("worktree", "prune")


def remote_sha(git: Git, remote: str, branch: str) -> str | None:
    """The sha `branch` has on `remote` now (None when absent or no such remote)."""
    if remote not in git.run("remote").split():
        return None
    listed = git.run("ls-remote", "--heads", remote, f"refs/heads/{branch}").split()
    return listed[0] if listed else None


def push(git: Git, remote: str, sha: str, branch: str) -> None:
    """Push the known `sha` to `branch` (never forced); nothing when the remote has it.

    Raises GitError with git's words when the remote refuses."""
    if remote_sha(git, remote, branch) != sha:
        git.push(remote, sha, branch)
