"""Build a `GitHubForge` from settings and the environment, or say GitHub is not configured."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from devbot.config import Settings
from devbot.vcs.git import Git, GitError
from devbot.vcs.github.auth import credentials_from_env, has_credentials
from devbot.vcs.github.forge import GitHubForge
from devbot.vcs.github.repo import RepoRef, resolve_repo


def github_repo_for(settings: Settings, repo: Path) -> RepoRef | None:
    """`github_repo`, else the GitHub repository the remote's URL names, else None."""
    if settings.github_repo:
        return resolve_repo(settings.github_repo, None, settings.github_api_url)
    try:
        url = Git.repository(repo).run("remote", "get-url", settings.remote)
    except GitError:
        return None
    return resolve_repo(None, url, settings.github_api_url)


def github_forge_for(
    settings: Settings, repo: Path, environ: Mapping[str, str] | None = None
) -> GitHubForge | None:
    """A GitHubForge when a token or App is configured and the repository resolves."""
    env = os.environ if environ is None else environ
    if not has_credentials(env, settings.github_app_id):
        return None
    ref = github_repo_for(settings, repo)
    if ref is None:
        return None
    credentials = credentials_from_env(env, settings.github_app_id, ref.full_name)
    if credentials is None:
        return None
    from devbot.vcs.github.client import GitHubClient  # lazy: httpx only when GitHub is used

    client = GitHubClient(
        settings.github_api_url,
        credentials,
        timeout_s=settings.github_timeout_s,
        retries=settings.github_retries,
    )
    return GitHubForge(client, ref, draft=settings.github_draft)
