"""The workspace survives the worker: a run's worktree kept in the run database after each
step that may change it, and put back on the machine that takes the run over.

Kept inside the step, before DBOS records it: the checkpoint is always at least as new as
the last recorded step, exactly like a worktree that survived on its own machine (a step
cut short runs again on the state it left, as it would there). What is kept is what git
would commit — tracked and untracked files, not ignored ones, no nested repository — as a
snapshot commit on top of HEAD, with the run's own commits under it, packed (thin, against
the commit the run started from, which is on the remote) in one row of the run database.
A step that changed nothing writes nothing.

Why the database and not a hidden ref on the remote: nothing reaches the remote before the
change-set guard has passed the run's commits (a checkpoint there would publish workflow
changes or links out of the tree the guard is about to refuse, and everything the agent
wrote mid-run, to every reader of the repository); a row costs milliseconds where a push
costs a round trip to the forge per step; and the checkpoint lives and dies with the run's
other records. See ARCHITECTURE.md.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TypeVar

from devbot.runs.flows import worktree as worktrees
from devbot.runs.state.checkpoints import Checkpoint, Checkpoints
from devbot.vcs.git import Git
from devbot.vcs.mirrors import LocalRepository

T = TypeVar("T")
MAX_PACK_BYTES = 256 * 1024**2
"""A bigger worktree change is not kept: a takeover elsewhere then fails with the reason."""
RESTORING = ".restoring-"
log = logging.getLogger("devbot.checkpoint")


class WorkspaceLost(RuntimeError):
    """The run's worktree is gone although recorded steps already changed it."""


class WorkspaceKeeper:
    """Keeps one run's worktree (`tree`) in `checkpoints`; `base` is the commit the run
    started from."""

    def __init__(self, checkpoints: Checkpoints, run_id: str, tree: Git, base: str) -> None:
        self.checkpoints, self.run_id, self.tree, self.base = checkpoints, run_id, tree, base
        self._last: tuple[str, str] | None = None

    def after(self, value: T) -> T:
        """Keep the worktree, then hand `value` (a step's result) on."""
        self.keep()
        return value

    def keep(self) -> None:
        tree = self.tree.work_tree_object()
        head = self.tree.head_sha()
        if (tree, head) == self._last:
            return
        snapshot = self.tree.snapshot(tree, f"devbot: checkpoint of run {self.run_id}\n")
        pack = self.tree.pack(snapshot.commit, self.base)
        self._last = (tree, head)
        if len(pack) > MAX_PACK_BYTES:
            log.warning("run %s: worktree change too large to checkpoint", self.run_id)
            self.checkpoints.delete(self.run_id)  # an older one would restore the wrong tree
            return
        branch = self.tree.current_branch()
        self.checkpoints.save(
            Checkpoint(self.run_id, branch, self.base, head, snapshot.commit, tree, pack)
        )


def restoring(worktree: Path) -> bool:
    """Whether a restore of `worktree` was cut short (what is there is not to be trusted)."""
    return _marker(worktree).exists()


def restore(local: LocalRepository, worktree: Path, checkpoint: Checkpoint) -> None:
    """Build `worktree` from `checkpoint`: the branch (or detached HEAD) at the kept HEAD,
    the files exactly as kept. WorkspaceLost when the commit it builds on is not here even
    after a fetch (the remote lost it)."""
    marker = _marker(worktree)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    with local.synced() as git:
        discard(git, worktree)
        if not git.has_commit(checkpoint.base):
            raise WorkspaceLost(
                f"the run's checkpoint builds on {checkpoint.base[:10]}, which the remote no "
                "longer has; `devbot runs retry` starts the run anew"
            )
        git.unpack(checkpoint.pack)
        if checkpoint.branch:
            worktrees.release(git, checkpoint.branch)
            git.run(
                "worktree",
                "add",
                "--force",
                "-B",
                checkpoint.branch,
                str(worktree),
                checkpoint.head,
            )
        else:
            git.add_detached_worktree(worktree, checkpoint.head)
        git.worktree(worktree).put_snapshot(checkpoint.snapshot)
    marker.unlink()


def discard(git: Git, worktree: Path) -> None:
    """Remove what is at `worktree` (a restore cut short) and git's record of it."""
    if worktree.exists():
        shutil.rmtree(worktree, ignore_errors=True)
    git.run("worktree", "prune")


def _marker(worktree: Path) -> Path:
    return worktree.parent / f"{RESTORING}{worktree.name}"
