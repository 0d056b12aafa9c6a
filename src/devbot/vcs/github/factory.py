"""Build a `GitHubForge` from settings and the environment, or say GitHub is not configured;
and the header git sends to GitHub with the same credentials."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from devbot.config import Settings
from devbot.vcs.git import RemoteAuth
from devbot.vcs.github.auth import credentials_from_env, has_credentials
from devbot.vcs.github.forge import GitHubForge
from devbot.vcs.github.repo import RepoRef, resolve_repo, web_host


def github_repo_for(settings: Settings, remote_url: str) -> RepoRef | None:
    """`github_repo`, else the GitHub repository the remote's URL names, else None."""
    return resolve_repo(settings.github_repo or None, remote_url or None, settings.github_api_url)


def github_forge_for(
    settings: Settings, remote_url: str, environ: Mapping[str, str] | None = None
) -> GitHubForge | None:
    """A GitHubForge when a token or App is configured and the repository resolves."""
    env = os.environ if environ is None else environ
    if not has_credentials(env, settings.github_app_id):
        return None
    ref = github_repo_for(settings, remote_url)
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


def github_git_auth(
    settings: Settings, remote_url: str, environ: Mapping[str, str] | None = None
) -> RemoteAuth | None:
    """What git sends to an https remote on GitHub's web host: the forge's token as GitHub
    takes it for git (`Authorization: Basic` of `x-access-token:<token>`), scoped to that
    host. None for other remotes (ssh, other hosts) or without GitHub credentials: git then
    uses whatever the worker's own git configuration provides."""
    prefix = f"https://{web_host(settings.github_api_url)}/"
    if not remote_url.lower().startswith(prefix):
        return None
    forge = github_forge_for(settings, remote_url, environ)
    if forge is None:
        return None
    credentials = forge.client.credentials

    def header() -> str:
        pair = f"x-access-token:{credentials.token()}".encode()
        return "Authorization: Basic " + base64.b64encode(pair).decode("ascii")

    return RemoteAuth(prefix, header)
