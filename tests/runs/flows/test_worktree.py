"""Worktrees for runs: new branches, continued branches, crash re-entry; real git."""

from __future__ import annotations

from pathlib import Path

from devbot.runs.flows.worktree import check_out
from devbot.vcs.git import Git
from tests.fixtures.repo import OriginRepo


def _checkout(repo: OriginRepo, path: Path, existing: str | None = None):  # type: ignore[no-untyped-def]
    return check_out(
        Git.repository(repo.work),
        path,
        remote="origin",
        base_branch=None,
        new_branch="devbot/x",
        existing_branch=existing,
    )


def test_new_branch_starts_at_the_remote_base_and_leaves_the_checkout_alone(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    origin_repo.git("checkout", "-q", "-b", "my-feature")
    checkout = _checkout(origin_repo, tmp_path / "wt")

    assert (checkout.branch, checkout.base_branch, checkout.reused) == ("devbot/x", "main", False)
    assert checkout.base_sha == origin_repo.remote_sha("main")
    assert origin_repo.git("rev-parse", "--abbrev-ref", "HEAD") == "my-feature"


def test_reentry_after_a_crash_finds_the_same_worktree(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    first = _checkout(origin_repo, tmp_path / "wt")
    again = _checkout(origin_repo, tmp_path / "wt")
    assert again.branch == first.branch == "devbot/x"


def test_existing_branch_known_only_to_the_remote_is_continued(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    origin_repo.git("push", "-q", "origin", "HEAD:refs/heads/devbot/x")
    origin_repo.commit({"later.txt": "later\n"}, "main moves")
    tip = origin_repo.git("rev-parse", "HEAD~1")

    checkout = _checkout(origin_repo, tmp_path / "wt", existing="devbot/x")

    assert checkout.reused and checkout.branch == "devbot/x"
    assert (tmp_path / "wt" / "later.txt").exists() is False
    assert origin_repo.git("rev-parse", "devbot/x") == tip


def test_local_branch_behind_the_remote_is_fast_forwarded(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    origin_repo.git("branch", "devbot/x")
    origin_repo.git("checkout", "-q", "devbot/x")
    remote_tip = origin_repo.commit({"r.txt": "r\n"}, "reviewer fix", push=False)
    origin_repo.git("push", "-q", "origin", "devbot/x")
    origin_repo.git("checkout", "-q", "main")
    origin_repo.git("branch", "-f", "devbot/x", "main")

    _checkout(origin_repo, tmp_path / "wt", existing="devbot/x")

    assert origin_repo.git("rev-parse", "devbot/x") == remote_tip
    assert (tmp_path / "wt" / "r.txt").read_text() == "r\n"


def test_unpushed_local_commits_are_kept_and_a_stale_worktree_released(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    _checkout(origin_repo, tmp_path / "old")
    (tmp_path / "old" / "work.txt").write_text("unpushed\n")
    origin_repo.git("add", "work.txt", cwd=tmp_path / "old")
    origin_repo.git("commit", "-qm", "work", cwd=tmp_path / "old")
    local_tip = origin_repo.git("rev-parse", "HEAD", cwd=tmp_path / "old")

    checkout = _checkout(origin_repo, tmp_path / "new", existing="devbot/x")

    assert checkout.reused
    assert not (tmp_path / "old").exists()
    assert origin_repo.git("rev-parse", "HEAD", cwd=tmp_path / "new") == local_tip


def test_the_branch_name_is_reserved_before_the_branch_exists(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    reserved: list[tuple[str, bool]] = []

    def reserve(name: str) -> None:
        exists = origin_repo.git("branch", "--list", name) != ""
        reserved.append((name, exists))

    check_out(
        Git.repository(origin_repo.work),
        tmp_path / "wt",
        remote="origin",
        base_branch=None,
        new_branch="devbot/x",
        reserve=reserve,
    )
    assert reserved == [("devbot/x", False)]
    # a crash right after: the next try continues the reserved branch instead of devbot/x-2
    origin_repo.git("worktree", "remove", "--force", str(tmp_path / "wt"))
    again = _checkout(origin_repo, tmp_path / "wt2", existing="devbot/x")
    assert again.branch == "devbot/x"
