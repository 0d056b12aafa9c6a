"""Plan runs that open their pull request on GitHub (the double), pushing to a bare origin."""

from __future__ import annotations

import pytest

from devbot.config import load_settings
from devbot.runs.runtime import default_forge
from devbot.vcs.forge import PR_MARKER, LocalForge
from devbot.vcs.github.forge import GitHubForge
from tests.fixtures.engine import PlanRunner
from tests.fixtures.github_double import DEFAULT_LOGIN, DEFAULT_TOKEN, GitHubDouble

REPO = "octo/sample"
HELLO = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"
MORE = "@@WRITE more.txt\nmore\n@@END\n@@FINISH\nAdded more.txt.\n@@END\n"


@pytest.fixture
def github(
    github_double: GitHubDouble, plan_runner: PlanRunner, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The double knows the repository (branches checked in the bare origin); a token is set."""
    github_double.add_repo(REPO, bare=plan_runner.repo.bare)
    github_double.add_collaborator(REPO, DEFAULT_LOGIN, "write")
    monkeypatch.setenv("GITHUB_TOKEN", DEFAULT_TOKEN)
    return {"github_api_url": github_double.url, "github_repo": REPO}


def test_plan_run_opens_one_pr_and_a_rerun_updates_it(
    plan_runner: PlanRunner, github_double: GitHubDouble, github: dict[str, str]
) -> None:
    first = plan_runner.run([{"text": HELLO}], **github)
    assert first.status == "completed", first.message
    pulls = github_double.pulls(REPO)
    assert len(pulls) == 1
    pr = pulls[0]
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["title"]) == ("devbot/task", "main", "Task")
    assert pr["head"]["sha"] == plan_runner.repo.remote_sha("devbot/task")
    assert PR_MARKER in pr["body"] and "Created hello.txt." in pr["body"]
    assert pr["draft"] is False
    assert first.pr_url == pr["html_url"]

    second = plan_runner.run([{"text": MORE}], body="Do the task, and add more.txt.", **github)
    assert second.status == "completed", second.message
    pulls = github_double.pulls(REPO)
    assert len(pulls) == 1
    assert "Added more.txt." in pulls[0]["body"] and pulls[0]["body"].count(PR_MARKER) == 1
    assert second.pr_url == first.pr_url
    assert sum(1 for r in github_double.requests if r.method == "POST") == 1


def test_draft_setting(
    plan_runner: PlanRunner, github_double: GitHubDouble, github: dict[str, str]
) -> None:
    record = plan_runner.run([{"text": HELLO}], github_draft="true", **github)
    assert record.status == "completed", record.message
    assert github_double.pulls(REPO)[0]["draft"] is True


def test_forge_choice(
    plan_runner: PlanRunner, github: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = plan_runner.repo.work
    with_repo = load_settings(work, github, environ={})
    assert isinstance(default_forge(with_repo, work), GitHubForge)
    origin_only = load_settings(work, {"github_api_url": github["github_api_url"]}, environ={})
    assert isinstance(default_forge(origin_only, work), LocalForge)
    plan_runner.repo.git("remote", "set-url", "origin", "git@github.com:octo/sample.git")
    assert isinstance(default_forge(load_settings(work, environ={}), work), GitHubForge)
    monkeypatch.delenv("GITHUB_TOKEN")
    assert isinstance(default_forge(with_repo, work), LocalForge)
