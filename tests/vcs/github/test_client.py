"""The GitHub client against the double: auth, retries, errors, Enterprise base URL."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from devbot.vcs.github.auth import AppAuth, TokenAuth, credentials_from_env, read_private_key
from devbot.vcs.github.client import GitHubError
from tests.fixtures.github_double import DEFAULT_LOGIN, GitHubDouble
from tests.vcs.github.helpers import REPO, make_forge


@pytest.fixture(scope="module")
def app_key() -> tuple[str, bytes]:
    """(private PEM, public PEM) of a throwaway RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_personal_access_token(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    forge.open_or_update_pull_request(title="T", body="B", head="devbot/pat", base="main")
    assert github_double.pulls(REPO)[0]["user"]["login"] == DEFAULT_LOGIN
    assert all(r.headers["authorization"] == "***" for r in github_double.requests)


def test_bad_token_is_a_clear_error_without_the_token(github_double: GitHubDouble) -> None:
    secret = "ghp_wrongTokenCanary123"
    forge = make_forge(github_double, TokenAuth(secret))
    with pytest.raises(GitHubError) as caught:
        forge.find_pull_request("x")
    assert caught.value.status == 401 and "Bad credentials" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_github_app_installation_token_cached(
    github_double: GitHubDouble, app_key: tuple[str, bytes]
) -> None:
    private, public = app_key
    github_double.add_repo(REPO)
    github_double.add_app("4242", public, slug="devbot")
    github_double.install_app("4242", REPO)
    now = [time.time()]
    github_double.clock = auth_clock = lambda: now[0]
    auth = AppAuth("4242", private, REPO, clock=auth_clock)
    forge = make_forge(github_double, auth)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/app", base="main")
    forge.post_comment(pr.number, "hello")
    assert github_double.pulls(REPO)[0]["user"]["login"] == "devbot[bot]"
    assert forge.identity() == "devbot[bot]" == pr.author
    assert len(github_double.installation_tokens) == 1
    now[0] += 3600 - 400
    forge.find_pull_request("devbot/app")
    assert len(github_double.installation_tokens) == 1
    now[0] += 200
    forge.find_pull_request("devbot/app")
    assert len(github_double.installation_tokens) == 2
    exchanges = [r.path for r in github_double.requests if r.path.startswith("/app/")]
    assert len(exchanges) == 2


def test_app_token_is_only_good_for_its_repository(
    github_double: GitHubDouble, app_key: tuple[str, bytes]
) -> None:
    private, public = app_key
    github_double.add_repo("octo/other")
    github_double.add_app("7", public)
    github_double.install_app("7", "octo/other")
    forge = make_forge(github_double, AppAuth("7", private, REPO))
    with pytest.raises(GitHubError) as caught:
        forge.find_pull_request("x")
    assert caught.value.status == 404


def test_app_jwt_signed_by_another_key_is_refused(
    github_double: GitHubDouble, app_key: tuple[str, bytes]
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    github_double.add_repo(REPO)
    github_double.add_app("9", app_key[1])
    github_double.install_app("9", REPO)
    with pytest.raises(GitHubError) as caught:
        make_forge(github_double, AppAuth("9", pem, REPO)).find_pull_request("x")
    assert caught.value.status == 401


def test_credentials_from_the_environment(app_key: tuple[str, bytes], tmp_path: object) -> None:
    assert credentials_from_env({}, None, REPO) is None
    token = credentials_from_env({"GITHUB_TOKEN": "ghp_x"}, None, REPO)
    assert isinstance(token, TokenAuth) and token.token() == "ghp_x"
    env = {"GITHUB_TOKEN": "ghp_x", "DEVBOT_GITHUB_PRIVATE_KEY": app_key[0]}
    assert isinstance(credentials_from_env(env, "12", REPO), AppAuth)
    with pytest.raises(ValueError, match="DEVBOT_GITHUB_PRIVATE_KEY"):
        credentials_from_env({"DEVBOT_GITHUB_APP_ID": "12"}, None, REPO)
    assert read_private_key(app_key[0].replace("\n", "\\n")) == app_key[0]


def test_private_key_from_a_file(
    app_key: tuple[str, bytes], tmp_path: pytest.TempPathFactory
) -> None:
    path = tmp_path / "app.pem"  # type: ignore[operator]
    path.write_text(app_key[0], encoding="utf-8")
    env = {"DEVBOT_GITHUB_APP_ID": "12", "DEVBOT_GITHUB_PRIVATE_KEY": str(path)}
    assert isinstance(credentials_from_env(env, None, REPO), AppAuth)


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda: (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()))}),
        lambda: (429, {"retry-after": "2"}),
        lambda: (403, {"retry-after": "1"}),
        lambda: (502, {}),
        lambda: (503, {}),
    ],
    ids=["403-rate-limit", "429", "403-secondary", "502", "503"],
)
def test_retried_then_success(
    github_double: GitHubDouble, headers_for: Callable[[], tuple[int, dict[str, str]]]
) -> None:
    status, headers = headers_for()
    waits: list[float] = []
    forge = make_forge(github_double, sleep=waits.append, backoff_s=0.5)
    body = {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com"}
    github_double.fail_next(status, body=body, headers=headers, times=2)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/r", base="main")
    assert pr.number == 1 and len(waits) == 2
    if "retry-after" in headers:
        assert waits == [float(headers["retry-after"])] * 2
    elif status >= 500:
        assert waits == [0.5, 1.0]
    else:
        assert all(0.0 <= wait <= 2.0 for wait in waits)


def test_retries_give_up_with_the_last_answer(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double, retries=2)
    github_double.fail_next(502, body={"message": "Bad gateway"}, times=5)
    with pytest.raises(GitHubError) as caught:
        forge.find_pull_request("x")
    assert caught.value.status == 502
    assert len(github_double.requests) == 3


def test_rate_limit_reset_too_far_away_is_not_waited_for(github_double: GitHubDouble) -> None:
    waits: list[float] = []
    forge = make_forge(github_double, sleep=waits.append, max_wait_s=60)
    reset = str(int(time.time()) + 3000)
    github_double.fail_next(
        403,
        body={"message": "API rate limit exceeded for user"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    with pytest.raises(GitHubError, match="rate limit"):
        forge.find_pull_request("x")
    assert waits == []


def test_forbidden_without_rate_limit_is_not_retried(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    github_double.fail_next(403, body={"message": "Must have admin rights to Repository."})
    with pytest.raises(GitHubError, match="admin rights"):
        forge.find_pull_request("x")
    assert len(github_double.requests) == 1


def test_not_found_and_validation_errors_are_clear(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double, repo="octo/missing")
    del github_double.repos["octo/missing"]
    with pytest.raises(GitHubError) as missing:
        forge.find_pull_request("x")
    assert missing.value.status == 404
    assert str(missing.value).startswith("GitHub GET /repos/octo/missing/pulls answered 404")
    assert "docs.github.com" in str(missing.value)

    forge = make_forge(github_double)
    with pytest.raises(GitHubError) as invalid:
        forge.open_or_update_pull_request(title="", body="B", head="devbot/x", base="main")
    assert invalid.value.status == 422
    assert "Validation Failed" in str(invalid.value) and "missing_field" in str(invalid.value)


def test_requests_off_the_rest_description_are_refused(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    with pytest.raises(GitHubError) as caught:
        forge.client.post(f"/repos/{REPO}/pulls", {"title": 5, "head": "x", "base": "main"})
    assert caught.value.status == 422
    with pytest.raises(GitHubError) as unknown:
        forge.client.get(f"/repos/{REPO}/pull-requests")
    assert unknown.value.status == 404
    assert len(github_double.violations) == 2
    github_double.violations.clear()


def test_enterprise_base_url(github_double_factory: Callable[..., GitHubDouble]) -> None:
    double = github_double_factory(prefix="/api/v3")
    forge = make_forge(double)
    assert forge.client.graphql_url == double.base_url + "/api/graphql"
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/e", base="main")
    double.add_review_comment(REPO, pr.number, "octo", "nit")
    assert [c.thread_id is not None for c in forge.list_feedback(pr.number)] == [True]
    assert all(r.path.startswith("/api/") for r in double.requests)
