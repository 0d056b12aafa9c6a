"""The cache of prepared environments: one folder per key under devbot's state, bounded.

    envs/<key>/                 the environment, mounted read-only into commands
    envs/<key>.json             what it is (recipe, when built, how long, size); written
                                last, so an entry without it is incomplete; its mtime is the
                                last use
    envs/<key>.lock             held while <key> is built (flock)
    envs/.build-<key>-<id>/     an environment being built, renamed to <key> when complete
    envs/.inputs-<key>-<id>/    the copy of the inputs setup runs on

Concurrent runs of one key: the first builds under the lock, the others wait and then find
the entry. Two builds that race anyway (a lock file pruned under a waiter) each build into
their own folder; the second rename fails and its copy is dropped. A crash leaves scratch
folders, which a later prune removes once their lock is free.

When devbot runs as root, setup runs as `sandbox_uid`: the folder being built belongs to
that uid, and once complete it is handed back to devbot (owner root, no group or other
write bit), so no later command can change it, on top of the read-only mount.

Old entries go when a build finishes: any past `MAX_AGE_S` since their last use, then the
least recently used beyond `MAX_ENTRIES` or `MAX_BYTES` together. The entry in use is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from devbot.sandbox.ownership import Identity
from devbot.sandbox.tree import remove_entry, scan

ENVIRONMENTS_DIR = "envs"
"""The cache's folder under devbot's state folder (`.devbot/`)."""
KEY = re.compile(r"[0-9a-f]{16}")
MAX_ENTRIES = 8
MAX_BYTES = 10 * 1024**3
MAX_AGE_S = 30 * 24 * 3600.0
BUILD_PREFIX = ".build-"
INPUTS_PREFIX = ".inputs-"


@dataclass(frozen=True)
class Entry:
    """One complete environment of the cache."""

    key: str
    recipe: str
    why: str
    built_at: float
    build_s: float
    size_bytes: int
    path: Path
    used_at: float = 0.0


@dataclass(frozen=True)
class Scratch:
    """Where one build happens: the environment being built and the inputs' copy."""

    environment: Path
    inputs: Path


class EnvironmentCache:
    """The prepared environments under `root` (e.g. `.devbot/envs`)."""

    def __init__(
        self,
        root: Path,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self.root = root
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s

    def find(self, key: str, *, touch: bool = True) -> Entry | None:
        """The complete entry of `key`, its last use set to now unless `touch` is False."""
        meta = self.root / f"{key}.json"
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            if touch:
                os.utime(meta)
            used_at = meta.stat().st_mtime
        except (OSError, ValueError):
            return None
        path = self.root / key
        if not path.is_dir() or path.is_symlink():
            return None
        try:
            return Entry(**{**data, "path": path, "used_at": used_at})
        except TypeError:
            return None

    def entries(self) -> list[Entry]:
        """Every complete entry, the most recently used first."""
        keys = [p.name[: -len(".json")] for p in self._listing() if p.name.endswith(".json")]
        found = [entry for key in keys if (entry := self.find(key, touch=False)) is not None]
        return sorted(found, key=lambda entry: entry.used_at, reverse=True)

    @contextlib.contextmanager
    def lock(self, key: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold the lock of `key`; yields False when `wait` is False and another holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(self.root / f"{key}.lock", flags, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def scratch(
        self, key: str, files: Sequence[tuple[str, str]], owner: Identity | None
    ) -> Iterator[Scratch]:
        """Fresh folders for one build of `key` (hold its lock): the environment, holding
        `files` and given to `owner` (the sandbox's uid when devbot is root), and an empty
        one for the inputs; both removed afterwards unless committed."""
        self.root.mkdir(parents=True, exist_ok=True)
        tag = f"{key}-{uuid.uuid4().hex[:8]}"
        made = Scratch(self.root / f"{BUILD_PREFIX}{tag}", self.root / f"{INPUTS_PREFIX}{tag}")
        try:
            made.environment.mkdir(mode=0o755)
            made.inputs.mkdir(mode=0o755)
            for name, text in files:
                (made.environment / name).write_text(text, encoding="utf-8")
            if owner is not None:
                for path in (made.environment, *made.environment.iterdir()):
                    os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
            yield made
        finally:
            for folder in (made.environment, made.inputs):
                _remove(folder)

    def commit(self, key: str, scratch: Scratch, entry: Entry, owner: Identity | None) -> Entry:
        """Seal the built environment (devbot's, read-only to the sandbox), rename it to
        `key` and write its metadata; the entry another build committed first wins."""
        size = seal(scratch.environment, owner)
        found = self.find(key)
        if found is not None:
            return found
        final = self.root / key
        if final.exists():
            _remove(final)
        try:
            os.rename(scratch.environment, final)
        except OSError:
            found = self.find(key)
            if found is not None:
                return found
            raise
        data = {**asdict(entry), "size_bytes": size}
        for name in ("path", "used_at"):
            data.pop(name)
        temporary = self.root / f"{BUILD_PREFIX}{key}-{uuid.uuid4().hex[:8]}.json"
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.root / f"{key}.json")
        found = self.find(key)
        assert found is not None
        return found

    def prune(self, keep: str = "") -> list[str]:
        """Remove scratch folders of crashed builds, incomplete entries, and entries past
        the bounds (never `keep`); the keys removed."""
        complete = {entry.key for entry in self.entries()}
        for path in self._listing():
            key = _key_of(path.name)
            if key and key != keep and key not in complete:
                with self.lock(key, wait=False) as free:
                    if free and not (self.root / f"{key}.json").exists():
                        _remove(path)
        removed = []
        for entry in self._past_bounds(keep):
            with self.lock(entry.key, wait=False) as free:
                if free:
                    (self.root / f"{entry.key}.json").unlink(missing_ok=True)
                    _remove(entry.path)
                    removed.append(entry.key)
        return removed

    def _past_bounds(self, keep: str) -> list[Entry]:
        now = time.time()
        kept_bytes = 0
        kept = 1 if keep else 0
        past = []
        for entry in self.entries():
            if entry.key == keep:
                continue
            too_old = now - entry.used_at > self.max_age_s
            too_many = kept >= self.max_entries
            too_big = kept_bytes + entry.size_bytes > self.max_bytes
            if too_old or too_many or too_big:
                past.append(entry)
            else:
                kept += 1
                kept_bytes += entry.size_bytes
        return past

    def _listing(self) -> list[Path]:
        try:
            return sorted(self.root.iterdir())
        except FileNotFoundError:
            return []


def seal(folder: Path, owner: Identity | None) -> int:
    """Hand `folder` back to devbot (when the sandbox had its own `owner` uid) and drop
    every group and other write bit; its allocated bytes. No link is followed, and the
    build's processes are all gone by now, so no name changes under the walk."""
    uid, gid = os.geteuid(), os.getegid()

    def hand_back(parent_fd: int, name: str, _rel: str, info: os.stat_result) -> None:
        if owner is not None and (info.st_uid, info.st_gid) != (uid, gid):
            os.chown(name, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o022:
            os.chmod(name, stat.S_IMODE(info.st_mode) & ~0o022, dir_fd=parent_fd)

    if owner is not None:
        os.chown(folder, uid, gid, follow_symlinks=False)
    os.chmod(folder, 0o755)
    return scan(folder, hand_back, keep_paths=False).used_bytes


def _key_of(name: str) -> str:
    """The key a file or folder of the cache belongs to ("" for metadata, and for names
    that are not the cache's)."""
    for prefix in (BUILD_PREFIX, INPUTS_PREFIX):
        if name.startswith(prefix):
            name = name[len(prefix) :].split("-", 1)[0]
    name = name.removesuffix(".lock")
    return name if KEY.fullmatch(name) else ""


def _remove(path: Path) -> None:
    """Delete `path` and all it holds, never following a link; gone already is fine."""
    with contextlib.suppress(FileNotFoundError):
        descriptor = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            remove_entry(descriptor, path.name)
        finally:
            os.close(descriptor)
