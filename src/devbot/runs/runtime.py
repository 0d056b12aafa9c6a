"""The runtime: what a process's runs share, built once by the trigger and passed in.

A `Runtime` holds the process's settings, the repository it serves, the run database
(records, deliveries, feedback bookkeeping), the forge factory, the permission cache, the
progress listeners and the models already built. Nothing of this lives in a module global;
a test builds its own runtime.

`.devbot/` is excluded from git through `.git/info/exclude` when the runtime opens, so the
user's own `.gitignore` is never edited.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from devbot.config import STATE_DIR, Settings
from devbot.llm import Model, make_model
from devbot.runs.progress import Progress
from devbot.runs.state.feedback import FeedbackState
from devbot.runs.state.inbox import Inbox
from devbot.runs.state.permissions import PermissionCache
from devbot.runs.state.store import RunStore
from devbot.tools.files import TEMPORARY_FILES
from devbot.vcs.forge import FeedbackForge, Forge, LocalForge
from devbot.vcs.git import Git

ForgeFactory = Callable[[Settings, Path], Forge]
_FEEDBACK_METHODS = ("identity", "permission", "list_feedback", "post_comment")


class ForgeUnavailable(RuntimeError):
    """The configured forge cannot take review feedback (e.g. the local forge)."""


def runs_database_url(settings: Settings, repo: Path) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.state_dir(repo) / 'runs.sqlite').resolve()}"


def default_forge(settings: Settings, repo: Path) -> Forge:
    """GitHub when a token or App is configured and the repository resolves, else local."""
    from devbot.vcs.github.factory import github_forge_for  # lazy: httpx only when needed

    github = github_forge_for(settings, repo)
    if github is not None:
        return github
    return LocalForge(settings.state_dir(repo) / "local_forge.sqlite")


def prepare_state_dir(settings: Settings, repo: Path) -> Path:
    """Create `.devbot/` and keep it, and the file tools' half-written temporary files (left
    by a crash mid-write), out of git without touching tracked files."""
    state = settings.state_dir(repo)
    state.mkdir(parents=True, exist_ok=True)
    exclude = repo / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
        missing = [p for p in (f"/{STATE_DIR}/", TEMPORARY_FILES) if p not in lines]
        if missing:
            exclude.write_text("\n".join([*lines, *missing]) + "\n", encoding="utf-8")
    return state


@dataclass
class Runtime:
    """What the runs of one process share. Build it with `Runtime.open`."""

    settings: Settings
    repo: Path
    store: RunStore
    inbox: Inbox
    feedback: FeedbackState
    forge_factory: ForgeFactory = default_forge
    progress: Progress = field(default_factory=Progress)
    permissions: PermissionCache = field(default_factory=PermissionCache)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the process is asked to stop (Ctrl-C, SIGTERM): runs park at their next step."""
    _models: dict[Settings, Model] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runs: threading.Condition = field(default_factory=threading.Condition)
    _active: int = 0
    _parked: int = 0

    @classmethod
    def open(
        cls, settings: Settings, repo: Path, *, forge_factory: ForgeFactory | None = None
    ) -> Runtime:
        prepare_state_dir(settings, repo)
        store = RunStore(runs_database_url(settings, repo))
        inbox, feedback = Inbox(store.engine), FeedbackState(store.engine)
        return cls(settings, repo, store, inbox, feedback, forge_factory or default_forge)

    @property
    def git(self) -> Git:
        """Host git on the served repository (inert, see `vcs.git`)."""
        return Git.repository(self.repo)

    def forge(self, settings: Settings | None = None, repo: Path | None = None) -> Forge:
        """The forge of `repo` (default: the served one) as `settings` configure it."""
        return self.forge_factory(settings or self.settings, repo or self.repo)

    def feedback_forge(
        self, settings: Settings | None = None, repo: Path | None = None
    ) -> FeedbackForge:
        """The forge, when it holds reviews (GitHub); ForgeUnavailable otherwise."""
        forge = self.forge(settings, repo)
        if not all(callable(getattr(forge, name, None)) for name in _FEEDBACK_METHODS):
            raise ForgeUnavailable(
                f"the {forge.name} forge has no review feedback; configure GitHub "
                "(GITHUB_TOKEN or a GitHub App) to answer webhooks"
            )
        return cast(FeedbackForge, forge)

    def may_trigger(self, forge: FeedbackForge, user: str) -> bool:
        """Whether `user` has write permission on the served repository (cached briefly)."""
        return self.permissions.may_trigger(str(self.repo), user, forge.permission)

    def model(self, settings: Settings) -> Model:
        """The model `settings` name, built once per process (its SDK imported once)."""
        with self._lock:
            if settings not in self._models:
                self._models[settings] = make_model(settings)
            return self._models[settings]

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count a run (or delivery) in flight in this process while its body runs."""
        with self._runs:
            self._active += 1
        try:
            yield
        finally:
            with self._runs:
                self._active -= 1
                self._runs.notify_all()

    def checkpoint(self, run_id: str | None) -> None:
        """At a step boundary: when the process is stopping, park this run here. Its record
        says how to go on, and the thread waits for the process to end, so the workflow
        stays pending, to be resumed from this very step."""
        if not self.stopping.is_set():
            return
        if run_id is not None:
            self.store.update(run_id, status="interrupted", message=resume_hint(run_id))
        with self._runs:
            self._parked += 1
            self._runs.notify_all()
        threading.Event().wait()

    def wait_parked(self, timeout_s: float | None = None) -> bool:
        """Wait until every run in flight has parked or ended; False when `timeout_s` passed."""
        with self._runs:
            return self._runs.wait_for(lambda: self._active <= self._parked, timeout_s)

    def close(self) -> None:
        self.store.close()


def resume_hint(run_id: str) -> str:
    return f"stopped at a step boundary: `devbot runs resume {run_id}` goes on from there"
