"""Watch plan folders and report each plan once its writer has finished writing it; watch
Spec Kit folders (`specs/`) and report a feature folder once its `tasks.md` is written.

On Linux the inotify observer reports close-after-write, so a plan is handled only when the
file that was written is closed (or when a finished file is moved in); a half-written plan is
never read. Observers without close events (macOS, Windows, polling) fall back to "modified,
then ``settle_s`` of quiet". Events for one path within ``settle_s`` coalesce into one callback.
Callbacks run in order on one worker thread, so a slow run never blocks the observer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.utils import UnsupportedLibcError, platform

from devbot.plans.plan import is_plan_filename

logger = logging.getLogger("devbot.watcher")
TASKS_FILE = "tasks.md"

ObserverFactory = Callable[[], BaseObserver]


def _native_observer() -> tuple[BaseObserver, bool]:
    """The platform's observer, and whether it reports close-after-write.

    Inotify is asked for full move events: otherwise a file moved in from an unwatched folder
    arrives as a bare "created" event with no close to follow, and would be missed.
    """
    if platform.is_linux():
        try:
            from watchdog.observers.inotify import InotifyObserver
        except UnsupportedLibcError:
            pass
        else:
            return InotifyObserver(generate_full_events=True), True
    return Observer(), False


class _Handler(FileSystemEventHandler):
    """Turns raw observer events into "this plan is complete" and "forget this plan"."""

    def __init__(self, watcher: PlanWatcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        w = self._watcher
        if event.is_directory:
            if isinstance(event, DirCreatedEvent | DirMovedEvent):
                w._folder_appeared(Path(os.fsdecode(event.dest_path or event.src_path)))
            return
        src = os.fsdecode(event.src_path)
        if isinstance(event, FileMovedEvent):
            if src:
                w._forget(Path(src))
            if event.dest_path:
                w._touch(Path(os.fsdecode(event.dest_path)))
        elif isinstance(event, FileDeletedEvent):
            w._forget(Path(src))
        elif isinstance(event, FileClosedEvent) or (
            not w.close_events and isinstance(event, FileCreatedEvent | FileModifiedEvent)
        ):
            w._touch(Path(src))


class PlanWatcher:
    """Calls ``on_plan(path)`` once for each plan file written or moved into ``plan_dirs``,
    and ``on_plan(folder)`` for each feature folder of ``feature_dirs`` (``specs/NNN-x/``)
    whose ``tasks.md`` is written or moved in (the last document Spec Kit writes).

    ``plan_dirs`` and ``feature_dirs`` are relative to ``repo`` (absolute paths are kept)
    and are created when missing. Plans already present are not reported: the caller runs
    ``scan()`` at start.
    ``observer_factory`` replaces the native observer (e.g. polling on a network mount); a
    replacement is assumed not to report close-after-write.
    """

    def __init__(
        self,
        repo: Path,
        plan_dirs: Sequence[str],
        on_plan: Callable[[Path], None],
        *,
        feature_dirs: Sequence[str] = (),
        settle_s: float = 0.05,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        if not plan_dirs:
            raise ValueError("PlanWatcher needs at least one plan folder")
        self.repo = repo.resolve()
        self.dirs: tuple[Path, ...] = tuple(
            dict.fromkeys((self.repo / d).resolve() for d in plan_dirs)
        )
        self.feature_dirs: tuple[Path, ...] = tuple(
            dict.fromkeys((self.repo / d).resolve() for d in feature_dirs)
        )
        self.on_plan = on_plan
        self.settle_s = settle_s
        self.close_events = False
        self._observer_factory = observer_factory
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: dict[Path, float] = {}
        self._ready: deque[Path] = deque()
        self._stopping = False

    def scan(self) -> list[Path]:
        """Plan files already in the watched folders, sorted (for plans added while down),
        then the feature folders with a tasks.md, sorted."""
        found = [
            p
            for d in self.dirs
            if d.is_dir()
            for p in d.iterdir()
            if is_plan_filename(p.name) and p.is_file()
        ]
        features = [
            p
            for d in self.feature_dirs
            if d.is_dir()
            for p in d.iterdir()
            if (p / TASKS_FILE).is_file()
        ]
        return sorted(found) + sorted(features)

    def start(self) -> None:
        """Create missing plan folders, start the worker, then start observing."""
        if self._observer is not None:
            raise RuntimeError("PlanWatcher already started")
        for d in (*self.dirs, *self.feature_dirs):
            d.mkdir(parents=True, exist_ok=True)
        if self._observer_factory is None:
            observer, self.close_events = _native_observer()
        else:
            observer, self.close_events = self._observer_factory(), False
        handler = _Handler(self)
        for d in self.dirs:
            observer.schedule(handler, str(d), recursive=False)
        for d in self.feature_dirs:
            observer.schedule(handler, str(d), recursive=True)
        with self._cond:
            self._stopping = False
            self._pending.clear()
            self._ready.clear()
        self._worker = threading.Thread(target=self._work, name="devbot-plan-worker", daemon=True)
        self._worker.start()
        observer.start()
        self._observer = observer
        logger.info(
            "watching %s (%s)",
            ", ".join(str(d) for d in (*self.dirs, *self.feature_dirs)),
            "close-write" if self.close_events else f"{self.settle_s}s of quiet",
        )

    def stop(self) -> None:
        """Stop observing, let a running callback finish, drop plans not yet started.

        Dropped plans are not lost: they are on disk, and ``scan()`` finds them at next start.
        """
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join()
        with self._cond:
            self._stopping = True
            dropped = len(self._pending) + len(self._ready)
            self._cond.notify_all()
        if dropped:
            logger.info("stopping with %d plan(s) not handled; scan() will find them", dropped)
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join()

    def submit(self, path: Path) -> None:
        """Queue ``path`` for ``on_plan`` behind the plans already waiting (e.g. scan results)."""
        with self._cond:
            self._ready.append(path.resolve())
            self._cond.notify_all()

    def run_forever(self, stop_event: threading.Event | None = None) -> None:
        """Watch until Ctrl-C or ``stop_event`` is set, then stop cleanly."""
        event = stop_event or threading.Event()
        try:
            if self._observer is None:
                self.start()
            while not event.wait(1.0):
                pass
        except KeyboardInterrupt:
            logger.info("interrupted, stopping the plan watcher")
        finally:
            self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _touch(self, path: Path) -> None:
        """A write to ``path`` may be complete: (re)start its settle delay if it is a plan
        (or, for a feature's tasks.md, its folder's)."""
        if path.name == TASKS_FILE and path.parent.parent in self.feature_dirs:
            path = path.parent
        elif path.parent not in self.dirs or not is_plan_filename(path.name):
            return
        now = time.monotonic()
        with self._cond:
            self._promote_due(now)
            self._pending[path] = now + self.settle_s
            self._cond.notify_all()

    def _folder_appeared(self, folder: Path) -> None:
        """A feature folder created or moved in may hold its tasks.md already (a copy, a
        checkout): its writes came before the folder was watched, so look now."""
        if folder.parent in self.feature_dirs and (folder / TASKS_FILE).is_file():
            self._touch(folder / TASKS_FILE)

    def _forget(self, path: Path) -> None:
        """``path`` is gone (deleted or moved away): do not report a pending write."""
        if path.name == TASKS_FILE:
            path = path.parent
        with self._cond:
            self._pending.pop(path, None)

    def _promote_due(self, now: float) -> None:
        """Queue the settled writes, oldest first (caller holds the lock).

        Also called on each new event, so that while a slow callback runs, a write that settled
        is queued on its own instead of being merged with a later write of the same plan.
        """
        for _, p in sorted((t, p) for p, t in self._pending.items() if t <= now):
            del self._pending[p]
            self._ready.append(p)

    def _next(self) -> Path | None:
        """Block until a plan has settled (its path) or the watcher stops (None)."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                self._promote_due(now)
                if self._ready:
                    return self._ready.popleft()
                wait = min(self._pending.values()) - now if self._pending else None
                self._cond.wait(wait)
            return None

    def _work(self) -> None:
        while (path := self._next()) is not None:
            logger.info("plan ready: %s", path)
            try:
                self.on_plan(path)
            except Exception:
                logger.exception("handling plan %s failed", path)
