"""Forge credentials reach git only through its environment: never in a URL, an argument,
the mirror's configuration or a file in a worktree; and only for the forge's own host."""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devbot.config import load_settings
from devbot.vcs.git import Git, GitError, RemoteAuth
from devbot.vcs.github.factory import github_git_auth

TOKEN = "ghs_canaryToken0123456789abcdefABCDEF012345"


@pytest.fixture
def git_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server that records the Authorization header of git's requests (and refuses
    them: what matters is what git sent)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", seen
    httpd.shutdown()
    httpd.server_close()


def _logging_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that writes its arguments to a log, then runs the real git."""
    real = next(
        Path(folder) / "git"
        for folder in os.environ["PATH"].split(os.pathsep)
        if (Path(folder) / "git").is_file()
    )
    log = tmp_path / "argv.log"
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def test_the_header_goes_to_the_remote_through_the_environment_only(
    git_server: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_git: None,
) -> None:
    url, seen = git_server
    argv = _logging_git(tmp_path, monkeypatch)
    header = "Authorization: Basic " + base64.b64encode(f"x:{TOKEN}".encode()).decode()
    auth = RemoteAuth(url, lambda: header)
    with pytest.raises(GitError) as failed:
        Git.init_mirror(tmp_path / "mirror.git", url + "octo/hello.git", "origin", auth=auth)

    assert seen and all(value == header.removeprefix("Authorization: ") for value in seen)
    secret = base64.b64encode(f"x:{TOKEN}".encode()).decode()
    assert secret not in argv.read_text() and TOKEN not in argv.read_text()
    assert secret not in str(failed.value)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p != argv]
    assert all(secret not in p.read_text(errors="replace") for p in leftovers)


def test_the_forge_token_is_offered_to_the_forge_host_over_https_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    settings = load_settings(None, {"github_repo": "octo/hello"}, environ={})
    auth = github_git_auth(settings, "https://github.com/octo/hello.git")
    assert auth is not None and auth.url_prefix == "https://github.com/"
    decoded = base64.b64decode(auth.header().removeprefix("Authorization: Basic ")).decode()
    assert decoded == f"x-access-token:{TOKEN}"
    assert github_git_auth(settings, "git@github.com:octo/hello.git") is None
    assert github_git_auth(settings, "https://gitlab.example/octo/hello.git") is None
    assert github_git_auth(settings, "http://github.com/octo/hello.git") is None
