"""Access rules of the dashboard, decided without a server."""

from __future__ import annotations

import pytest

from devbot.config import ConfigError
from devbot.triggers.dashboard.access import (
    AUTH_COOKIE,
    Access,
    FailedLogins,
    Request,
    dashboard_token,
    host_name,
    is_loopback,
)

TOKEN = "a-token-of-enough-length"


def request(
    client: str = "127.0.0.1",
    host: str = "127.0.0.1:8080",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> Request:
    return Request(client, host, headers or {}, cookies or {})


def test_login_is_needed_everywhere_but_plain_loopback() -> None:
    open_ = Access.build(TOKEN, "127.0.0.1")
    assert not open_.login_needed(request())
    assert not open_.login_needed(request(client="::1"))
    assert open_.login_needed(request(client="10.1.2.3"))
    assert open_.login_needed(request(headers={"x-forwarded-for": "198.51.100.7"}))
    assert open_.login_needed(request(headers={"forwarded": "for=198.51.100.7"}))
    assert Access.build(TOKEN, "0.0.0.0").login_needed(request())
    assert Access.build(TOKEN, "127.0.0.1", "always").login_needed(request())


def test_an_open_dashboard_answers_only_to_loopback_names() -> None:
    access = Access.build(None, "127.0.0.1")
    for host in ("127.0.0.1:80", "localhost:8080", "[::1]:8080", "localhost"):
        assert access.host_allowed(request(host=host)), host
    for host in ("evil.example:8080", "127.0.0.1.evil.example", ""):
        assert not access.host_allowed(request(host=host)), host
    assert host_name("[::1]:8080") == "::1" and is_loopback("127.8.9.10")


def test_login_cookie_is_bound_to_its_session_and_expires() -> None:
    access = Access.build(TOKEN, "0.0.0.0")
    cookie = access.login_cookie("session-a" * 3, now=1000.0)
    seen = request(cookies={AUTH_COOKIE: cookie})
    assert access.logged_in(seen, "session-a" * 3, now=1001.0)
    assert not access.logged_in(seen, "session-b" * 3, now=1001.0)
    assert not access.logged_in(seen, "session-a" * 3, now=1000.0 + 13 * 3600)
    forged = request(cookies={AUTH_COOKIE: "99999999999." + "0" * 64})
    assert not access.logged_in(forged, "session-a" * 3, now=1001.0)
    other_token = Access.build(TOKEN + "x", "0.0.0.0")
    assert not other_token.logged_in(seen, "session-a" * 3, now=1001.0)
    assert not Access.build(None, "0.0.0.0").logged_in(seen, "session-a" * 3, now=1001.0)


def test_bearer_token_and_csrf_tokens() -> None:
    access = Access.build(TOKEN, "0.0.0.0")
    assert access.bearer_ok(request(headers={"authorization": f"Bearer {TOKEN}"}), now=0.0)
    assert not access.bearer_ok(request(headers={"authorization": f"Basic {TOKEN}"}), now=0.0)
    assert not access.bearer_ok(request(headers={"authorization": "Bearer"}), now=0.0)
    assert not access.bearer_ok(request(), now=0.0)
    assert access.csrf_ok("s" * 20, access.csrf_token("s" * 20))
    assert not access.csrf_ok("t" * 20, access.csrf_token("s" * 20))
    assert not access.csrf_ok("s" * 20, "")


def test_sessions_are_random_and_malformed_cookies_replaced() -> None:
    access = Access.build(None, "127.0.0.1")
    first, new = access.session_of(request())
    assert new and len(first) >= 16 and first != access.session_of(request())[0]
    assert access.session_of(request(cookies={"devbot_session": first})) == (first, False)
    assert access.session_of(request(cookies={"devbot_session": "x;y"}))[1]


def test_token_comes_from_the_environment_and_must_be_long() -> None:
    assert dashboard_token({}) is None
    assert dashboard_token({"DEVBOT_DASHBOARD_TOKEN": f"  {TOKEN} "}) == TOKEN
    with pytest.raises(ConfigError, match="at least 16"):
        dashboard_token({"DEVBOT_DASHBOARD_TOKEN": "short"})


def test_wrong_bearer_tokens_count_as_failed_logins() -> None:
    access = Access.build(TOKEN, "0.0.0.0")
    for n in range(10):
        assert not access.bearer_ok(request(headers={"authorization": f"Bearer x{n}"}), now=1.0)
    right = request(headers={"authorization": f"Bearer {TOKEN}"})
    assert not access.bearer_ok(right, now=2.0)  # blocked: not even the right one is tried
    assert access.bearer_ok(right, now=62.0)


def test_failed_logins_wait_after_too_many_in_a_minute() -> None:
    failures = FailedLogins(most=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert not failures.blocked(t)
        failures.add(t)
    assert failures.blocked(30.0)
    assert not failures.blocked(60.5)
