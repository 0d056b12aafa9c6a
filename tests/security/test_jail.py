"""The file tools never reach into a `.git` at any depth or out of the workspace.

The red-team pass wrote `sub/.git/config` (a nested repository with core.fsmonitor) through
the file tools alone; host git would later have run it. Every tool must refuse such a path,
written in any letter case or reached through a symbolic link, and the listing tools must not
show or read what lies under one. The property tests try generated path shapes over trees of
generated symbolic links.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devbot.tools import PathOutsideWorkspace, ToolResult, Workspace, resolve_in_workspace
from devbot.vcs.git import Git

GIT_NAMES = [".git", ".GIT", ".Git", ".gIT"]
DEPTHS = ["", "sub/", "a/b/c/"]
FSMONITOR = "[core]\n\tfsmonitor = touch /tmp/pwned\n"


def _git(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _is_git(part: str) -> bool:
    return part.lower() == ".git"


# One tool call on a path, as the model would make it.
Call = Callable[[Workspace, str], ToolResult]
CALLS: dict[str, Call] = {
    "write": lambda ws, path: ws.write_file(path, FSMONITOR),
    "edit": lambda ws, path: ws.edit_file(path, [("[core]", "[user]")]),
    "delete": lambda ws, path: ws.delete_file(path),
    "read": lambda ws, path: ws.read_file(path),
    "list": lambda ws, path: ws.list_files(path),
    "search": lambda ws, path: ws.search_files("core", path),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("git", GIT_NAMES)
def test_git_at_any_depth_and_case_is_refused(
    workspace: Workspace, call: str, depth: str, git: str
) -> None:
    config = workspace.root / f"{depth}{git}" / "config"
    config.parent.mkdir(parents=True)
    config.write_text("[core]\n")
    for path in (f"{depth}{git}/config", f"{depth}{git}", f"./{depth}x/../{git}/config"):
        result = CALLS[call](workspace, path)
        assert not result.ok, (call, path)
        assert "inside a .git directory" in result.output
    assert config.read_text() == "[core]\n"


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("cfg", "sub/.git/config"),
        ("dir", "sub/.GIT"),
        ("deep/up", "../sub/.Git"),
        ("later", "new/.git/config"),
    ],
)
def test_symlink_to_a_nested_git_is_refused(
    workspace: Workspace, call: str, link: str, target: str
) -> None:
    root = workspace.root
    for name in ("sub/.git/config", "sub/.GIT/config", "sub/.Git/config"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("[core]\n")
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(target)
    before = _snapshot(root)
    path = link if target.endswith("config") else f"{link}/config"
    result = CALLS[call](workspace, path)
    assert not result.ok
    assert "inside a .git directory" in result.output
    assert _snapshot(root) == before


@pytest.mark.parametrize("in_git_repo", [False, True], ids=["walked", "git"])
def test_listing_and_search_never_show_a_nested_git(
    workspace: Workspace, in_git_repo: bool
) -> None:
    root = workspace.root
    if in_git_repo:
        _git(root, "init", "-q")
        workspace = Workspace(root, listing=Git.repository(root).listed_files)
    files = ["app.py", "sub/lib.py"] + [f"{d}{g}/config" for d in DEPTHS[1:] for g in GIT_NAMES]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("needle\n")
    (root / "cfg").symlink_to("sub/.GIT/config")
    listed = workspace.list_files().output.splitlines()
    assert listed == ["app.py", "sub/lib.py"]
    assert workspace.list_files("sub").output.splitlines() == ["sub/lib.py"]
    found = workspace.search_files("needle").output.splitlines()
    assert found == ["app.py:1: needle", "sub/lib.py:1: needle"]


@pytest.mark.parametrize(
    ("repository", "listed"),
    [(".", "app.py"), ("sub", "No files under 'sub'.")],
)
def test_listing_runs_no_program_a_repository_config_names(
    workspace: Workspace, tmp_path: Path, repository: str, listed: str
) -> None:
    """A command in the sandbox can make any directory a repository with core.fsmonitor set;
    list_files and search_files list through host git, which must not start it, and never
    descend into a nested repository."""
    marker = tmp_path / "fsmonitor-ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    _git(workspace.root, "init", "-q")
    repo = workspace.root / repository
    repo.mkdir(exist_ok=True)
    (repo / "app.py").write_text("needle\n")
    if repository != ".":
        _git(repo, "init", "-q")
    _git(repo, "config", "core.fsmonitor", str(hook))
    workspace = Workspace(workspace.root, listing=Git.repository(workspace.root).listed_files)
    assert workspace.list_files(repository).output == listed
    workspace.search_files("needle", repository)
    assert not marker.exists()


def test_the_red_team_write_is_refused_and_leaves_nothing(workspace: Workspace) -> None:
    (workspace.root / "sub").mkdir()
    result = workspace.write_file("sub/.git/config", FSMONITOR)
    assert not result.ok
    assert not (workspace.root / "sub" / ".git").exists()


def test_names_that_only_look_like_git_are_files_like_any_other(workspace: Workspace) -> None:
    for path in ("sub/.gitignore", "a/.git-blame-ignore-revs", "b/git/x", "c/.github/ci.yml"):
        assert workspace.write_file(path, "x\n").ok, path


# Property tests over generated trees of symbolic links and generated paths.

NAMES = ["a", "b", "sub", "x y", "é", "日本"]
_git_name = st.tuples(*(st.booleans() for _ in range(3))).map(
    lambda upper: "." + "".join(c.upper() if u else c for c, u in zip("git", upper, strict=True))
)
LINKS = ["l0", "l1", "l2", "l3"]
_component = st.one_of(
    st.sampled_from(LINKS),
    st.sampled_from([*NAMES, "config", "hooks"]),
    st.sampled_from([".", "..", ""]),
    st.one_of(st.just(".git"), _git_name),
)
_path = st.one_of(
    st.lists(_component, min_size=1, max_size=6).map("/".join),
    st.tuples(
        st.sampled_from(["", "sub/", "a/b/", "l0/", "l1/"]),
        _git_name,
        st.sampled_from(["", "/config", "/hooks/pre-commit", "/new/file"]),
    ).map("".join),
    st.tuples(
        st.sampled_from(LINKS), st.sampled_from(["", "/config", "/hooks/x", "/new", "/b/../c"])
    ).map("".join),
    st.text(alphabet=st.sampled_from("./ag\0"), min_size=1, max_size=10),
)

# Where a generated link points: a place inside, a way out, an absolute path, another link
# (chains and loops), or into a nested .git.
_target = st.one_of(
    st.sampled_from(["a", "a/b", "sub", "missing/deeper", "."]),
    st.sampled_from(["..", "../outside", "../outside/secret.txt", "../../..", "a/../../outside"]),
    st.sampled_from(["ROOT/a", "ROOT/sub/.git", "OUTSIDE", "OUTSIDE/secret.txt", "/"]),
    st.sampled_from([*LINKS, "a/l0", "../ws/l1"]),
    st.sampled_from(["sub/.git", "sub/.git/config", "sub/.GIT/hooks", ".git"]),
)
_links = st.dictionaries(st.sampled_from([*LINKS, "a/l0", "sub/l1"]), _target, max_size=5)


@contextmanager
def _tree(links: dict[str, str]) -> Iterator[tuple[Path, Path]]:
    """A fresh workspace `ws` with a nested repository and the given links, beside `outside`."""
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(os.path.realpath(temporary))
        root, outside = base / "ws", base / "outside"
        for directory in (root / "a" / "b", root / "sub" / ".git" / "hooks", root / ".git"):
            directory.mkdir(parents=True)
        (root / "sub" / ".git" / "config").write_text("[core]\n")
        (root / "a" / "f.txt").write_text("inside\n")
        outside.mkdir()
        (outside / "secret.txt").write_text("secret\n")
        for name, target in links.items():
            target = target.replace("ROOT", str(root)).replace("OUTSIDE", str(outside))
            (root / name).symlink_to(target)
        yield root, base


def _snapshot(top: Path, skip: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every entry under `top` (but `skip`) with its kind and its content or link target."""
    seen: dict[str, tuple[str, str]] = {}
    for directory, subdirectories, names in os.walk(top):
        here = Path(directory)
        subdirectories[:] = [d for d in subdirectories if here / d != skip]
        for name in [*subdirectories, *names]:
            path = here / name
            key = str(path.relative_to(top))
            if path.is_symlink():
                seen[key] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[key] = ("dir", "")
            else:
                seen[key] = ("file", path.read_bytes().hex())
    return seen


def _protected(root: Path, base: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """What no tool call may change: everything outside `ws`, and whatever lies in a .git
    (in any letter case) inside it."""
    inside = _snapshot(root)
    in_git = {k: v for k, v in inside.items() if any(_is_git(p) for p in Path(k).parts)}
    return {"outside": _snapshot(base, skip=root), "git": in_git}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(links=_links, relative=_path)
def test_resolved_paths_stay_inside_and_out_of_git(links: dict[str, str], relative: str) -> None:
    with _tree(links) as (root, _):
        try:
            resolved = resolve_in_workspace(root, relative)
        except PathOutsideWorkspace:
            return
        assert resolved.is_relative_to(root)
        assert not any(_is_git(part) for part in resolved.relative_to(root).parts)
        followed = Path(os.path.realpath(resolved))
        assert followed.is_relative_to(root)
        assert not any(_is_git(part) for part in followed.relative_to(root).parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(links=_links, relative=_path, call=st.sampled_from(["write", "edit", "delete"]))
@example(links={"l0": "sub/.git"}, relative="l0/new", call="write")
@example(links={"l0": "l1", "l1": "OUTSIDE"}, relative="l0/secret.txt", call="edit")
@example(links={"l0": "../outside/secret.txt"}, relative="l0", call="write")
def test_writes_never_touch_anything_outside_or_in_git(
    links: dict[str, str], relative: str, call: str
) -> None:
    with _tree(links) as (root, base):
        before = _protected(root, base)
        CALLS[call](Workspace(root), relative)
        assert _protected(root, base) == before
