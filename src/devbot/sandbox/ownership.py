"""Who the sandbox is on the host, and handing the workspace over to that user.

When devbot runs as root, isolated backends run commands as `sandbox_uid` (gid the same
number), never as root: uid 0 in a sandbox that shares the host's uid 0 is host root (it may
write /proc/sys, own any file). Before each command the workspace is handed to that uid:
every entry not already owned by it is lchown'ed during the same walk that takes the disk
snapshot, so it costs one pass. The walk never follows a symlink, and leaves alone files
with several hard links (chown would change every name of them, also outside the workspace).

The workspace directory itself and its `.git` keep their owner: host-side git (root)
refuses a repository whose top or git dir another user owns. The top directory gets the
sandbox's group, group rwx and the sticky bit instead, so the sandbox may create and delete
its own entries there but may neither replace nor rewrite `.git`.

When devbot is not root, commands run as the invoking user, who owns the workspace already.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from devbot.sandbox.tree import Snapshot, scan

DEFAULT_SANDBOX_UID = 65534
TOP_MODE = stat.S_ISVTX | stat.S_IRWXG
GIT_DIR = ".git"


@dataclass(frozen=True)
class Identity:
    """The uid and gid a sandboxed command has on the host."""

    uid: int
    gid: int


def sandbox_identity(sandbox_uid: int = DEFAULT_SANDBOX_UID) -> Identity | None:
    """`sandbox_uid` when devbot is root, else None: commands keep the invoking user."""
    if sandbox_uid <= 0:
        raise ValueError("sandbox_uid must not be 0 (root)")
    return Identity(sandbox_uid, sandbox_uid) if os.geteuid() == 0 else None


def host_identity() -> Identity:
    """Who sandboxed commands are on the host when devbot is not root."""
    return Identity(os.getuid(), os.getgid())


def hand_over(workspace: Path, identity: Identity | None) -> Snapshot:
    """Give `workspace` to `identity` (None: leave it as it is); its snapshot, taken on the way."""
    if identity is None:
        return scan(workspace)
    top = os.lstat(workspace)
    if top.st_uid != identity.uid and (
        top.st_gid != identity.gid or top.st_mode & TOP_MODE != TOP_MODE
    ):
        os.chown(workspace, -1, identity.gid, follow_symlinks=False)
        os.chmod(workspace, stat.S_IMODE(top.st_mode) | TOP_MODE)

    def give(parent_fd: int, name: str, rel: str, info: os.stat_result) -> None:
        if (info.st_uid, info.st_gid) == (identity.uid, identity.gid):
            return
        if rel == GIT_DIR or rel.startswith(GIT_DIR + "/"):
            return
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            return
        os.chown(name, identity.uid, identity.gid, dir_fd=parent_fd, follow_symlinks=False)

    return scan(workspace, give)
