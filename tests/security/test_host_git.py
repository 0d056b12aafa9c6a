"""Host git is inert: nothing the agent or a sandboxed command writes into a worktree makes
devbot's own git run a program, read a nested repository, or commit one.

Each attack is shown to work against plain `git` first (the control), so the test proves
that devbot's git wrapper is what stops it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devbot.vcs.git import Git
from tests.fixtures.engine import PlanRunner
from tests.fixtures.repo import OriginRepo, run_git


def _worktree(origin_repo: OriginRepo, tmp_path: Path, branch: str) -> tuple[Git, Path]:
    repo = Git.repository(origin_repo.work)
    path = tmp_path / "state" / "worktrees" / branch.replace("/", "-")
    repo.add_worktree(path, branch, "origin/main")
    return repo.worktree(path), path


def _hostile_config(marker: Path) -> str:
    """A git config whose every hook point writes `marker` when git obeys it."""
    command = f"touch {marker}"
    return (
        "[core]\n"
        "\trepositoryformatversion = 0\n"
        f"\tfsmonitor = {command}\n"
        f"\thooksPath = {marker.parent / 'hooks'}\n"
        '[diff "evil"]\n'
        f"\ttextconv = sh -c '{command}; cat \"$1\"' --\n"
        '[filter "evil"]\n'
        f"\tclean = sh -c '{command}; cat'\n"
    )


def _fake_repository(folder: Path, marker: Path) -> None:
    """A directory git accepts as a repository, with the hostile config."""
    for name in ("objects", "refs/heads"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (folder / "config").write_text(_hostile_config(marker), encoding="utf-8")


def _plain_git_status(cwd: Path) -> None:
    subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, check=False)


def test_a_replaced_worktree_git_file_is_never_obeyed(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    git, worktree = _worktree(origin_repo, tmp_path, "devbot/replaced")
    marker = tmp_path / "pwned"
    (worktree / ".git").unlink()
    _fake_repository(worktree / ".git", marker)
    _plain_git_status(worktree)
    assert marker.exists(), "control: plain git obeys the planted config"
    marker.unlink()

    (worktree / "feature.txt").write_text("work\n", encoding="utf-8")
    assert git.tree_differs_from_head()
    commit = git.commit_all("work")
    git.changes_between("origin/main", "HEAD")
    git.listed_files()
    git.push("origin", commit.sha or "", "devbot/replaced")

    assert not marker.exists()
    assert origin_repo.remote_file("devbot/replaced", "feature.txt") == "work\n"
    assert origin_repo.remote_file("devbot/replaced", ".git/config") is None


def test_a_nested_repository_is_never_read_nor_committed(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    git, worktree = _worktree(origin_repo, tmp_path, "devbot/nested")
    marker = tmp_path / "pwned"
    nested = worktree / "sub"
    nested.mkdir()
    run_git("init", "--quiet", cwd=nested)
    (nested / "inner.txt").write_text("inner\n", encoding="utf-8")
    run_git("add", "inner.txt", cwd=nested)
    run_git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "inner", cwd=nested)
    (nested / ".git" / "config").write_text(_hostile_config(marker), encoding="utf-8")
    deep = worktree / "a" / "b" / "c"
    deep.mkdir(parents=True)
    _fake_repository(deep / ".git", marker)
    (deep / "file.txt").write_text("deep\n", encoding="utf-8")
    _plain_git_status(nested)
    assert marker.exists(), "control: plain git in the nested repository obeys its config"
    marker.unlink()

    (worktree / "top.txt").write_text("top\n", encoding="utf-8")
    commit = git.commit_all("work")
    git.tree_differs_from_head()
    git.listed_files()

    assert not marker.exists()
    assert commit.sha is not None
    assert commit.dropped == ("a/b/c", "sub")
    tree = git.run("ls-tree", "-r", "--full-tree", commit.sha)
    assert "top.txt" in tree
    assert "sub" not in tree and "a/b/c" not in tree
    assert " 160000 " not in f" {tree} "  # no gitlink
    # the nested repositories stay where they are, uncommitted
    assert (nested / "inner.txt").exists()
    assert not git.tree_differs_from_head()


def test_dot_git_in_another_case_neither_breaks_nor_enters_the_commit(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    git, worktree = _worktree(origin_repo, tmp_path, "devbot/case")
    (worktree / "x" / ".GIT").mkdir(parents=True)
    (worktree / "x" / ".GIT" / "config").write_text("[core]\n", encoding="utf-8")
    (worktree / "x" / "kept.txt").write_text("kept\n", encoding="utf-8")
    (worktree / ".Git").write_text("gitdir: /etc\n", encoding="utf-8")

    commit = git.commit_all("work")

    assert commit.sha is not None
    assert commit.dropped == (".Git", "x/.GIT")
    names = git.run("ls-tree", "-r", "--name-only", commit.sha).splitlines()
    assert "x/kept.txt" in names
    assert not [name for name in names if ".git" in name.lower().split("/")]


def test_drivers_named_by_gitattributes_never_run(origin_repo: OriginRepo, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    origin_repo.git("config", "filter.evil.clean", f"sh -c 'touch {marker}; cat'")
    origin_repo.git("config", "filter.evil.required", "true")
    origin_repo.git("config", "diff.evil.textconv", f"sh -c 'touch {marker}; cat \"$1\"' --")
    git, worktree = _worktree(origin_repo, tmp_path, "devbot/attributes")
    (worktree / ".gitattributes").write_text("* filter=evil diff=evil\n", encoding="utf-8")
    (worktree / "README.md").write_text("changed\n", encoding="utf-8")
    _plain_git_status(worktree)
    subprocess.run(["git", "add", "-A"], cwd=worktree, capture_output=True, check=False)
    assert marker.exists(), "control: plain git runs the filter the attributes name"
    marker.unlink()
    subprocess.run(["git", "reset", "-q"], cwd=worktree, capture_output=True, check=False)
    marker.unlink(missing_ok=True)

    commit = git.commit_all("work")
    assert commit.sha is not None
    git.changes_between("origin/main", commit.sha)
    git.run("diff", "origin/main", commit.sha)
    git.run("log", "-p", "-1")

    assert not marker.exists()
    assert git.read_blob(commit.sha, "README.md") == "changed\n"


def test_a_symlinked_devbot_toml_is_not_read_as_settings(origin_repo: OriginRepo) -> None:
    (origin_repo.work / "devbot.toml").symlink_to("/etc/hostname")
    origin_repo.git("add", "devbot.toml")
    origin_repo.git("commit", "-qm", "link")
    git = Git.repository(origin_repo.work)
    assert git.tree_entry("HEAD", "devbot.toml") is not None
    assert git.read_blob("HEAD", "devbot.toml") is None
    assert git.read_blob("HEAD", "README.md") is not None


@pytest.mark.parametrize("where", ["worktree root", "nested"])
def test_a_plan_run_whose_commands_plant_git_config_runs_nothing_on_the_host(
    plan_runner: PlanRunner, tmp_path: Path, where: str
) -> None:
    marker = tmp_path / "pwned"
    config = _hostile_config(marker).replace("\n", "\\n").replace("'", "'\\''")
    folder = ".git" if where == "worktree root" else "vendor/lib/.git"
    plant = (
        f"rm -rf {folder} && mkdir -p {folder}/objects {folder}/refs/heads && "
        f"echo 'ref: refs/heads/main' > {folder}/HEAD && printf '{config}' > {folder}/config"
    )
    reply = (
        f"@@RUN {plant}\n"
        "@@WRITE hello.txt\nworld\n@@END\n"
        "@@FINISH\nPlanted a repository and wrote hello.txt.\n@@END\n"
    )
    record = plan_runner.run([{"text": reply}], sandbox="local", test_command="true")

    assert not marker.exists()
    assert record.status == "completed", record.message
    repo = plan_runner.repo
    assert repo.remote_file("devbot/task", "hello.txt") == "world\n"
    assert repo.remote_file("devbot/task", "vendor/lib/.git/config") is None
    tree = repo.git("ls-tree", "-r", "--name-only", "origin/devbot/task", cwd=repo.work)
    assert "vendor" not in tree
    report = repo.remote_file("devbot/task", record.report_path) or ""
    assert ("Left out of the commit: `vendor/lib`" in report) == (where == "nested")
