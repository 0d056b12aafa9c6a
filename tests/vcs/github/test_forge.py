"""GitHubForge against the GitHub double: pull requests, comments, reactions, threads."""

from __future__ import annotations

import pytest

from devbot.vcs.forge import COMMENT_MARKER, PR_MARKER
from devbot.vcs.github.client import GitHubError
from tests.fixtures.github_double import DEFAULT_LOGIN, GitHubDouble
from tests.vcs.github.helpers import REPO, make_forge


def test_pull_request_opened_once_then_updated(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    assert forge.find_pull_request("devbot/task") is None
    first = forge.open_or_update_pull_request(
        title="Task", body="Report v1", head="devbot/task", base="main"
    )
    second = forge.open_or_update_pull_request(
        title="Task (again)", body="Report v2", head="devbot/task", base="main"
    )
    pulls = github_double.pulls(REPO)
    assert len(pulls) == 1
    assert first.number == second.number == pulls[0]["number"]
    assert pulls[0]["title"] == "Task (again)"
    assert pulls[0]["body"].startswith("Report v2") and pulls[0]["body"].count(PR_MARKER) == 1
    assert second.author == forge.identity() == DEFAULT_LOGIN
    assert second.head_repo == REPO
    assert second.url == f"https://github.com/{REPO}/pull/{first.number}"
    assert forge.find_pull_request("devbot/task") == second
    creates = [r for r in github_double.requests if r.method == "POST"]
    assert len(creates) == 1
    assert creates[0].body["draft"] is False


def test_draft_is_configurable(github_double: GitHubDouble) -> None:
    make_forge(github_double, draft=True).open_or_update_pull_request(
        title="T", body="B", head="devbot/draft", base="main"
    )
    assert github_double.pulls(REPO)[0]["draft"] is True


def test_a_pull_request_created_meanwhile_is_updated_not_duplicated(
    github_double: GitHubDouble,
) -> None:
    """Another process opened the PR between our lookup and our create: GitHub answers 422,
    the forge finds that PR and updates it."""
    forge = make_forge(github_double)
    forge.open_or_update_pull_request(title="T", body="B", head="devbot/race", base="main")
    github_double.fail_next(200, body=[], method="GET", path=f"/repos/{REPO}/pulls")
    pr = forge.open_or_update_pull_request(title="T2", body="B2", head="devbot/race", base="main")
    assert len(github_double.pulls(REPO)) == 1
    assert pr.title == "T2"


def test_prs_of_other_branches_and_closed_prs_are_not_reused(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    one = forge.open_or_update_pull_request(title="A", body="", head="devbot/a", base="main")
    forge.client.patch(f"/repos/{REPO}/pulls/{one.number}", {"state": "closed"})
    two = forge.open_or_update_pull_request(title="A", body="", head="devbot/a", base="main")
    three = forge.open_or_update_pull_request(title="B", body="", head="devbot/b", base="main")
    assert len({one.number, two.number, three.number}) == 3


def test_comments_carry_the_marker_and_can_be_updated(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/c", base="main")
    comment_id = forge.post_comment(pr.number, "working on it")
    forge.update_comment(comment_id, "done")
    posted = github_double.posted_by(DEFAULT_LOGIN, REPO)
    assert [c["id"] for c in posted] == [comment_id]
    assert posted[0]["body"].startswith("done") and COMMENT_MARKER in posted[0]["body"]
    mine = [c for c in forge.list_feedback(pr.number) if c.id == comment_id]
    assert mine[0].author == forge.identity() and mine[0].kind == "issue_comment"


def test_feedback_replies_reactions_and_resolved_threads(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/f", base="main")
    github_double.add_collaborator(REPO, "alice", "write")
    root = github_double.add_review_comment(
        REPO, pr.number, "alice", "Rename this", path="utils.py", line=4
    )
    github_double.add_review(REPO, pr.number, "alice", "", "APPROVED")
    github_double.add_review(REPO, pr.number, "alice", "", "CHANGES_REQUESTED")
    github_double.add_issue_comment(REPO, pr.number, "alice", "Also add a test")

    feedback = forge.list_feedback(pr.number)
    kinds = [c.kind for c in feedback]
    assert kinds.count("review_comment") == 1 and kinds.count("issue_comment") == 1
    assert [c.review_state for c in feedback if c.kind == "review"] == ["CHANGES_REQUESTED"]
    comment = next(c for c in feedback if c.kind == "review_comment")
    assert (comment.id, comment.author, comment.path, comment.line) == (
        root["id"],
        "alice",
        "utils.py",
        4,
    )
    assert comment.diff_hunk and comment.author_type == "User"
    assert comment.thread_id == github_double.thread_of(REPO, root["id"])["id"]

    forge.add_reaction(comment, "eyes")
    forge.add_reaction(comment, "eyes")
    issue_comment = next(c for c in feedback if c.kind == "issue_comment")
    forge.add_reaction(issue_comment, "+1")
    forge.add_reaction(next(c for c in feedback if c.kind == "review"), "eyes")
    assert [r["content"] for r in github_double.reactions(REPO, "pulls", comment.id)] == ["eyes"]
    assert [r["content"] for r in github_double.reactions(REPO, "issues", issue_comment.id)] == [
        "+1"
    ]
    with pytest.raises(ValueError):
        forge.add_reaction(comment, "thumbs")

    reply_id = forge.reply_to_review_comment(pr.number, comment.id, "Renamed in abc1234")
    reply = next(c for c in forge.list_feedback(pr.number) if c.id == reply_id)
    assert reply.in_reply_to == comment.id and reply.author == forge.identity()
    assert reply.thread_id == comment.thread_id
    assert comment.thread_id is not None
    forge.resolve_thread(comment.thread_id)
    assert github_double.thread_of(REPO, root["id"])["isResolved"] is True
    with pytest.raises(GitHubError, match="Could not resolve"):
        forge.resolve_thread("PRRT_missing")


def test_permission_lookup(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    for login, role in (("wendy", "write"), ("mara", "maintain"), ("tom", "triage")):
        github_double.add_collaborator(REPO, login, role)
    github_double.add_user("reader")
    assert forge.permission("octo") == "admin"
    assert forge.permission("wendy") == "write"
    assert forge.permission("mara") == "maintain"
    assert forge.permission("tom") == "triage"
    assert forge.permission("reader") == "read"
    assert forge.permission("nobody-such") == "none"


def test_get_pull_request(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/g", base="main")
    assert forge.get_pull_request(pr.number) == pr
    assert forge.get_pull_request(999) is None


def test_paginated_lists_are_read_to_the_end(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    pr = forge.open_or_update_pull_request(title="T", body="B", head="devbot/p", base="main")
    for n in range(105):
        github_double.add_issue_comment(REPO, pr.number, "octo", f"comment {n}")
    assert len(forge.list_feedback(pr.number)) == 105
    pages = [r for r in github_double.requests if r.path.endswith(f"/issues/{pr.number}/comments")]
    assert len(pages) == 2
