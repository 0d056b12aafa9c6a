"""One CI-configuration guard for every kind of run: `.github/**` and the `protected_paths`
globs are never pushed unless allowed — whether the change is made by a CLI run, an issue
run or a feedback run, and also when reached through a symbolic link of the tree."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devbot.runs.flows.change_guard import protected_paths
from tests.fixtures.engine import PlanRunner
from tests.fixtures.feedback import REPO, FeedbackPR
from tests.fixtures.repo import run_git

FINISH = "@@FINISH\nDone.\n@@END\n"


def _write(path: str, text: str = "on: push\n") -> str:
    return f"@@WRITE {path}\n{text}@@END\n"


@pytest.mark.parametrize(
    "path", [".github/workflows/ci.yml", ".github/actions/setup/action.yml", ".github/CODEOWNERS"]
)
def test_a_cli_run_does_not_push_protected_paths_unless_allowed(
    plan_runner: PlanRunner, path: str
) -> None:
    reply = _write(path) + FINISH
    refused = plan_runner.run([{"text": reply}], test_command="true")
    assert refused.status == "failed"
    assert f"protected paths (`{path}`)" in refused.message
    assert plan_runner.repo.remote_sha("devbot/task") is None

    allowed = plan_runner.run(
        [{"text": reply}], slug="allowed", test_command="true", allow_workflow_changes=True
    )
    assert allowed.status == "completed", allowed.message
    assert plan_runner.repo.remote_file("devbot/allowed", path) == "on: push\n"


def test_configured_globs_are_protected_too(plan_runner: PlanRunner) -> None:
    reply = _write("deploy/prod.sh", "echo hi\n") + _write("docs/ok.md", "fine\n") + FINISH
    record = plan_runner.run([{"text": reply}], test_command="true", protected_paths="deploy/**")
    assert record.status == "failed"
    assert "(`deploy/prod.sh`)" in record.message


def test_an_issue_run_does_not_push_workflows(feedback_pr: Callable[..., FeedbackPR]) -> None:
    s = feedback_pr([{"text": _write(".github/workflows/evil.yml") + FINISH}])
    user = s.double.add_user("alice")
    payload = {
        "action": "labeled",
        "label": {"name": "devbot"},
        "issue": {"number": 5, "title": "Add CI", "body": "Add a workflow.", "user": user},
        "repository": {"full_name": REPO},
        "sender": user,
    }
    assert s.server.post("issues", payload, delivery="issue-ci")[0] == 202
    store = s.runner.store()
    deadline = time.monotonic() + 60
    while not [r for r in store.recent() if r.title == "Add CI" and r.finished_at]:
        assert time.monotonic() < deadline, "the issue run did not finish"
        time.sleep(0.1)
    (run,) = [r for r in store.recent() if r.title == "Add CI"]
    assert run.status == "failed" and ".github/workflows/evil.yml" in run.message
    assert len(s.double.pulls(REPO)) == 1
    assert s.runner.repo.remote_sha(run.branch) is None
    # the issue's plan was committed on the run's branch only, never written into the checkout
    assert [p.name for p in (s.runner.repo.work / "ai-plans").iterdir()] == [
        "261124__PLAN__task.md"
    ]


def test_a_feedback_run_does_not_push_through_a_symlinked_github_folder(
    feedback_pr: Callable[..., FeedbackPR], tmp_path: Path
) -> None:
    s = feedback_pr([{"text": _write("ci/workflows/deploy.yml", "on: [push]\n") + FINISH}])
    repo = s.runner.repo
    human = tmp_path / "human"
    run_git("clone", "-q", "--branch", "devbot/task", str(repo.bare), str(human), cwd=tmp_path)
    (human / "ci" / "workflows").mkdir(parents=True)
    (human / "ci" / "workflows" / "deploy.yml").write_text("on: []\n", encoding="utf-8")
    (human / ".github").symlink_to("ci")
    run_git("add", "ci", ".github", cwd=human)
    run_git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qm", "ci/", cwd=human)
    run_git("push", "-q", "origin", "HEAD:devbot/task", cwd=human)
    before = repo.remote_sha("devbot/task")

    assert s.review_comment("alice", "deploy on push", path="hello.txt", line=1)[0] == 202
    (run,) = s.wait_idle(1)
    assert run.state == "failed"
    assert repo.remote_sha("devbot/task") == before
    (status,) = [c["body"] for c in s.posted() if "devbot feedback run" in c["body"]]
    assert "ci/workflows/deploy.yml" in status


@pytest.mark.parametrize(
    ("links", "changed", "expected"),
    [
        ({}, [".github/workflows/a.yml", "src/a.py"], [".github/workflows/a.yml"]),
        ({}, [".github"], [".github"]),
        ({".github": "ci"}, ["ci/workflows/a.yml", "cia/x"], ["ci/workflows/a.yml"]),
        ({".github": "tools/../ci"}, ["ci/a.yml"], ["ci/a.yml"]),
        ({".github": "a", "a": "b/c"}, ["b/c/x.yml"], ["b/c/x.yml"]),
        ({".github/workflows/x.yml": "../../evil.yml"}, ["evil.yml"], ["evil.yml"]),
        ({"docs/link": ".github"}, ["docs/other.md"], []),
        ({".github": "/etc"}, ["etc/x"], []),
    ],
)
def test_protected_paths_follow_the_trees_links(
    links: dict[str, str], changed: list[str], expected: list[str]
) -> None:
    assert protected_paths(changed, [".github/**"], [links]) == expected
