"""Which GitHub repository a working copy belongs to, and where its API lives.

The repository comes from `github_repo` (owner/name) when set, else from the remote's URL in
any form git accepts (https, ssh://, scp-like `git@host:owner/name.git`), for github.com or
the GitHub Enterprise host named by `github_api_url` (https://HOST/api/v3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_SSH_ALIASES = {"ssh.github.com": "github.com"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_full_name(text: str) -> RepoRef:
    """`owner/name` -> RepoRef; anything else raises ValueError."""
    parts = text.strip().removesuffix(".git").split("/")
    if len(parts) != 2 or not all(_NAME.match(part) for part in parts):
        raise ValueError(f"{text!r} is not owner/name")
    return RepoRef(parts[0], parts[1])


def parse_remote_url(url: str) -> tuple[str, RepoRef] | None:
    """(host, repo) for a remote URL of the form host/owner/name; None for local paths."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        host, path = parts.hostname or "", parts.path
    else:
        match = _SCP_LIKE.match(url)
        if match is None or "/" in match["host"]:
            return None
        host, path = match["host"], match["path"]
    host = host.lower()
    try:
        return _SSH_ALIASES.get(host, host), parse_full_name(path.strip("/"))
    except ValueError:
        return None


def web_host(api_url: str) -> str:
    """The host git remotes name for an API URL: github.com for api.github.com, else its host."""
    host = (urlsplit(api_url).hostname or "").lower()
    return "github.com" if host == "api.github.com" else host


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint beside a REST base URL (Enterprise: /api/v3 -> /api/graphql)."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base.removesuffix("/v3") + "/graphql"
    return base + "/graphql"


def resolve_repo(configured: str | None, remote_url: str | None, api_url: str) -> RepoRef | None:
    """`configured` (owner/name) if set, else the remote's repo when it is on the API's host."""
    if configured:
        return parse_full_name(configured)
    parsed = parse_remote_url(remote_url) if remote_url else None
    if parsed is None:
        return None
    host, repo = parsed
    return repo if host == web_host(api_url) else None
