"""Where a repository's devbot state lives, opened once per process.

Run records go to `DEVBOT_DATABASE_URL` when set, else to `.devbot/runs.sqlite`; the local
forge's PR records to `.devbot/local_forge.sqlite`. `.devbot/` is excluded from git through
`.git/info/exclude`, so the user's own `.gitignore` is never edited.
"""

from __future__ import annotations

from pathlib import Path

from devbot.config import STATE_DIR, Settings
from devbot.runs.store import RunStore
from devbot.tools.files import TEMPORARY_FILES
from devbot.vcs.forge import Forge, LocalForge


def runs_database_url(settings: Settings, repo: Path) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.state_dir(repo) / 'runs.sqlite').resolve()}"


_prepared: set[Path] = set()


def ensure_state_dir(settings: Settings, repo: Path) -> Path:
    """Create `.devbot/` and keep it, and the file tools' half-written temporary files (left
    by a crash mid-write), out of git without touching tracked files."""
    state = settings.state_dir(repo)
    if state in _prepared and state.is_dir():
        return state
    state.mkdir(parents=True, exist_ok=True)
    exclude = repo / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
        missing = [p for p in (f"/{STATE_DIR}/", TEMPORARY_FILES) if p not in lines]
        if missing:
            exclude.write_text("\n".join([*lines, *missing]) + "\n", encoding="utf-8")
    _prepared.add(state)
    return state


_stores: dict[str, RunStore] = {}


def store_for(settings: Settings, repo: Path) -> RunStore:
    ensure_state_dir(settings, repo)
    url = runs_database_url(settings, repo)
    if url not in _stores:
        _stores[url] = RunStore(url)
    return _stores[url]


def forge_for(settings: Settings, repo: Path) -> Forge:
    """GitHub when a token or App is configured and the repository resolves, else local."""
    from devbot.vcs.github.factory import github_forge_for

    github = github_forge_for(settings, repo)
    if github is not None:
        return github
    return LocalForge(ensure_state_dir(settings, repo) / "local_forge.sqlite")


def close_stores() -> None:
    """Dispose every open store (tests switch repositories between cases)."""
    while _stores:
        _stores.popitem()[1].close()
