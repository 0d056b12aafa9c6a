"""The repository files an environment depends on: read without following a link, hashed,
copied.

Manifests are the repository's (anyone's) files, and devbot reads them on the host, often as
root: a `package.json` that is a symbolic link to a host file, or a `.devbot` folder that
leads elsewhere, must never be read. Each path is opened one component at a time below the
root with O_NOFOLLOW; anything else than a regular file of at most `MAX_INPUT_BYTES` counts
as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Lock files of large monorepos reach tens of MB; anything larger is not a manifest."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

Reader = Callable[[str], bytes | None]
"""read(relative path) -> the file's bytes, or None when it is not there to be read."""


def reader(root: Path) -> Reader:
    """A Reader of the regular files under `root`."""
    return lambda relative: read_input(root, relative)


def read_input(root: Path, relative: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes | None:
    """The bytes of the regular file `relative` below `root`; None when it is absent, not a
    regular file, reached through a symbolic link (itself or a folder on the way), or
    larger than `max_bytes`."""
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    opened: list[int] = []
    try:
        folder = os.open(root, _DIR_FLAGS)
        opened.append(folder)
        for part in parts[:-1]:
            folder = os.open(part, _DIR_FLAGS, dir_fd=folder)
            opened.append(folder)
        descriptor = os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
        opened.append(descriptor)
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    finally:
        for descriptor in opened:
            with contextlib.suppress(OSError):
                os.close(descriptor)
    return data if len(data) <= max_bytes else None


def digest(read: Reader, names: Iterable[str]) -> str:
    """sha256 over each file's name and bytes, in sorted order (absent files count too)."""
    hashed = hashlib.sha256()
    for name in sorted(set(names)):
        data = read(name)
        hashed.update(name.encode() + b"\0")
        hashed.update(b"-" if data is None else str(len(data)).encode() + b"\0" + data)
    return hashed.hexdigest()


def copy_inputs(read: Reader, names: Iterable[str], target: Path) -> None:
    """Copy each readable file of `names` to the same relative path under `target`, a fresh
    folder of devbot's own."""
    for name in names:
        data = read(name)
        if data is None:
            continue
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
