"""The git wrapper against real repositories with a local bare origin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devbot.vcs.git import Change, Git, GitError
from tests.fixtures.repo import OriginRepo, run_git


def user_tree_state(repo: OriginRepo) -> tuple[str, ...]:
    """Everything a user could notice about their clone: HEAD, branch, index, tree, status."""
    return (
        repo.git("rev-parse", "HEAD"),
        repo.git("symbolic-ref", "HEAD"),
        repo.git("diff", "--cached"),
        repo.git("diff"),
        repo.git("status", "--porcelain", "--untracked-files=all"),
        (repo.work / "README.md").read_text(encoding="utf-8"),
        repo.git("stash", "list"),
    )


def config_value(repo: Path, key: str) -> str | None:
    result = subprocess.run(
        ["git", "config", "--get", key], cwd=repo, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def test_worktree_run_leaves_the_users_tree_untouched(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    (origin_repo.work / "README.md").write_text("user's unsaved idea\n", encoding="utf-8")
    (origin_repo.work / "utils.py").write_text("# staged edit\n", encoding="utf-8")
    origin_repo.git("add", "utils.py")
    (origin_repo.work / "scratch.txt").write_text("untracked\n", encoding="utf-8")
    before = user_tree_state(origin_repo)

    git = Git.repository(origin_repo.work)
    worktree = tmp_path / "state" / "worktrees" / "run-1"
    git.add_worktree(worktree, "devbot/feature", "origin/main")
    assert (worktree / "README.md").read_text(encoding="utf-8").startswith("# Sample project")
    (worktree / "feature.py").write_text("X = 1\n", encoding="utf-8")
    (worktree / "README.md").unlink()
    inside = Git.repository(origin_repo.work).worktree(worktree)
    sha = inside.commit_all("Add feature").sha
    assert sha is not None
    inside.push("origin", sha, "devbot/feature")
    git.remove_worktree(worktree)

    assert user_tree_state(origin_repo) == before
    assert origin_repo.remote_file("devbot/feature", "feature.py") == "X = 1\n"
    assert origin_repo.remote_file("devbot/feature", "README.md") is None
    assert origin_repo.remote_sha("devbot/feature") == sha
    assert not worktree.exists()
    assert config_value(origin_repo.work, "branch.devbot/feature.merge") is None


def test_add_worktree_sets_no_upstream(origin_repo: OriginRepo, tmp_path: Path) -> None:
    Git.repository(origin_repo.work).add_worktree(tmp_path / "wt", "devbot/x", "origin/main")
    assert config_value(origin_repo.work, "branch.devbot/x.merge") is None
    assert config_value(origin_repo.work, "branch.main.merge") == "refs/heads/main"


def test_commit_all_is_a_no_op_without_changes(origin_repo: OriginRepo, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/noop", "main")
    git = Git.repository(origin_repo.work).worktree(worktree)
    head = git.head_sha()
    assert not git.tree_differs_from_head()
    assert git.commit_all("nothing").sha is None
    (worktree / ".gitignore").write_text("*.log\n", encoding="utf-8")
    first = git.commit_all("Ignore logs").sha
    assert first is not None and first != head
    (worktree / "debug.log").write_text("noise\n", encoding="utf-8")
    assert not git.tree_differs_from_head()
    assert git.commit_all("only ignored files").sha is None
    assert git.head_sha() == first
    assert git.run("log", "-1", "--format=%s") == "Ignore logs"


def test_tree_differs_sees_untracked_and_modified_files(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/t", "main")
    git = Git.repository(origin_repo.work).worktree(worktree)
    (worktree / "new" / "deep").mkdir(parents=True)
    (worktree / "new" / "deep" / "file.txt").write_text("x\n", encoding="utf-8")
    assert git.tree_differs_from_head()
    sha = git.commit_all("Add nested file\n\nWith a body.\n").sha
    assert sha is not None
    assert git.run("log", "-1", "--format=%B") == "Add nested file\n\nWith a body.\n"
    (worktree / "utils.py").write_text("changed\n", encoding="utf-8")
    assert git.tree_differs_from_head()


def test_changed_paths_and_grep_see_the_work_tree_as_it_is(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/t", "main")
    git = Git.repository(origin_repo.work).worktree(worktree)
    (worktree / "pkg").mkdir()
    (worktree / "pkg" / "new.py").write_text("def helper():\n    pass\n", encoding="utf-8")
    (worktree / "utils.py").write_text("x = 1\n", encoding="utf-8")
    (worktree / "README.md").unlink()
    git.run("mv", "tests/test_utils.py", "tests/test_moved.py")
    assert sorted(git.changed_paths()) == ["pkg/new.py", "tests/test_moved.py", "utils.py"]
    assert git.grep("^def helper", "*.py") == [("pkg/new.py", 1)]
    assert git.grep("^x = ", "*.py") == [("utils.py", 1)]
    assert git.grep("nothing matches this", "*.py") == []


def test_commit_uses_repo_identity_or_devbot_fallback(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/id", "main")
    (worktree / "a.txt").write_text("a\n", encoding="utf-8")
    Git.repository(origin_repo.work).worktree(worktree).commit_all("as the repo's user")
    assert (
        Git.repository(origin_repo.work).worktree(worktree).run("log", "-1", "--format=%an <%ae>")
        == "Test User <test@example.com>"
    )

    bare_clone = tmp_path / "anonymous"
    run_git("clone", "--quiet", str(origin_repo.bare), str(bare_clone), cwd=tmp_path)
    (bare_clone / "b.txt").write_text("b\n", encoding="utf-8")
    git = Git.repository(bare_clone)
    assert git.commit_all("as devbot").sha is not None
    assert git.run("log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "devbot <devbot@localhost>|devbot <devbot@localhost>"
    )
    assert config_value(bare_clone, "user.name") is None
    assert config_value(bare_clone, "user.email") is None


def test_commit_does_not_run_repository_hooks(origin_repo: OriginRepo, tmp_path: Path) -> None:
    """A hook script the agent could have written inside the tree never runs on the host."""
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/hooks", "main")
    hooks = worktree / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    for name in ("pre-commit", "commit-msg", "post-commit", "pre-push"):
        script = hooks / name
        script.write_text(f"#!/bin/sh\necho {name} >> {marker}\nexit 1\n", encoding="utf-8")
        script.chmod(0o755)
    origin_repo.git("config", "core.hooksPath", str(hooks))
    git = Git.repository(origin_repo.work).worktree(worktree)
    sha = git.commit_all("With hooks present").sha
    assert sha is not None
    git.push("origin", sha, "devbot/hooks")
    assert not marker.exists()


def test_unique_branch_appends_suffixes(origin_repo: OriginRepo, tmp_path: Path) -> None:
    git = Git.repository(origin_repo.work)
    assert git.unique_branch("devbot/slug", "origin") == "devbot/slug"
    origin_repo.git("branch", "devbot/slug")
    assert git.unique_branch("devbot/slug", "origin") == "devbot/slug-2"
    origin_repo.git("push", "--quiet", "origin", "main:refs/heads/devbot/slug-2")
    assert git.unique_branch("devbot/slug", "origin") == "devbot/slug-3"
    origin_repo.git("push", "--quiet", "origin", "main:refs/heads/devbot/slug-3/nested")
    assert git.unique_branch("devbot/slug", "origin") == "devbot/slug-4"
    name = git.unique_branch("devbot/slug", "origin")
    git.add_worktree(tmp_path / "wt", name, "main")
    assert git.ref_exists(f"refs/heads/{name}")


def test_unique_branch_without_remote_and_with_unreachable_remote(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    git = Git.repository(origin_repo.work)
    origin_repo.git("branch", "devbot/slug")
    assert git.unique_branch("devbot/slug", "upstream") == "devbot/slug-2"
    origin_repo.git("remote", "add", "gone", str(tmp_path / "missing.git"))
    with pytest.raises(GitError):
        git.unique_branch("devbot/slug", "gone")


def test_unique_branch_refuses_a_name_under_an_existing_branch(origin_repo: OriginRepo) -> None:
    origin_repo.git("branch", "devbot")
    with pytest.raises(GitError, match="'devbot' exists"):
        Git.repository(origin_repo.work).unique_branch("devbot/slug", "origin")


def test_refs_and_remote_branches(origin_repo: OriginRepo) -> None:
    git = Git.repository(origin_repo.work)
    assert git.ref_exists("main") and git.ref_exists("origin/main")
    assert not git.ref_exists("refs/heads/nope")
    assert git.remote_branch_exists("origin", "main")
    assert not git.remote_branch_exists("origin", "ain")
    origin_repo.git("push", "--quiet", "origin", "main:refs/heads/team/main")
    assert not git.remote_branch_exists("origin", "nope/main")
    assert git.file_exists_at("main", "tests/test_utils.py")
    assert not git.file_exists_at("main", "missing.py")
    assert not git.file_exists_at("no-such-ref", "README.md")
    assert git.toplevel().resolve() == origin_repo.work.resolve()
    with pytest.raises(GitError):
        git.remote_branch_exists("no-such-remote", "main")


def test_push_rejected_when_not_fast_forward(origin_repo: OriginRepo, tmp_path: Path) -> None:
    git = Git.repository(origin_repo.work)
    first_tree, second_tree = tmp_path / "one", tmp_path / "two"
    git.add_worktree(first_tree, "devbot/race", "origin/main")
    git.add_worktree(second_tree, "devbot/race-other", "origin/main")
    (first_tree / "one.txt").write_text("1\n", encoding="utf-8")
    (second_tree / "two.txt").write_text("2\n", encoding="utf-8")
    first = Git.repository(origin_repo.work).worktree(first_tree).commit_all("one").sha
    second = Git.repository(origin_repo.work).worktree(second_tree).commit_all("two").sha
    assert first and second
    Git.repository(origin_repo.work).worktree(first_tree).push("origin", first, "devbot/race")
    Git.repository(origin_repo.work).worktree(first_tree).push("origin", first, "devbot/race")

    with pytest.raises(GitError) as caught:
        Git.repository(origin_repo.work).worktree(second_tree).push("origin", second, "devbot/race")
    assert "rejected" in caught.value.stderr
    assert caught.value.command[:2] == ("git", "-c") or caught.value.command[0] == "git"
    assert f"{second}:refs/heads/devbot/race" in caught.value.command
    assert origin_repo.remote_sha("devbot/race") == first


def test_fetch_updates_the_remote_tracking_branch(origin_repo: OriginRepo) -> None:
    before = origin_repo.git("rev-parse", "origin/main")
    other = origin_repo.bare.parent / "other"
    run_git("clone", "--quiet", str(origin_repo.bare), str(other), cwd=origin_repo.bare.parent)
    (other / "x.txt").write_text("x\n", encoding="utf-8")
    run_git("add", "x.txt", cwd=other)
    run_git("-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "x", cwd=other)
    run_git("push", "--quiet", "origin", "main", cwd=other)
    fetched = Git.repository(origin_repo.work).fetch("origin", "main")
    assert fetched == origin_repo.remote_sha("main") != before
    assert origin_repo.git("rev-parse", "origin/main") == fetched
    assert origin_repo.git("rev-parse", "main") == before


def test_attach_worktree_for_an_existing_branch(origin_repo: OriginRepo, tmp_path: Path) -> None:
    git = Git.repository(origin_repo.work)
    first = tmp_path / "first"
    git.add_worktree(first, "devbot/again", "origin/main")
    (first / "f.txt").write_text("f\n", encoding="utf-8")
    sha = Git.repository(origin_repo.work).worktree(first).commit_all("f").sha
    assert sha
    Git.repository(origin_repo.work).worktree(first).push("origin", sha, "devbot/again")
    git.remove_worktree(first)
    git.remove_worktree(first)
    origin_repo.git("branch", "-D", "devbot/again")

    git.fetch("origin", "devbot/again")
    second = tmp_path / "second"
    git.attach_worktree(second, "devbot/again")
    assert Git.repository(origin_repo.work).worktree(second).head_sha() == sha
    assert (second / "f.txt").read_text(encoding="utf-8") == "f\n"
    with pytest.raises(GitError):
        git.add_worktree(tmp_path / "third", "devbot/again", "main")


def test_remove_worktree_refuses_a_directory_that_is_not_one(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    stray = tmp_path / "stray"
    stray.mkdir()
    with pytest.raises(GitError):
        Git.repository(origin_repo.work).remove_worktree(stray)
    assert stray.exists()


def test_changes_between_counts_lines_deletes_and_renames(origin_repo: OriginRepo) -> None:
    base = origin_repo.git("rev-parse", "HEAD")
    readme = (origin_repo.work / "README.md").read_text(encoding="utf-8")
    utils = (origin_repo.work / "utils.py").read_text(encoding="utf-8")
    utils = utils.replace("    return a + b\n", "    total = a + b\n    return total\n")
    utils += "\n\ndef whisper(text: str) -> str:\n    return text.lower()\n"
    (origin_repo.work / "docs").mkdir()
    origin_repo.git("mv", "README.md", "docs/README.md")
    head = origin_repo.commit(
        {
            "utils.py": utils,
            "tests/test_utils.py": None,
            "new.txt": "one\ntwo\nthree\n",
            "logo.bin": "\0\1\2",
        },
        "Change things",
    )
    changes = sorted(
        Git.repository(origin_repo.work).changes_between(base, head), key=lambda c: c.path
    )
    assert changes == [
        Change("D", "README.md"),
        Change("A", "docs/README.md", old_path="README.md"),
        Change("A", "logo.bin", binary=True),
        Change("A", "new.txt", added_lines=3),
        Change("D", "tests/test_utils.py", deleted_lines=9),
        Change("M", "utils.py", added_lines=6, deleted_lines=1),
    ]
    assert (origin_repo.work / "docs/README.md").read_text(encoding="utf-8") == readme
    assert Git.repository(origin_repo.work).changes_between(head, head) == []


def test_changes_between_rename_with_edits_and_odd_names(origin_repo: OriginRepo) -> None:
    base = origin_repo.git("rev-parse", "HEAD")
    origin_repo.git("mv", "utils.py", "helpers with space.py")
    text = (origin_repo.work / "helpers with space.py").read_text(encoding="utf-8")
    head = origin_repo.commit(
        {"helpers with space.py": text + "# trailing note\n", "café.txt": "é\n"}, "Rename"
    )
    changes = sorted(
        Git.repository(origin_repo.work).changes_between(base, head), key=lambda c: c.path
    )
    assert changes == [
        Change("A", "café.txt", added_lines=1),
        Change("A", "helpers with space.py", old_path="utils.py", added_lines=1),
        Change("D", "utils.py"),
    ]


def test_default_branch_fallbacks(origin_repo: OriginRepo, tmp_path: Path) -> None:
    git = Git.repository(origin_repo.work)
    assert git.default_branch("origin") == "main"

    origin_repo.git("push", "--quiet", "origin", "main:refs/heads/develop")
    run_git("symbolic-ref", "HEAD", "refs/heads/develop", cwd=origin_repo.bare)
    assert git.default_branch("origin") == "main"
    origin_repo.git("remote", "set-head", "origin", "--delete")
    assert git.default_branch("origin") == "develop"

    lonely = tmp_path / "lonely"
    run_git("init", "--quiet", "--initial-branch=trunk", str(lonely), cwd=tmp_path)
    assert Git.repository(lonely).default_branch("origin") == "trunk"
    (lonely / "a").write_text("a\n", encoding="utf-8")
    sha = Git.repository(lonely).commit_all("a").sha
    assert sha is not None
    run_git("checkout", "--quiet", "--detach", sha, cwd=lonely)
    assert Git.repository(lonely).default_branch("origin") == "main"


def test_git_error_carries_command_and_stderr(origin_repo: OriginRepo) -> None:
    with pytest.raises(GitError) as caught:
        Git.repository(origin_repo.work).run("rev-parse", "--verify", "no-such-ref")
    assert caught.value.command[-3:] == ("rev-parse", "--verify", "no-such-ref")
    assert caught.value.returncode == 128
    assert "no-such-ref" in caught.value.stderr or "Needed a single revision" in str(caught.value)


def test_inherited_git_dir_does_not_redirect_commands(
    origin_repo: OriginRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worktree = tmp_path / "wt"
    Git.repository(origin_repo.work).add_worktree(worktree, "devbot/env", "main")
    monkeypatch.setenv("GIT_DIR", str(origin_repo.bare))
    inside = Git.repository(origin_repo.work).worktree(worktree)
    assert Path(inside.run("rev-parse", "--show-toplevel")).resolve() == worktree.resolve()
