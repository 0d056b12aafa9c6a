"""The runtime: what a process's runs share, built once by the trigger and passed in.

A `Runtime` holds the process's settings, its state folder, the checkout it serves (if
any) and the repository it stands for, the run database (records, deliveries, feedback
bookkeeping, workspace checkpoints), the mirrors of the repositories it works on, the forge
factory, the permission cache, the progress listeners and the models already built. Nothing
of this lives in a module global; a test builds its own runtime.

A run names its repository by the remote (`vcs.repository`); `local_repository` gives the
git repository this process makes the run's worktrees from: the served checkout when the
run is of that repository, else this process's own mirror of the remote.

`.devbot/` of a served checkout is excluded from git through `.git/info/exclude` when the
runtime opens, so the user's own `.gitignore` is never edited.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from devbot.config import STATE_DIR, ConfigError, Settings, checkout_state_dir
from devbot.llm import Model, make_model
from devbot.runs.progress import Progress
from devbot.runs.state.checkpoints import Checkpoints
from devbot.runs.state.feedback import FeedbackState
from devbot.runs.state.inbox import Inbox
from devbot.runs.state.permissions import PermissionCache
from devbot.runs.state.store import RunNotFound, RunStore
from devbot.tools.files import TEMPORARY_FILES
from devbot.vcs.forge import ChecksForge, FeedbackForge, Forge, LocalForge
from devbot.vcs.git import Git, GitError, RemoteAuth
from devbot.vcs.mirrors import MIRRORS_DIR, LocalRepository, MirrorCache
from devbot.vcs.repository import Repository, RepositoryError, clean_url

ForgeFactory = Callable[[Settings, Path], Forge]
"""(settings, checkout) -> the forge of a checkout's repository."""
_FEEDBACK_METHODS = ("identity", "permission", "list_feedback", "post_comment")
_CHECKS_METHODS = ("check_runs", "annotations", "job_log", "rerun_job")
FORGES_DIR = "forges"
WORKTREES_DIR = "worktrees"
FEEDBACK_WORKTREES_DIR = "feedback-worktrees"
HOUSEKEEPING_S = 3600.0
"""How often a process prunes its mirrors and the worktrees others' runs left behind."""


class ForgeUnavailable(RuntimeError):
    """The configured forge cannot take review feedback (e.g. the local forge)."""


def runs_database_url(settings: Settings, state: Path) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(state / 'runs.sqlite').resolve()}"


def default_forge(settings: Settings, repo: Path) -> Forge:
    """GitHub when a token or App is configured and the checkout's repository resolves,
    else the local forge in the checkout's `.devbot/`."""
    try:
        url = Git.repository(repo).run("remote", "get-url", settings.remote)
    except GitError:
        url = ""
    return forge_for(settings, url, checkout_state_dir(repo) / "local_forge.sqlite")


def forge_for(settings: Settings, url: str, local_path: Path) -> Forge:
    """GitHub when a token or App is configured and `url` (or `github_repo`) names a GitHub
    repository, else the local forge recorded at `local_path`."""
    github = _github()[0](settings, url)
    if github is not None:
        return github
    return LocalForge(local_path)


def checkout_repository(repo: Path, remote: str) -> Repository:
    """The repository of a checkout: its `remote`'s URL (cleaned of credentials, a local
    path made absolute), and the checkout itself."""
    git = Git.repository(repo)
    try:
        url = clean_url(git.run("remote", "get-url", remote), base=repo)
    except (GitError, RepositoryError):
        url = ""
    return Repository(url, str(repo))


def prepare_state_dir(settings: Settings, repo: Path) -> Path:
    """Create `.devbot/` and keep it, and the file tools' half-written temporary files (left
    by a crash mid-write), out of git without touching tracked files."""
    state = settings.process_state_dir(repo)
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
    state_dir: Path
    checkout: Path | None
    """The checkout this process serves (`devbot run`, `watch`, `serve` in it); None for a
    worker that serves whatever the queue holds."""
    repository: Repository | None
    """The repository this process stands for (the checkout's, or `serve --repo URL`)."""
    store: RunStore
    inbox: Inbox
    feedback: FeedbackState
    checkpoints: Checkpoints
    mirrors: MirrorCache
    forge_factory: ForgeFactory = default_forge
    progress: Progress = field(default_factory=Progress)
    permissions: PermissionCache = field(default_factory=PermissionCache)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the process is asked to stop (Ctrl-C, SIGTERM): runs park at their next step."""
    _models: dict[Settings, Model] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runs: threading.Condition = field(default_factory=threading.Condition)
    _active: int = 0
    _in_flight: set[str] = field(default_factory=set)
    _housekept: float = 0.0
    _parked: int = 0

    @classmethod
    def open(
        cls,
        settings: Settings,
        repo: Path | None = None,
        *,
        repository: Repository | None = None,
        forge_factory: ForgeFactory | None = None,
    ) -> Runtime:
        """The runtime of a process serving the checkout `repo`, or (`repo` None) of one
        that serves `repository` by its URL, or any repository (a worker)."""
        state = settings.process_state_dir(repo)
        if repo is not None:
            prepare_state_dir(settings, repo)
            repository = checkout_repository(repo, settings.remote)
        state.mkdir(parents=True, exist_ok=True)
        store = RunStore(runs_database_url(settings, state))
        return cls(
            settings,
            state,
            repo,
            repository,
            store,
            Inbox(store.engine),
            FeedbackState(store.engine),
            Checkpoints(store.engine),
            MirrorCache(state / MIRRORS_DIR),
            forge_factory or default_forge,
        )

    @property
    def repo(self) -> Path:
        """The served checkout; ConfigError for a process that serves none."""
        if self.checkout is None:
            raise ConfigError("this command needs a git checkout: run it in one, or give --repo")
        return self.checkout

    @property
    def served(self) -> Repository:
        """The repository this process stands for; ConfigError when it stands for none."""
        if self.repository is None:
            raise ConfigError("this command needs a repository: give --repo PATH or URL")
        return self.repository

    def is_checkout_of(self, repository: Repository) -> bool:
        return (
            self.checkout is not None
            and self.repository is not None
            and self.repository.key == repository.key
        )

    def local_repository(self, repository: Repository, settings: Settings) -> LocalRepository:
        """Where this process makes `repository`'s worktrees: the served checkout, or its own
        mirror of the remote (with the forge's credentials for it, when there are)."""
        if self.checkout is not None and self.is_checkout_of(repository):
            return LocalRepository.checkout(self.checkout, settings.remote, self.state_dir)
        if not repository.url:
            raise ConfigError(
                f"the repository {repository.key} has no remote, so only a process serving "
                "its checkout can run it: add a remote (git remote add origin URL)"
            )
        return self.mirrors.mirror(repository, git_auth_for(settings, repository.url))

    def forge(
        self, settings: Settings | None = None, repository: Repository | None = None
    ) -> Forge:
        """The forge of `repository` (default: the served one) as `settings` configure it."""
        settings = settings or self.settings
        repository = repository or self.served
        if self.checkout is not None and self.is_checkout_of(repository):
            return self.forge_factory(settings, self.checkout)
        local = self.state_dir / FORGES_DIR / f"{repository.slug}.sqlite"
        return forge_for(settings, repository.url, local)

    def feedback_forge(
        self, settings: Settings | None = None, repository: Repository | None = None
    ) -> FeedbackForge:
        """The forge, when it holds reviews (GitHub); ForgeUnavailable otherwise."""
        forge = self.forge(settings, repository)
        if not all(callable(getattr(forge, name, None)) for name in _FEEDBACK_METHODS):
            raise ForgeUnavailable(
                f"the {forge.name} forge has no review feedback; configure GitHub "
                "(GITHUB_TOKEN or a GitHub App) to answer webhooks"
            )
        return cast(FeedbackForge, forge)

    def checks_forge(
        self, settings: Settings | None = None, repository: Repository | None = None
    ) -> ChecksForge:
        """The forge, when it runs CI and reports it (GitHub); ForgeUnavailable otherwise."""
        forge = self.forge(settings, repository)
        if not all(callable(getattr(forge, name, None)) for name in _CHECKS_METHODS):
            raise ForgeUnavailable(f"the {forge.name} forge reports no CI checks")
        return cast(ChecksForge, forge)

    def may_trigger(self, forge: FeedbackForge, user: str, scope: str) -> bool:
        """Whether `user` has write permission on the repository `scope` names (`forge`'s),
        cached briefly."""
        return self.permissions.may_trigger(scope, user, forge.permission)

    def model(self, settings: Settings) -> Model:
        """The model `settings` name, built once per process (its SDK imported once)."""
        with self._lock:
            if settings not in self._models:
                self._models[settings] = make_model(settings)
            return self._models[settings]

    @contextmanager
    def running(self, run_id: str | None = None) -> Iterator[None]:
        """Count a run (`run_id`) or a delivery (None) in flight in this process while its
        body runs."""
        with self._runs:
            self._active += 1
            if run_id is not None:
                self._in_flight.add(run_id)
        try:
            yield
        finally:
            with self._runs:
                self._active -= 1
                self._in_flight.discard(run_id or "")
                self._runs.notify_all()

    def runs_in_flight(self) -> list[str]:
        """The runs this process is executing now (parked ones included)."""
        with self._runs:
            return sorted(self._in_flight)

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

    def housekeeping(self, now: float | None = None) -> None:
        """At most every `HOUSEKEEPING_S`: mirrors past `mirror_max_age_days` or beyond
        `mirror_max_gb` go, and so do worktrees here of runs that completed (on another
        worker, after a takeover: a run that completes here removes its own)."""
        now = time.time() if now is None else now
        if now - self._housekept < HOUSEKEEPING_S:
            return
        self._housekept = now
        settings = self.settings
        max_bytes = int(settings.mirror_max_gb * 1024**3)
        self.mirrors.prune(settings.mirror_max_age_days * 86400, max_bytes, now)
        self.prune_worktrees()

    def prune_worktrees(self) -> list[Path]:
        """Remove the worktrees under this process's state of runs recorded `completed`."""
        busy = set(self.runs_in_flight())
        removed: list[Path] = []
        for folder in (WORKTREES_DIR, FEEDBACK_WORKTREES_DIR):
            root = self.state_dir / folder
            for path in sorted(root.iterdir()) if root.is_dir() else []:
                if path.name.startswith(".") or path.name in busy:
                    continue
                try:
                    record = self.store.get(path.name)
                except RunNotFound:
                    continue
                if record.id == path.name and record.status == "completed":
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        if removed:
            for local in self._local_repositories():
                with local.locked() as git:
                    git.run("worktree", "prune")
        return removed

    def _local_repositories(self) -> list[LocalRepository]:
        found = [self.mirrors.existing(path) for path in self.mirrors.paths()]
        if self.checkout is not None:
            found.append(
                LocalRepository.checkout(self.checkout, self.settings.remote, self.state_dir)
            )
        return found

    def close(self) -> None:
        self.store.close()


def served_mirror(settings: Settings, repository: Repository) -> LocalRepository:
    """The mirror a process serving `repository` by URL reads (before its runtime opens)."""
    mirrors = MirrorCache(settings.process_state_dir(None) / MIRRORS_DIR)
    return mirrors.mirror(repository, git_auth_for(settings, repository.url))


def git_auth_for(settings: Settings, url: str) -> RemoteAuth | None:
    """The forge's credentials for git on `url`, when GitHub is configured for it."""
    return _github()[1](settings, url)


def _github() -> tuple[
    Callable[[Settings, str], Forge | None], Callable[[Settings, str], RemoteAuth | None]
]:
    """GitHub's forge and git credentials, imported when first asked for."""
    from devbot.vcs.github.factory import (  # lazy: httpx only when GitHub is used
        github_forge_for,
        github_git_auth,
    )

    return github_forge_for, github_git_auth


def resume_hint(run_id: str) -> str:
    return f"stopped at a step boundary: `devbot runs resume {run_id}` goes on from there"
