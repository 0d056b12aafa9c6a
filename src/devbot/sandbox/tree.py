"""Walk a workspace the sandbox wrote to: never following a symlink, with bounded open files.

The walk opens each directory relative to its parent's descriptor with O_NOFOLLOW, so a
symlink planted by a command never leads devbot (often root) out of the workspace. It keeps
at most `MAX_DEPTH` directories open; deeper ones, and ones it may not open, are counted as
unmeasured instead of entered. Removal works the same way and moves too-deep directories up
instead of descending further, so any tree can be deleted.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 128
BLOCK = 512
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Visitor = Callable[[int, str, str, os.stat_result], None]
"""visit(parent_fd, name, relative_path, lstat) — called for every entry, before descending."""


@dataclass(frozen=True)
class Snapshot:
    """What a workspace holds: every relative path (when asked for), its allocated bytes,
    how many folders could not be entered, and how long the walk took."""

    paths: frozenset[str]
    used_bytes: int
    unmeasured: int = 0
    seconds: float = 0.0


def scan(root: Path, visit: Visitor | None = None, *, keep_paths: bool = True) -> Snapshot:
    """Every entry under `root` (not `root` itself); hard-linked files count once."""
    started = time.monotonic()
    paths: set[str] = set()
    linked: set[tuple[int, int]] = set()
    used = 0
    unmeasured = 0
    top = os.open(root, DIR_FLAGS)
    stack = [(top, "", os.scandir(top))]
    try:
        while stack:
            fd, prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                os.close(fd)
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            rel = prefix + entry.name
            if keep_paths:
                paths.add(rel)
            if info.st_nlink == 1 or stat.S_ISDIR(info.st_mode):
                used += info.st_blocks * BLOCK
            elif (info.st_dev, info.st_ino) not in linked:
                linked.add((info.st_dev, info.st_ino))
                used += info.st_blocks * BLOCK
            if visit is not None:
                visit(fd, entry.name, rel, info)
            if not stat.S_ISDIR(info.st_mode):
                continue
            child = _open_dir(fd, entry.name) if len(stack) < MAX_DEPTH else None
            if child is None:
                unmeasured += 1
                continue
            stack.append((child, rel + "/", os.scandir(child)))
    finally:
        for fd, _, entries in stack:
            entries.close()
            os.close(fd)
    return Snapshot(frozenset(paths), used, unmeasured, time.monotonic() - started)


def remove_created(root: Path, before: Snapshot) -> int:
    """Delete every entry under `root` whose path is not in `before`; how many were deleted
    (a new directory counts once, with all it holds)."""
    removed = 0
    pending: list[tuple[int, str]] = [(os.open(root, DIR_FLAGS), "")]
    while pending:
        fd, prefix = pending.pop()
        try:
            for entry in list(os.scandir(fd)):
                rel = prefix + entry.name
                if rel not in before.paths:
                    with contextlib.suppress(OSError):
                        remove_entry(fd, entry.name)
                        removed += 1
                elif entry.is_dir(follow_symlinks=False):
                    child = _open_dir(fd, entry.name)
                    if child is not None:
                        pending.append((child, rel + "/"))
        finally:
            os.close(fd)
    return removed


def remove_entry(parent_fd: int, name: str) -> None:
    """Delete `name` (a file, a symlink, or a directory with all it holds) below `parent_fd`."""
    try:
        os.unlink(name, dir_fd=parent_fd)
        return
    except IsADirectoryError:
        pass
    root = _enter(parent_fd, name)
    try:
        _empty(root)
    finally:
        os.close(root)
    os.rmdir(name, dir_fd=parent_fd)


@dataclass
class _Frame:
    fd: int
    name: str
    subdirs: list[str]


def _empty(root: int) -> None:
    """Delete everything inside the directory `root`, at most `MAX_DEPTH` directories open;
    a directory deeper than that is first moved up into `root`."""
    frames = [_Frame(root, "", _unlink_files(root))]
    try:
        while frames:
            frame = frames[-1]
            if frame.subdirs:
                name = frame.subdirs.pop()
                if len(frames) < MAX_DEPTH:
                    child = _enter(frame.fd, name)
                    frames.append(_Frame(child, name, _unlink_files(child)))
                else:
                    moved = f".devbot-rm-{uuid.uuid4().hex}"
                    os.rename(name, moved, src_dir_fd=frame.fd, dst_dir_fd=root)
            elif len(frames) > 1:
                frames.pop()
                os.close(frame.fd)
                os.rmdir(frame.name, dir_fd=frames[-1].fd)
            else:
                frame.subdirs = _unlink_files(root)
                if not frame.subdirs:
                    return
    finally:
        for frame in frames[1:]:
            os.close(frame.fd)


def _unlink_files(fd: int) -> list[str]:
    """Unlink every non-directory in `fd`; the names of the subdirectories left."""
    subdirs = []
    for entry in list(os.scandir(fd)):
        if entry.is_dir(follow_symlinks=False):
            subdirs.append(entry.name)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.name, dir_fd=fd)
    return subdirs


def _enter(parent_fd: int, name: str) -> int:
    """Open a directory to empty it, making it readable first when its owner locked it."""
    opened = _open_dir(parent_fd, name)
    if opened is not None:
        return opened
    handle = os.open(name, os.O_PATH | DIR_FLAGS, dir_fd=parent_fd)
    try:
        os.chmod(f"/proc/self/fd/{handle}", 0o700)
    finally:
        os.close(handle)
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def _open_dir(parent_fd: int, name: str) -> int | None:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None
