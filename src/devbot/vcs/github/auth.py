"""Credentials for GitHub's API: a personal access token, or a GitHub App.

A GitHub App authenticates as itself with a short JWT (RS256, signed with its private key),
looks up its installation on the repository and exchanges the JWT for an installation token,
kept until shortly before it expires. Secrets come from the environment only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

TOKEN_ENV = "GITHUB_TOKEN"
APP_ID_ENV = "DEVBOT_GITHUB_APP_ID"
PRIVATE_KEY_ENV = "DEVBOT_GITHUB_PRIVATE_KEY"
REFRESH_MARGIN_S = 300.0
"""An installation token is replaced this long before GitHub says it expires."""


class Credentials(Protocol):
    def token(self) -> str:
        """The bearer token for the next API request."""
        ...

    def secrets(self) -> list[str]:
        """Every secret this holds, for redaction."""
        ...


@dataclass
class TokenAuth:
    """A personal access token (classic or fine-grained) or any ready-made token."""

    value: str

    def token(self) -> str:
        return self.value

    def secrets(self) -> list[str]:
        return [self.value]


Requester = Callable[[str, str, str], dict[str, Any]]
"""(method, path, bearer token) -> JSON answer; raises on an error answer."""


class AppAuth:
    """Installation tokens of a GitHub App for one repository, cached until near expiry."""

    def __init__(
        self,
        app_id: str,
        private_key_pem: str,
        repo_full_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(private_key_pem.encode("utf-8"), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{PRIVATE_KEY_ENV}: a GitHub App key is an RSA private key")
        self.app_id = app_id
        self.repo_full_name = repo_full_name
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None
        self.requester: Requester | None = None

    def jwt(self) -> str:
        """The App's own token: RS256, issued a minute in the past (clock drift), 9 minutes long."""
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives.hashes import SHA256

        now = int(self._clock())
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"iat": now - 60, "exp": now + 540, "iss": self.app_id}).encode())
        signing_input = f"{header}.{claims}".encode("ascii")
        signature = self._key.sign(signing_input, PKCS1v15(), SHA256())
        return f"{header}.{claims}.{_b64(signature)}"

    def token(self) -> str:
        with self._lock:
            if self._cached is None or self._clock() >= self._cached[1] - REFRESH_MARGIN_S:
                self._cached = self._fetch()
            return self._cached[0]

    def secrets(self) -> list[str]:
        return [self._cached[0]] if self._cached else []

    def _fetch(self) -> tuple[str, float]:
        if self.requester is None:
            raise RuntimeError("AppAuth needs a requester (GitHubClient sets it)")
        app_jwt = self.jwt()
        installation = self.requester("GET", f"/repos/{self.repo_full_name}/installation", app_jwt)
        answer = self.requester(
            "POST", f"/app/installations/{installation['id']}/access_tokens", app_jwt
        )
        expires = dt.datetime.fromisoformat(str(answer["expires_at"]).replace("Z", "+00:00"))
        return str(answer["token"]), expires.timestamp()


def read_private_key(value: str) -> str:
    """The PEM text itself, or the text of the file it names."""
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"{PRIVATE_KEY_ENV}: neither PEM text nor a readable file")
    return path.read_text(encoding="utf-8")


def credentials_from_env(
    environ: Mapping[str, str], app_id: str | None, repo_full_name: str
) -> Credentials | None:
    """A GitHub App when an app id and key are set, else GITHUB_TOKEN, else None."""
    app_id = app_id or environ.get(APP_ID_ENV) or None
    key = environ.get(PRIVATE_KEY_ENV) or None
    if app_id and key:
        return AppAuth(app_id, read_private_key(key), repo_full_name)
    if app_id or key:
        missing = PRIVATE_KEY_ENV if app_id else APP_ID_ENV
        raise ValueError(f"a GitHub App needs both {APP_ID_ENV} and {PRIVATE_KEY_ENV}: {missing}")
    token = environ.get(TOKEN_ENV, "").strip()
    return TokenAuth(token) if token else None


def has_credentials(environ: Mapping[str, str], app_id: str | None) -> bool:
    """Whether any GitHub credential is configured (a half-configured App counts: it is an
    error worth reporting, not a reason to fall back to the local forge silently)."""
    names = (TOKEN_ENV, APP_ID_ENV, PRIVATE_KEY_ENV)
    return bool(app_id) or any(environ.get(name, "").strip() for name in names)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
