"""Who may see the dashboard and act on runs.

Bound to a loopback address and asked from the loopback (no proxy in between), the
dashboard is open: the machine's own user, as with `devbot runs`. Anywhere else — bound to
another address, a request a proxy forwarded, or `dashboard_login = "always"` — every page
and action needs a login with the token of `DEVBOT_DASHBOARD_TOKEN` (a form that sets a
signed cookie, or `Authorization: Bearer TOKEN`); without a token configured such requests
are refused. An open dashboard still answers only to a loopback `Host`, so a web page whose
name an attacker points at 127.0.0.1 (DNS rebinding) reads nothing.

Every action (a POST) carries a CSRF token bound to the browser's session cookie, which is
`SameSite=Strict`; a request with `Authorization: Bearer` needs none (browsers never add that
header on their own).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from devbot.config import ConfigError

TOKEN_ENV = "DEVBOT_DASHBOARD_TOKEN"
MIN_TOKEN_CHARS = 16
SESSION_COOKIE = "devbot_session"
AUTH_COOKIE = "devbot_auth"
LOGIN_S = 12 * 3600
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def dashboard_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The login token from the environment (never from `devbot.toml`); None when unset."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    if not value:
        return None
    if len(value) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{TOKEN_ENV} is {len(value)} characters long: use at least {MIN_TOKEN_CHARS} "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name, without port) is this machine's loopback."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name of a `Host` header, without its port (`[::1]:8080` -> `::1`)."""
    value = host_header.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass
class FailedLogins:
    """Wrong tokens tried: more than `most` in `window_s` and logins wait (429)."""

    most: int = 10
    window_s: float = 60.0
    _times: deque[float] = field(default_factory=deque)

    def blocked(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        return len(self._times) >= self.most

    def add(self, now: float) -> None:
        self._times.append(now)


@dataclass(frozen=True)
class Request:
    """What access decisions read of an HTTP request."""

    client: str
    host: str
    headers: Mapping[str, str]
    cookies: Mapping[str, str]


@dataclass
class Access:
    """The dashboard's access rules for one server (see the module's docstring)."""

    token: str | None
    bound_loopback: bool
    login_always: bool = False
    key: bytes = b""
    failures: FailedLogins = field(default_factory=FailedLogins)

    @classmethod
    def build(cls, token: str | None, bind_host: str, login: str = "auto") -> Access:
        """Sessions are signed with a key derived from the token, so they outlive a restart
        and die with the token; without a token with a key of this process."""
        key = (
            hmac.new(token.encode(), b"devbot-dashboard-sessions", hashlib.sha256).digest()
            if token
            else secrets.token_bytes(32)
        )
        return cls(token, is_loopback(bind_host), login == "always", key)

    def login_needed(self, request: Request) -> bool:
        if self.login_always or not self.bound_loopback or not is_loopback(request.client):
            return True
        return any(name in request.headers for name in PROXY_HEADERS)

    def host_allowed(self, request: Request) -> bool:
        """An open dashboard answers only to a loopback name (no DNS rebinding)."""
        return self.login_needed(request) or is_loopback(host_name(request.host))

    def session_of(self, request: Request) -> tuple[str, bool]:
        """The browser's session id, and whether it is new (a cookie to set)."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        if 16 <= len(sid) <= 64 and sid.replace("-", "").replace("_", "").isalnum():
            return sid, False
        return secrets.token_urlsafe(24), True

    def bearer_ok(self, request: Request, now: float) -> bool:
        """Whether the request carries `Authorization: Bearer TOKEN`; a wrong one counts as
        a failed login, and while failed logins are blocked none is accepted."""
        header = request.headers.get("authorization")
        if not header or self.failures.blocked(now):
            return False
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and self.token_ok(given.strip()):
            return True
        self.failures.add(now)
        return False

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            given.encode("utf-8", "replace"), self.token.encode()
        )

    def logged_in(self, request: Request, sid: str, now: float) -> bool:
        """Whether the request carries a login cookie of this session, still valid."""
        expiry, _, mac = request.cookies.get(AUTH_COOKIE, "").partition(".")
        if self.token is None or not expiry.isdigit() or int(expiry) < now:
            return False
        return hmac.compare_digest(mac, self._mac("auth", sid, expiry))

    def login_cookie(self, sid: str, now: float) -> str:
        expiry = str(int(now + LOGIN_S))
        return f"{expiry}.{self._mac('auth', sid, expiry)}"

    def csrf_token(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.csrf_token(sid).encode())

    def allowed(self, request: Request, sid: str, bearer: bool) -> bool:
        """Whether this request may see pages and act (CSRF aside); `bearer`: it carried the
        token (`bearer_ok`)."""
        if bearer or not self.login_needed(request):
            return True
        return self.logged_in(request, sid, time.time())

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
