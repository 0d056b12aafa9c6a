"""Which repository a run works on: named by its remote, so any machine can run it.

A run request carries a `Repository`: the URL of the remote (a forge repository or any git
URL), and the checkout it was submitted from, when there was one. A process that serves that
checkout (`devbot run`, `watch`, `serve` in it) works in the checkout as it always did; any
other worker works in a bare mirror of the remote in its own state directory. The URL is
kept without credentials: they come from the worker's own environment, never from a request
or a database.

`key` names the repository for queues, run records and feedback bookkeeping: the host and
path of the URL (`github.com/octo/hello` for both the https and the ssh spelling), so two
spellings of one remote share one partition of the run queue.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_NETWORK_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")


class RepositoryError(ValueError):
    """A repository cannot be named this way; the message says why and what to write."""


@dataclass(frozen=True)
class Repository:
    """A repository by its remote. `url` is "" for a checkout without a remote (then only
    a process serving `checkout` can run it)."""

    url: str
    checkout: str = ""

    @property
    def key(self) -> str:
        return remote_key(self.url) if self.url else f"file://{self.checkout}"

    @property
    def name(self) -> str:
        """A short name for people and folders: the last part of the key."""
        last = self.key.rstrip("/").rsplit("/", 1)[-1]
        return last.removesuffix(".git") or "repository"

    @property
    def slug(self) -> str:
        """A folder name unique to `key`: the name and a hash of the key."""
        digest = hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:12]
        return f"{_SLUG.sub('-', self.name)[:40]}-{digest}"


def clean_url(url: str, base: Path | None = None) -> str:
    """`url` as a run records it: a local path made absolute (relative to `base`, the
    checkout whose remote it is), a network URL with any user name or password taken out."""
    url = url.strip()
    if not url:
        raise RepositoryError("an empty remote URL")
    if _HELPER.match(url):
        raise RepositoryError(f"{url!r}: a remote helper (`<transport>::`) is not fetched")
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return url.rstrip("/") or url
        if parts.scheme not in _NETWORK_SCHEMES:
            raise RepositoryError(f"{url!r}: devbot fetches over {', '.join(_NETWORK_SCHEMES)}")
        host = parts.hostname or ""
        if not host:
            raise RepositoryError(f"{url!r} names no host")
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        if parts.scheme in ("ssh", "git+ssh", "ssh+git") and parts.username:
            netloc = f"{parts.username}@{netloc}"  # an ssh login is not a secret
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    if _SCP_LIKE.match(url) and not url.startswith(("/", ".")):
        return url
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return os.path.normpath(path)


def remote_key(url: str) -> str:
    """The identity of a remote: `host/owner/name` for network URLs, the path for local ones."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return "file://" + os.path.normpath(parts.path)
        path = parts.path.strip("/").removesuffix(".git")
        return f"{(parts.hostname or '').lower()}/{path}"
    match = _SCP_LIKE.match(url)
    if match and not url.startswith(("/", ".")):
        path = match["path"].strip("/").removesuffix(".git")
        return f"{match['host'].lower()}/{path}"
    return "file://" + os.path.normpath(url)


def repository_of_key(key: str) -> Repository:
    """A repository that has `key`, for what needs only the key's host and path (which forge
    it is on): `file://` keys as they are, `host/path` as https."""
    if key.startswith("file://"):
        return Repository(key)
    return Repository(f"https://{key}.git")


def parse_repository(text: str, web_host: str = "github.com") -> Repository:
    """What `--repo` names when it is not a checkout: a git URL, or `owner/name` on the
    forge's web host (https)."""
    text = text.strip()
    if re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", text) and not Path(text).exists():
        return Repository(f"https://{web_host}/{text.removesuffix('.git')}.git")
    if "://" in text or _SCP_LIKE.match(text):
        return Repository(clean_url(text))
    raise RepositoryError(f"{text!r} is neither a checkout, a git URL nor owner/name on {web_host}")
