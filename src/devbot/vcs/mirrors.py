"""A worker's own cache of repositories: one bare mirror per remote, under its state folder.

    <state>/mirrors/<name>-<hash>.git     the mirror: a bare repository whose remote `origin`
                                          is the repository's URL; branches of the remote
                                          in refs/remotes/origin/*, the runs' own branches
                                          in refs/heads/*, their worktrees in worktrees/
    <state>/mirrors/<name>-<hash>.lock    held (flock) while git changes what runs share:
                                          fetch, branches, worktrees, push
    <state>/mirrors/<name>-<hash>.used    its mtime is the mirror's last use

A run's worktree comes from the mirror, which is fetched (under the lock) before each run,
so concurrent runs of one repository on one worker share the objects and never race on a
ref: fetches are serialised, each run has its own worktree and branch. Commits inside a
worktree touch only that worktree's index and branch and need no lock.

A process that serves a checkout (`devbot run` in it) uses the checkout itself the same way
(`LocalRepository.checkout`), with its lock under the checkout's `.devbot/`.

Mirrors unused for `max_age_s`, then the least recently used beyond `max_bytes` together, are
removed by `prune`; a mirror with a worktree or whose lock is held is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devbot.vcs.git import Git, RemoteAuth
from devbot.vcs.repository import Repository

MIRRORS_DIR = "mirrors"
MIRROR_REMOTE = "origin"
"""The name of the remote inside every mirror."""


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive flock on `path` (created if missing) while the block runs; yields
    False at once, holding nothing, when `wait` is False and someone else holds it. Each
    call opens the file anew, so threads of one process exclude each other too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class LocalRepository:
    """The repository this process makes a run's worktrees from, with the lock that
    serialises what concurrent runs share in it."""

    git: Git
    remote: str
    lock_path: Path
    mirror_of: str = ""
    """The URL a mirror fetches from; "" for a checkout, which is never created here."""

    @classmethod
    def checkout(cls, path: Path, remote: str, state_dir: Path) -> LocalRepository:
        return cls(Git.repository(path), remote, state_dir / "repository.lock")

    @contextlib.contextmanager
    def synced(self) -> Iterator[Git]:
        """Hold the lock; a mirror is created when missing and fetched first."""
        with file_lock(self.lock_path):
            if self.mirror_of:
                if not (self.git.git_dir / "HEAD").is_file():
                    Git.init_mirror(
                        self.git.git_dir, self.mirror_of, self.remote, auth=self.git.auth
                    )
                else:
                    self.git.fetch_all(self.remote)
                _used(self.git.git_dir).touch()
            yield self.git

    @contextlib.contextmanager
    def locked(self) -> Iterator[Git]:
        """Hold the lock, without fetching."""
        with file_lock(self.lock_path):
            yield self.git


def _used(mirror: Path) -> Path:
    return mirror.with_suffix(".used")


class MirrorCache:
    """The mirrors under `root` (`<state>/mirrors`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def mirror(self, repository: Repository, auth: RemoteAuth | None) -> LocalRepository:
        """The mirror of `repository` (created at its first `synced`)."""
        path = self.root / f"{repository.slug}.git"
        git = Git(path, None, auth=auth)
        return LocalRepository(git, MIRROR_REMOTE, path.with_suffix(".lock"), repository.url)

    def paths(self) -> list[Path]:
        """The mirrors there are."""
        return sorted(self.root.glob("*.git")) if self.root.is_dir() else []

    def existing(self, path: Path) -> LocalRepository:
        """The mirror at `path` (one of `paths`), to lock and run git in."""
        return LocalRepository(Git(path, None), MIRROR_REMOTE, path.with_suffix(".lock"))

    def prune(self, max_age_s: float, max_bytes: int, now: float | None = None) -> list[Path]:
        """Remove mirrors unused for `max_age_s`, then the least recently used until the rest
        fit in `max_bytes`; never one with a worktree or a held lock. What was removed."""
        now = time.time() if now is None else now
        entries = []
        for mirror in self.paths():
            used = _used(mirror)
            last = used.stat().st_mtime if used.exists() else mirror.stat().st_mtime
            entries.append((last, mirror, _size(mirror)))
        entries.sort()
        total = sum(size for _, _, size in entries)
        removed: list[Path] = []
        for last, mirror, size in entries:
            if now - last <= max_age_s and total <= max_bytes:
                continue
            if self._remove(mirror):
                removed.append(mirror)
                total -= size
        return removed

    def _remove(self, mirror: Path) -> bool:
        with file_lock(mirror.with_suffix(".lock"), wait=False) as held:
            if not held or _has_worktrees(mirror):
                return False
            shutil.rmtree(mirror, ignore_errors=True)
            _used(mirror).unlink(missing_ok=True)
            return True


def _has_worktrees(mirror: Path) -> bool:
    admin = mirror / "worktrees"
    return admin.is_dir() and any(admin.iterdir())


def _size(folder: Path) -> int:
    total = 0
    for directory, _subdirectories, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
