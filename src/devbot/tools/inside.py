"""Host-side reads and writes of files inside a worktree, never through a way out.

devbot itself reads and writes a few files in a worktree (the plan, the report, a report
found on a pull request's branch). The agent and sandboxed commands may have turned any of
those paths, or a folder on the way, into a symbolic link to a file of the host; these
functions refuse such a path (PathOutsideWorkspace, naming the rule) instead of following it,
read at most `max_bytes`, and write atomically, replacing a link inside the tree rather than
writing through it.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path, PurePosixPath

from devbot.tools.jail import PathOutsideWorkspace, resolve_in_workspace

MAX_READ_BYTES = 1_000_000


class FileTooLarge(ValueError):
    """A file inside the worktree is larger than the reader accepts."""


def inside_path(root: Path, relative: str) -> Path:
    """The real location of `relative` inside `root`; PathOutsideWorkspace when it, or a
    folder on the way, leads out of the root."""
    return Path(os.path.realpath(resolve_in_workspace(root, relative)))


def read_inside(root: Path, relative: str, max_bytes: int = MAX_READ_BYTES) -> str:
    """The UTF-8 text of a regular file inside `root` (undecodable bytes replaced).

    Raises FileNotFoundError when absent or not a regular file (a FIFO never blocks the
    reader), FileTooLarge past `max_bytes`.
    """
    real = inside_path(root, relative)
    descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise FileNotFoundError(f"{relative} is not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"{relative} is larger than {max_bytes} bytes")
    return data.decode("utf-8", errors="replace")


def write_inside(root: Path, relative: str, text: str) -> None:
    """Write `text` to `relative` inside `root` atomically (a temporary file, then a rename
    over the path itself: a symbolic link there is replaced, never written through)."""
    try:
        lexical = resolve_in_workspace(root, relative)
    except PathOutsideWorkspace as refused:
        lexical = _final_link(root, relative, refused)
    parent = Path(os.path.realpath(lexical.parent))
    if not parent.is_relative_to(os.path.realpath(root)):
        raise PathOutsideWorkspace(relative, "symlink")
    parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f".devbot-{uuid.uuid4().hex}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.replace(temporary, parent / lexical.name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _final_link(root: Path, relative: str, refused: PathOutsideWorkspace) -> Path:
    """The path of a symbolic link that is itself inside `root` but points out of it (it
    will be replaced); any other refusal stands."""
    name = PurePosixPath(relative).name
    folder = str(PurePosixPath(relative).parent)
    if refused.rule != "symlink" or name in ("", ".", ".."):
        raise refused
    parent = resolve_in_workspace(root, folder) if folder != "." else Path(root)
    candidate = parent / name
    if not candidate.is_symlink():
        raise refused
    return candidate
