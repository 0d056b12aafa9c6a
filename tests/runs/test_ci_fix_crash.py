"""Crash tests of CI-fix runs: `devbot serve` killed with SIGKILL after steps of the delivery
workflow and of the CI-fix run, and in the middle of its commit, push and status comment,
then started again, ends exactly like an uninterrupted run.

The machinery is the feedback crash test's (`tests/runs/test_feedback_crash.py`): real
`devbot serve` subprocesses, real DBOS on SQLite, real git with a bare origin, the GitHub
double in this process and a local model server replaying a script. Each case's PR head is
recorded as pushed by devbot (the plan run that opened the PR), and its check suite fails.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

from devbot.runs.runtime import checkout_repository
from devbot.runs.state.store import RunRecord, RunStore
from tests.fixtures.ci import ci_delivery
from tests.fixtures.devbot_process import StepReader, dbos_url
from tests.fixtures.webhook import post_delivery
from tests.runs import test_feedback_crash as feedback_crash
from tests.runs.test_feedback_crash import (
    BRANCH,
    REPLIES,
    Case,
    Harness,
    KillPoint,
    _comment_post,
    mid_commit,
    mid_model_call,
    mid_push,
    mid_request,
)

# the feedback crash test's module fixtures: the GitHub double, the model server, the harness
double = feedback_crash.double
model_server = feedback_crash.model_server
harness = feedback_crash.harness

LOG = "FAILED test_hello.py::test_bang\nAssertionError: hello.txt must end with '!'\n"


@dataclass
class Outcome:
    delivery_steps: list[str]
    fix_steps: list[str]
    fix_status: str
    subjects: list[str]
    hello: str
    statuses: list[str]
    model_calls: int
    paid: int


def _failing(harness: Harness, case: Case) -> str:
    """The PR's head: pushed by devbot (as its run record says), failing CI."""
    sha = case.repo.git("rev-parse", BRANCH, cwd=case.repo.bare)
    (case.repo.work / ".devbot").mkdir(exist_ok=True)
    store = RunStore(f"sqlite:///{case.repo.work / '.devbot' / 'runs.sqlite'}")
    try:
        scope = checkout_repository(case.repo.work, "origin").key
        store.create(
            RunRecord(
                id=f"plan-{case.name.replace('/', '-')}",
                kind="plan",
                repo=scope,
                plan_path="ai-plans/261124__PLAN__task.md",
                plan_sha="0",
                status="completed",
                branch=BRANCH,
                head_sha=sha,
                finished_at=time.time(),
            )
        )
    finally:
        store.close()
    harness.double.add_check_run(case.name, sha, "tests", "failure", log=LOG)
    harness.double.add_check_run(case.name, sha, "lint", "success")
    return sha


def _deliver(harness: Harness, case: Case, url: str, sha: str) -> None:
    case.paid_before = len(harness.server.requests)
    pull = next(p for p in harness.double.pulls(case.name) if p["number"] == case.number)
    case.delivery = f"suite-{case.name.replace('/', '-')}"
    payload = ci_delivery("check_suite", pull, sha, "failure")
    status, answer = post_delivery(url, "check_suite", payload, delivery=case.delivery)
    assert status == 202, answer


def _fix_id(reader: StepReader) -> str | None:
    return next((w for w in reader.statuses() if w.startswith("ci-fix-")), None)


def _wait_done(reader: StepReader, process: object) -> None:
    def done() -> bool:
        statuses = reader.statuses()
        finished = all(s in ("SUCCESS", "ERROR") for s in statuses.values())
        return finished and _fix_id(reader) is not None

    reader.wait_for(done, timeout=90, poll=0.05)


def _outcome(harness: Harness, case: Case, reader: StepReader) -> Outcome:
    ids = reader.statuses()
    assert set(ids.values()) == {"SUCCESS"}, ids
    fix_id = _fix_id(reader) or ""
    store = RunStore(f"sqlite:///{case.repo.work / '.devbot' / 'runs.sqlite'}")
    try:
        record = store.get(fix_id)
    finally:
        store.close()
    bare = case.repo.bare
    log = case.repo.git("log", "--format=%s", f"main..{BRANCH}", cwd=bare)
    posted = harness.double.posted_by("devbot-user", case.name)
    head = case.repo.git("rev-parse", BRANCH, cwd=bare)

    def mask(text: str) -> str:
        text = text.replace(fix_id, "RUN").replace(head, "HEAD")
        return re.sub(r"\b\d+(\.\d+)? ?s\b", "N s", text)  # durations

    return Outcome(
        delivery_steps=reader.steps(f"webhook-{case.delivery}"),
        fix_steps=reader.steps(fix_id),
        fix_status=record.status,
        subjects=log.splitlines(),
        hello=case.repo.remote_file(BRANCH, "hello.txt") or "",
        statuses=[mask(c["body"]) for c in posted if "ci-status" in c["body"]],
        model_calls=record.model_calls,
        paid=len(harness.server.requests) - case.paid_before,
    )


def _run(harness: Harness, point: KillPoint | None) -> Outcome:
    case = harness.case()
    sha = _failing(harness, case)
    release = point.arm(harness, case) if point else (lambda: None)
    process, url = harness.serve(case)
    reader = StepReader(dbos_url(case.repo.work))
    try:
        _deliver(harness, case, url, sha)
        if point is not None:
            point.wait(harness, case, reader)
            harness.procs.kill(process)
            release()
            fix_id = _fix_id(reader)
            assert fix_id is None or reader.statuses()[fix_id] != "SUCCESS"
            if point.in_step is not None:
                workflow, step = point.in_step
                run_id = f"webhook-{case.delivery}" if workflow == "delivery" else fix_id
                assert step not in reader.steps(run_id or ""), f"killed after {step}"
            process, _ = harness.serve(case)
        _wait_done(reader, process)
        return _outcome(harness, case, reader)
    finally:
        reader.close()
        harness.procs.kill(process)


@pytest.fixture(scope="module")
def baseline(harness: Harness) -> Outcome:
    return _run(harness, None)


def test_baseline(baseline: Outcome) -> None:
    assert baseline.delivery_steps == ["ci_decide", "devbot.ci_fix_run", "mark_delivery"]
    assert baseline.fix_steps[:5] == [
        "load_pull_request",
        "base_settings",
        "read_checks",
        "reload_pull_request",
        "read_failures",
    ]
    assert baseline.fix_status == "completed"
    assert baseline.subjects[:2] == [
        "devbot: report after fixing CI on #1",
        "devbot: fix failing CI on #1",
    ]
    assert baseline.hello == "world!\n"
    assert len(baseline.statuses) == 1 and ": done**" in baseline.statuses[0]
    assert "commit: HEAD" in baseline.statuses[0]
    assert baseline.model_calls == baseline.paid == len(REPLIES)


def after_fix_step(name: str) -> KillPoint:
    """Once the CI-fix run recorded step `name` (its first, when it repeats)."""

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        reader.wait_for(lambda: name in reader.steps(_fix_id(reader) or ""))

    return KillPoint(f"after-{name}", wait)


def after_delivery_accepted() -> KillPoint:
    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        reader.wait_for(lambda: bool(reader.steps(f"webhook-{case.delivery}")))

    return KillPoint("delivery-authorised", wait)


KILL_POINTS = [
    after_delivery_accepted(),
    *(
        after_fix_step(name)
        for name in (
            "load_pull_request",
            "read_checks",
            "read_failures",
            "prepare_worktree",
            "commit_work",
            "push",
            "finished_at",
        )
    ),
    mid_model_call(),
    mid_commit("devbot: report after fixing CI", "commit_report"),
    mid_push(),
    mid_request("final-status", "final_status", _comment_post("devbot:ci-status:")),
]


@pytest.mark.parametrize("point", KILL_POINTS, ids=str)
def test_killed_ci_fix_run_resumes_to_the_same_result(
    harness: Harness, baseline: Outcome, point: KillPoint
) -> None:
    outcome = _run(harness, point)
    assert outcome.delivery_steps == baseline.delivery_steps
    assert outcome.fix_steps == baseline.fix_steps  # each step once, none missing
    assert outcome.fix_status == "completed"
    assert outcome.subjects == baseline.subjects  # no second commit
    assert outcome.hello == baseline.hello
    assert outcome.statuses == baseline.statuses  # one status comment, the same
    extra = point.extra_paid
    assert baseline.paid <= outcome.paid <= baseline.paid + extra
