"""The jail refuses every way out of the workspace and accepts ordinary relative paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devbot.tools.jail import PathOutsideWorkspace, resolve_in_workspace


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / ".git").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return root


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("src/pkg/mod.py", "src/pkg/mod.py"),
        ("./src//pkg/./mod.py", "src/pkg/mod.py"),
        ("src/pkg/../pkg/mod.py", "src/pkg/mod.py"),
        ("new/dir/file.txt", "new/dir/file.txt"),
        (".", ""),
        (".gitignore", ".gitignore"),
        ("docs/.git-notes", "docs/.git-notes"),
        ("sub/.gitkeep", "sub/.gitkeep"),
    ],
)
def test_accepts_paths_inside(root: Path, relative: str, expected: str) -> None:
    resolved = resolve_in_workspace(root, relative)
    assert resolved == root.resolve() / expected


@pytest.mark.parametrize(
    ("relative", "rule"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("a\0b", "nul"),
        ("/etc/passwd", "absolute"),
        ("//etc/passwd", "absolute"),
        ("..", "parent"),
        ("../outside/secret.txt", "parent"),
        ("src/../../outside", "parent"),
        (".git/config", "git"),
        ("./.git", "git"),
        ("src/../.git/HEAD", "git"),
        ("sub/.git/config", "git"),
    ],
)
def test_refuses_by_rule(root: Path, relative: str, rule: str) -> None:
    with pytest.raises(PathOutsideWorkspace) as caught:
        resolve_in_workspace(root, relative)
    assert caught.value.rule == rule
    assert "Refused" in str(caught.value)


def test_file_symlink_pointing_outside_is_refused(root: Path) -> None:
    (root / "leak.txt").symlink_to(root.parent / "outside" / "secret.txt")
    with pytest.raises(PathOutsideWorkspace) as caught:
        resolve_in_workspace(root, "leak.txt")
    assert caught.value.rule == "symlink"


def test_directory_symlink_pointing_outside_is_refused_below_it(root: Path) -> None:
    (root / "src" / "out").symlink_to(root.parent / "outside")
    for relative in ("src/out", "src/out/secret.txt", "src/out/not-yet.txt"):
        with pytest.raises(PathOutsideWorkspace):
            resolve_in_workspace(root, relative)


def test_relative_symlink_climbing_out_is_refused(root: Path) -> None:
    (root / "up").symlink_to(Path("..") / "outside")
    with pytest.raises(PathOutsideWorkspace):
        resolve_in_workspace(root, "up/secret.txt")


def test_dangling_symlink_pointing_outside_is_refused(root: Path) -> None:
    (root / "dangling").symlink_to(root.parent / "outside" / "not-there")
    with pytest.raises(PathOutsideWorkspace):
        resolve_in_workspace(root, "dangling")


def test_symlink_into_git_is_refused(root: Path) -> None:
    (root / "hooks").symlink_to(root / ".git")
    with pytest.raises(PathOutsideWorkspace) as caught:
        resolve_in_workspace(root, "hooks/pre-commit")
    assert caught.value.rule == "git"


def test_symlink_inside_root_is_kept_as_written(root: Path) -> None:
    (root / "alias.py").symlink_to(root / "src" / "pkg" / "mod.py")
    assert resolve_in_workspace(root, "alias.py") == root.resolve() / "alias.py"


def test_root_reached_through_a_symlink(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-ws"
    link.symlink_to(root)
    resolved = resolve_in_workspace(link, "src/pkg/mod.py")
    assert resolved == root.resolve() / "src" / "pkg" / "mod.py"
    assert resolved.read_text() == "x = 1\n"


_segment = st.sampled_from(["..", ".", "src", "pkg", ".git", "out", "a b", "", "x\0", "/"])
_paths = st.one_of(
    st.lists(_segment, max_size=6).map("/".join),
    st.text(alphabet=st.sampled_from("./ab\0\\~"), max_size=12),
    st.text(max_size=20),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(relative=_paths)
def test_any_path_is_refused_or_lands_inside(root: Path, relative: str) -> None:
    if not (root / "out").is_symlink():
        (root / "out").symlink_to(root.parent / "outside")
    try:
        resolved = resolve_in_workspace(root, relative)
    except PathOutsideWorkspace:
        return
    real_root = root.resolve()
    assert resolved.is_relative_to(real_root)
    followed = Path(os.path.realpath(resolved))
    assert followed.is_relative_to(real_root)
    assert ".git" not in followed.relative_to(real_root).parts
