"""CI-failure fix runs end to end: the real webhook server, real DBOS, real git with a bare
origin, the GitHub double (checks, annotations, job logs behind a redirect, re-runs; checked
against GitHub's REST description), deliveries made from GitHub's published examples."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dbos import DBOS

from devbot.runs.flows.skeleton import Prepared
from devbot.triggers.dashboard.views import PullRequestStates, run_detail
from tests.fixtures.ci import (
    FIX,
    LOG,
    TEST,
    ci_delivery,
    ci_runs,
    deliver_check_suite,
    failing_suite,
    wait_ci_runs,
    wait_delivery,
)
from tests.fixtures.feedback import REPO, FeedbackPR


def _prepared(run_id: str) -> Prepared:
    (step,) = [
        x for x in DBOS.list_workflow_steps(run_id) if x["function_name"] == "prepare_worktree"
    ]
    output = step["output"]
    assert isinstance(output, Prepared)
    return output


def _statuses(s: FeedbackPR, text: str) -> list[str]:
    return [c["body"] for c in s.posted() if text in c["body"]]


def test_a_failed_suite_gets_one_fix_run_and_a_failure_after_the_limit_a_comment(
    feedback_pr: Callable[..., FeedbackPR],
) -> None:
    s = feedback_pr([{"text": FIX}], ci_fix_attempts=1, ci_poll_s=0.2, test_command=TEST)
    repo = s.runner.repo
    sha = repo.remote_sha("devbot/task") or ""
    failing_suite(s, sha)
    pull = s.pull()
    for event, name in (("check_run", "lint"), ("check_run", "tests"), ("check_suite", "")):
        payload = ci_delivery(event, pull, sha, "failure", name=name)
        assert s.server.post(event, payload)[0] == 202

    (run,) = wait_ci_runs(s, 1)
    assert run.status == "completed", run.message
    after = repo.remote_sha("devbot/task")
    assert after and after != sha
    assert repo.remote_file("devbot/task", "hello.txt") == "world!\n"
    task = _prepared(run.id).task.body
    assert "hello.txt:1: failure: missing '!' at the end" in task  # the annotation
    assert "AssertionError: hello.txt must end with '!'" in task  # the log's error region
    assert "earlier lines cut" in task and "collecting item 10\n" not in task
    (status,) = _statuses(s, "devbot CI fix run")
    assert ": done**" in status and "`lint`" in status and "`tests`" in status
    assert after in status
    report = [p for p in repo.git("ls-tree", "-r", "--name-only", after, cwd=repo.bare).split()]
    report_text = repo.remote_file("devbot/task", next(p for p in report if "__REPORT__" in p))
    assert "CI fix on PR #1" in (report_text or "")
    # the dashboard shows the run: its limits, its diff, the PR it worked on
    runtime = s.server.server.runtime
    detail = run_detail(runtime, run.id, PullRequestStates(runtime))
    assert detail.limits is not None and detail.pr_state == "open"
    assert any("world!" in line.text for line in detail.diff)
    # the log came from the storage host, without devbot's token
    assert s.double.downloads and all(
        "authorization" not in headers for _, headers in s.double.downloads
    )

    # CI fails again on devbot's fix: the limit (1) is reached, a comment says so, no run
    s.double.add_check_run(REPO, after, "tests", "failure", log=LOG)
    delivery = "suite-after-the-limit"
    payload = ci_delivery("check_suite", s.pull(), after, "failure")
    assert s.server.post("check_suite", payload, delivery=delivery)[0] == 202
    assert wait_delivery(s, delivery).startswith("ignored")
    assert len(ci_runs(s)) == 1
    (limit,) = _statuses(s, "stops fixing CI")
    assert after in limit and run.id in limit and "@devbot" in limit
    assert repo.remote_sha("devbot/task") == after

    # the same delivery again, and the same failure in a new delivery: nothing more
    assert s.server.post("check_suite", payload, delivery=delivery)[0] == 200
    again = "suite-after-the-limit-again"
    assert s.server.post("check_suite", payload, delivery=again)[0] == 202
    wait_delivery(s, again)
    assert len(_statuses(s, "stops fixing CI")) == 1 and len(ci_runs(s)) == 1


def test_a_job_that_passes_on_re_run_is_reported_flaky_and_not_fixed(
    feedback_pr: Callable[..., FeedbackPR],
) -> None:
    s = feedback_pr([{"text": FIX}], ci_poll_s=0.2, ci_rerun_flaky=True, test_command=TEST)
    repo = s.runner.repo
    sha = repo.remote_sha("devbot/task") or ""
    s.double.add_check_run(REPO, sha, "tests", "failure", log=LOG)
    s.double.repos[REPO].rerun_conclusions["tests"] = "success"
    assert (
        s.server.post("check_suite", ci_delivery("check_suite", s.pull(), sha, "failure"))[0] == 202
    )

    (run,) = wait_ci_runs(s, 1)
    assert run.status == "completed" and "flaky: tests passed on re-run" in run.message
    assert repo.remote_sha("devbot/task") == sha  # nothing to fix, nothing pushed
    (status,) = _statuses(s, "devbot CI fix run")
    assert "flaky" in status
    reruns = [r for r in s.double.requests if r.path.endswith("/rerun")]
    assert len(reruns) == 1


def test_the_fix_run_waits_for_the_checks_still_running(
    feedback_pr: Callable[..., FeedbackPR],
) -> None:
    """One failed job reports while another still runs: the run reads the checks until the
    last one finishes, and fixes both failures at once."""
    s = feedback_pr([{"text": FIX}], ci_poll_s=0.2, test_command=TEST)
    sha = s.runner.repo.remote_sha("devbot/task") or ""
    s.double.add_check_run(REPO, sha, "lint", "failure", annotations=(("hello.txt", 1, "no '!'"),))
    slow = s.double.add_check_run(REPO, sha, "tests", None, status="in_progress", log=LOG)
    assert (
        s.server.post("check_run", ci_delivery("check_run", s.pull(), sha, "failure", "lint"))[0]
        == 202
    )
    deadline = time.monotonic() + 60
    while len(_looks(s)) < 3:  # the run looked at the checks thrice while "tests" ran
        assert time.monotonic() < deadline, ci_runs(s)
        time.sleep(0.05)
    assert ci_runs(s)[0].finished_at is None
    s.double.finish_check_run(REPO, slow["id"], "failure")
    (run,) = wait_ci_runs(s, 1)
    assert run.status == "completed", run.message
    task = _prepared(run.id).task.body
    assert "### lint (failure)" in task and "### tests (failure)" in task


def _looks(s: FeedbackPR) -> list[Any]:
    runs = ci_runs(s)
    if not runs:
        return []
    return [x for x in DBOS.list_workflow_steps(runs[0].id) if x["function_name"] == "read_checks"]


def test_on_someone_elses_pr_a_writer_who_mentions_devbot_gets_the_failures_fixed(
    feedback_pr: Callable[..., FeedbackPR],
) -> None:
    s = feedback_pr([{"text": FIX}], test_command=TEST)
    repo = s.runner.repo
    sha = repo.remote_sha("devbot/task") or ""
    repo.git("update-ref", "refs/heads/alice/feature", sha, cwd=repo.bare)
    theirs = s.double.add_pull(REPO, "alice", "alice/feature", "Alice's change")
    s.double.add_check_run(REPO, sha, "tests", "failure", log=LOG)
    failed = deliver_check_suite(
        s, ci_delivery("check_suite", theirs, sha, "failure"), "theirs-failed"
    )
    assert "not devbot's pull request" in failed

    comment = s.double.add_issue_comment(
        REPO, theirs["number"], "alice", "@devbot please fix the failing tests"
    )
    issue = {
        "number": theirs["number"],
        "title": theirs["title"],
        "body": theirs["body"],
        "user": theirs["user"],
        "pull_request": {"url": theirs["url"]},
    }
    payload = {
        "action": "created",
        "issue": issue,
        "comment": comment,
        "repository": {"full_name": REPO},
        "sender": comment["user"],
    }
    assert s.server.post("issue_comment", payload)[0] == 202
    runtime = s.server.server.runtime
    deadline = time.monotonic() + 90
    while not any(
        r.state in ("done", "failed")
        for r in runtime.feedback.runs_for(runtime.served.key, theirs["number"])
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    (run,) = runtime.feedback.runs_for(runtime.served.key, theirs["number"])
    assert run.state == "done"
    task = _prepared(run.run_id).task.body
    assert f"Failed checks of the head commit {sha}" in task
    assert "AssertionError: hello.txt must end with '!'" in task
    assert repo.remote_file("alice/feature", "hello.txt") == "world!\n"
    assert ci_runs(s) == []
