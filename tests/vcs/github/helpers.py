"""Builders shared by the GitHub forge tests: a forge pointed at the double."""

from __future__ import annotations

from typing import Any

from devbot.vcs.github.auth import Credentials, TokenAuth
from devbot.vcs.github.client import GitHubClient
from devbot.vcs.github.forge import GitHubForge
from devbot.vcs.github.repo import parse_full_name
from tests.fixtures.github_double import DEFAULT_LOGIN, DEFAULT_TOKEN, GitHubDouble

REPO = "octo/hello"


def make_forge(
    double: GitHubDouble,
    credentials: Credentials | None = None,
    draft: bool = False,
    repo: str = REPO,
    **client: Any,
) -> GitHubForge:
    if repo not in double.repos:
        double.add_repo(repo)
        double.add_collaborator(repo, DEFAULT_LOGIN, "write")
    options: dict[str, Any] = {"backoff_s": 0.0, "sleep": lambda _s: None, **client}
    http = GitHubClient(double.url, credentials or TokenAuth(DEFAULT_TOKEN), **options)
    return GitHubForge(http, parse_full_name(repo), draft=draft)
