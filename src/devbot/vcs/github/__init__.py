"""GitHub and GitHub Enterprise: a small REST/GraphQL client and the GitHub forge."""

from devbot.vcs.github.client import GitHubClient, GitHubError
from devbot.vcs.github.factory import github_forge_for, github_repo_for
from devbot.vcs.github.forge import GitHubForge

__all__ = ["GitHubClient", "GitHubError", "GitHubForge", "github_forge_for", "github_repo_for"]
