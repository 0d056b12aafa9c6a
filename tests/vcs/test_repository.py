"""A repository is named by its remote: one key for every spelling, no credentials kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbot.vcs.repository import Repository, RepositoryError, clean_url, parse_repository


def test_https_and_ssh_spellings_of_one_remote_share_a_key() -> None:
    keys = {
        Repository(url).key
        for url in (
            "https://github.com/Octo/hello.git",
            "https://github.com/Octo/hello",
            "git@github.com:Octo/hello.git",
            "ssh://git@GitHub.com/Octo/hello.git",
        )
    }
    assert keys == {"github.com/Octo/hello"}


def test_credentials_in_a_url_are_never_kept() -> None:
    assert clean_url("https://x-access-token:ghs_secret@github.com/o/n.git") == (
        "https://github.com/o/n.git"
    )
    assert clean_url("ssh://git@host:2222/o/n.git") == "ssh://git@host:2222/o/n.git"
    with pytest.raises(RepositoryError):
        clean_url("ext::sh -c evil")


def test_a_local_remote_is_made_absolute_against_its_checkout(tmp_path: Path) -> None:
    assert clean_url("../origin.git", base=tmp_path / "work") == str(tmp_path / "origin.git")
    assert Repository(str(tmp_path / "origin.git")).key == f"file://{tmp_path}/origin.git"
    assert Repository(f"file://{tmp_path}/origin.git").key == f"file://{tmp_path}/origin.git"


def test_owner_slash_name_is_the_forge_repository_over_https() -> None:
    assert parse_repository("octo/hello").url == "https://github.com/octo/hello.git"
    assert parse_repository("octo/hello", "ghe.example").url == (
        "https://ghe.example/octo/hello.git"
    )
    assert parse_repository("file:///srv/app.git").url == "file:///srv/app.git"
    with pytest.raises(RepositoryError, match="neither a checkout"):
        parse_repository("not a repository")


def test_slugs_differ_for_different_remotes_of_one_name() -> None:
    first = Repository("https://github.com/a/app.git").slug
    second = Repository("https://github.com/b/app.git").slug
    assert first != second and first.startswith("app-") and second.startswith("app-")
