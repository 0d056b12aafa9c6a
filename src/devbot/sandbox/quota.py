"""The disk quota of one command: how much it may add to the workspace.

RLIMIT_FSIZE (set by each backend) caps a single file at the quota; this watcher caps the
sum. While the command runs, a thread measures the workspace's allocated bytes against the
snapshot taken before it started and calls `on_exceeded` (which kills the command) once the
growth reaches the quota. It measures at an interval ten times the cost of one measurement,
so it takes at most a tenth of a core, but at least every `MAX_INTERVAL_S`, so that on a big
tree (100,000 files cost about half a second a pass) the overshoot stays bounded. When the
command has ended, a final measurement decides. Directories the walk could not enter
(locked, or nested past `tree.MAX_DEPTH`) count as past the quota: what cannot be measured
cannot be allowed. When the quota was hit, every entry the command created is deleted so
that none of it is ever committed. While setup builds a prepared environment, the same
quota applies to what it adds there (`watch_environment`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from devbot.sandbox.base import EnvironmentMount
from devbot.sandbox.tree import Snapshot, remove_created, scan

MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 2.0
COST_FACTOR = 10.0


@dataclass(frozen=True)
class Overrun:
    """A command hit the disk quota: what it added, and how many new entries were deleted."""

    added_bytes: int
    unmeasured: bool
    removed: int


class DiskWatch:
    """Context manager around one command: watches while inside, decides on exit."""

    def __init__(
        self,
        workspace: Path,
        before: Snapshot,
        limit_bytes: int,
        on_exceeded: Callable[[], None],
    ) -> None:
        self.workspace = workspace
        self.before = before
        self.limit_bytes = limit_bytes
        self.on_exceeded = on_exceeded
        self.overrun: Overrun | None = None
        self._stopped = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="devbot-disk-watch", daemon=True)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()
        after = scan(self.workspace, keep_paths=False)
        if self._stopped or self._exceeded(after):
            removed = remove_created(self.workspace, self.before)
            self.overrun = Overrun(
                added_bytes=max(after.used_bytes - self.before.used_bytes, 0),
                unmeasured=after.unmeasured > self.before.unmeasured,
                removed=removed,
            )

    def _exceeded(self, now: Snapshot) -> bool:
        grown = now.used_bytes - self.before.used_bytes
        return grown >= self.limit_bytes or now.unmeasured > self.before.unmeasured

    def _watch(self) -> None:
        interval = _interval(self.before.seconds)
        while not self._done.wait(interval):
            try:
                now = scan(self.workspace, keep_paths=False)
            except OSError:
                return
            if self._exceeded(now):
                self._stopped = True
                self.on_exceeded()
                return
            interval = _interval(now.seconds)


def watch_environment(
    mount: EnvironmentMount | None, limit_bytes: int, on_exceeded: Callable[[], None]
) -> contextlib.AbstractContextManager[DiskWatch | None]:
    """The same quota on a prepared environment while setup writes it (None otherwise)."""
    if mount is None or not mount.writable:
        return contextlib.nullcontext()
    return DiskWatch(mount.source, scan(mount.source), limit_bytes, on_exceeded)


def _interval(cost_s: float) -> float:
    """Seconds between two measurements that each take `cost_s`."""
    return min(max(MIN_INTERVAL_S, COST_FACTOR * cost_s), MAX_INTERVAL_S)
