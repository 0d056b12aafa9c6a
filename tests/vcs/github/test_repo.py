"""Which repository and API a remote URL or setting names."""

from __future__ import annotations

import pytest

from devbot.vcs.github.repo import (
    RepoRef,
    graphql_url,
    parse_full_name,
    parse_remote_url,
    resolve_repo,
)

GHE = "https://ghe.example.com/api/v3"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/octo/hello.git", ("github.com", "octo/hello")),
        ("https://github.com/octo/hello", ("github.com", "octo/hello")),
        ("https://x-access-token:secret@github.com/octo/hello.git", ("github.com", "octo/hello")),
        ("git@github.com:octo/hello.git", ("github.com", "octo/hello")),
        ("ssh://git@github.com/octo/hello.git", ("github.com", "octo/hello")),
        ("ssh://git@ssh.github.com:443/octo/hello.git", ("github.com", "octo/hello")),
        ("git@ghe.example.com:team/my.repo.git", ("ghe.example.com", "team/my.repo")),
        ("https://GHE.example.com/team/tool/", ("ghe.example.com", "team/tool")),
        ("/srv/git/origin.git", None),
        ("../origin.git", None),
        ("file:///srv/git/origin.git", None),
        ("https://github.com/only-owner", None),
        ("https://gitlab.com/group/sub/project.git", None),
    ],
)
def test_remote_urls(url: str, expected: tuple[str, str] | None) -> None:
    parsed = parse_remote_url(url)
    assert (None if parsed is None else (parsed[0], parsed[1].full_name)) == expected


def test_repo_setting_wins_over_the_remote() -> None:
    assert resolve_repo("me/mine", "git@github.com:octo/hello.git", GHE) == RepoRef("me", "mine")


def test_remote_must_be_on_the_api_host() -> None:
    assert resolve_repo(None, "git@github.com:octo/hello.git", "https://api.github.com") == (
        RepoRef("octo", "hello")
    )
    assert resolve_repo(None, "git@github.com:octo/hello.git", GHE) is None
    assert resolve_repo(None, "https://ghe.example.com/team/tool.git", GHE) == RepoRef(
        "team", "tool"
    )
    assert resolve_repo(None, "/srv/origin.git", "https://api.github.com") is None


def test_bad_repo_setting_is_refused() -> None:
    for text in ("hello", "a/b/c", "a b/c", ""):
        with pytest.raises(ValueError):
            parse_full_name(text)


def test_graphql_url_beside_rest() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url(GHE) == "https://ghe.example.com/api/graphql"
    assert graphql_url(GHE + "/") == "https://ghe.example.com/api/graphql"
