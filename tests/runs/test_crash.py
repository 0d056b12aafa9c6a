"""Crash tests: `devbot run` killed with SIGKILL at every step boundary and in the middle of
model turns, then `devbot runs resume`, ends exactly like an uninterrupted run.

Real DBOS on SQLite, real git with a bare origin, the local forge, and the OpenAI SDK
talking to a local server that replays a script with delays (so paid model calls can be
counted). Boundaries are found by polling DBOS's step records from outside the process.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devbot.runs.state.store import RunStore
from devbot.vcs.forge import LocalForge
from tests.fixtures.devbot_process import (
    DevbotProcess,
    StepReader,
    dbos_url,
    isolated_devbot,
    output_of,
    replay_server,
)
from tests.fixtures.model_servers import OpenAIServer
from tests.fixtures.repo import OriginRepo, make_origin_repo, undated

USAGE = {"prompt_tokens": 500, "completion_tokens": 40}
DELAY = 0.4
REPLIES: list[dict[str, Any]] = [
    {"text": "@@WRITE hello.txt\nworld\n@@END\n", "delay": DELAY, "usage": USAGE},
    {
        "text": "@@EDIT utils.py\n@@OLD\n    return a + b\n@@NEW\n    return b + a\n@@END\n"
        "@@WRITE docs/notes.md\n# Notes\n@@END\n",
        "delay": DELAY,
        "usage": USAGE,
    },
    {
        "text": "@@FINISH\nWrote hello.txt and notes; swapped add's operands.\n"
        "- Added `hello.txt`.\n@@END\n",
        "delay": DELAY,
        "usage": USAGE,
    },
]
PLAN = "---\ntitle: Crash test\n---\n\nCreate hello.txt, notes, and swap add.\n"
PLAN_REL = "ai-plans/261124__PLAN__task.md"
BRANCH = "devbot/task"
# steps of one uninterrupted run of REPLIES, in order: when the run's steps change, update
# this list (test_baseline_steps says so) so that every boundary stays covered
STEPS = [
    "prepare_workspace",
    "choose_sandbox",
    "cancel_check",
    "clock",
    "model",
    "action",
    "cancel_check",
    "clock",
    "model",
    "action",
    "action",
    "cancel_check",
    "clock",
    "model",
    "check_code",
    "verify",
    "cancel_check",
    "commit_work",
    "commit_report",
    "check_change_set",
    "push_and_open_pr",
    "remove_worktree",
    "finished_at",
]


@dataclass
class Outcome:
    status: str
    exit_status: str
    model_calls: int
    steps: list[str]
    subjects: list[str]
    trees: list[dict[str, str]]
    report: str
    prs: list[tuple[str, str, str, str]]
    events: list[tuple[str, int]]


class Harness:
    """One repository + model server per call of `run`; devbot runs as a subprocess."""

    def __init__(self, root: Path, procs: DevbotProcess, server: OpenAIServer) -> None:
        self.root = root
        self.procs = procs
        self.server = server
        self.count = 0

    def repo(self) -> OriginRepo:
        self.count += 1
        repo = make_origin_repo(self.root / f"case-{self.count}")
        plan = repo.work / PLAN_REL
        plan.parent.mkdir(parents=True)
        plan.write_text(PLAN, encoding="utf-8")
        return repo

    def start_run(self, repo: OriginRepo) -> subprocess.Popen[str]:
        return self.procs.start(
            "run",
            PLAN_REL,
            "--model",
            "openai/gpt-4o-mini",
            "--api-base",
            self.server.url,
            cwd=repo.work,
        )

    def outcome(self, repo: OriginRepo, reader: StepReader, run_id: str) -> Outcome:
        store = RunStore(f"sqlite:///{repo.work / '.devbot' / 'runs.sqlite'}")
        try:
            record = store.get(run_id)
            events = [(e["kind"], e["step"]) for e in store.events(run_id)]
        finally:
            store.close()
        log = repo.git("log", "--format=%s%x00%T", f"main..{BRANCH}", cwd=repo.bare)
        pairs = [line.split("\0") for line in log.splitlines()]
        forge = LocalForge(repo.work / ".devbot" / "local_forge.sqlite")
        return Outcome(
            status=record.status,
            exit_status=record.exit_status,
            model_calls=record.model_calls,
            steps=reader.steps(run_id),
            subjects=[subject for subject, _ in pairs],
            trees=[repo.undated_files(sha) for _, sha in pairs],
            report=undated(repo.remote_file(BRANCH, record.report_path) or ""),
            prs=[(p.head, p.base, p.title, p.body) for p in forge.list_pull_requests()],
            events=events,
        )


@pytest.fixture(scope="module")
def model_server() -> Iterator[OpenAIServer]:
    with replay_server(REPLIES) as server:
        yield server


@pytest.fixture(scope="module")
def harness(
    tmp_path_factory: pytest.TempPathFactory, model_server: OpenAIServer
) -> Iterator[Harness]:
    root = tmp_path_factory.mktemp("crash")
    env = {"OPENAI_API_KEY": "sk-test", "DEVBOT_WORKER_TIMEOUT_S": "5"}
    with isolated_devbot(root, env) as procs:
        yield Harness(root, procs, model_server)


@pytest.fixture(scope="module")
def baseline(harness: Harness) -> Outcome:
    repo = harness.repo()
    before = len(harness.server.requests)
    process = harness.start_run(repo)
    assert process.wait(timeout=120) == 0, output_of(process)
    reader = StepReader(dbos_url(repo.work))
    try:
        (run_id,) = reader.workflow_ids()
        outcome = harness.outcome(repo, reader, run_id)
    finally:
        reader.close()
    outcome_paid = len(harness.server.requests) - before
    assert outcome_paid == len(REPLIES)
    return outcome


def test_baseline_steps(baseline: Outcome) -> None:
    assert baseline.status == "completed"
    assert baseline.steps == STEPS, baseline.steps
    assert baseline.subjects == ["devbot: report for task (completed)", "devbot: Crash test"]
    assert len(baseline.prs) == 1
    assert "status: completed" in baseline.report


def _crash_and_resume(
    harness: Harness, kill_after: int, mid_step: bool, lose_worktree: bool = False
) -> tuple[Outcome, int]:
    """Kill `devbot run` once `kill_after` steps are recorded (and, when `mid_step`, once the
    next model request is in flight), resume with `devbot runs resume`; the outcome and the
    model calls paid. `lose_worktree`: before the resume, the worktree and the run's local
    branch go, as on a machine that never had them (the resume rebuilds them from the run's
    checkpoint)."""
    repo = harness.repo()
    before = len(harness.server.requests)
    process = harness.start_run(repo)
    reader = StepReader(dbos_url(repo.work))
    try:
        reader.wait_for(lambda: len(reader.workflow_ids()) == 1)
        (run_id,) = reader.workflow_ids()
        reader.wait_for(lambda: len(reader.steps(run_id)) >= kill_after)
        if mid_step:  # the model step's request has reached the server, its reply is delayed
            started = STEPS[: kill_after + 1].count("model")
            reader.wait_for(lambda: len(harness.server.requests) - before >= started)
        harness.procs.kill(process)
        recorded = reader.steps(run_id)
        assert recorded != STEPS, "the run finished before it could be killed"
        if lose_worktree:
            shutil.rmtree(repo.work / ".devbot" / "worktrees" / run_id)
            repo.git("worktree", "prune")
            repo.git("branch", "-D", BRANCH)
        code, output = harness.procs.run("runs", "resume", run_id, cwd=repo.work)
        assert code == 0, output
        assert "resumes from its last step" in output, output
        outcome = harness.outcome(repo, reader, run_id)
    finally:
        reader.close()
    return outcome, len(harness.server.requests) - before


def _assert_same(outcome: Outcome, baseline: Outcome) -> None:
    assert outcome.status == baseline.status == "completed"
    assert outcome.steps == baseline.steps  # each step recorded once, none missing
    assert outcome.subjects == baseline.subjects  # no duplicate commit
    assert outcome.report == baseline.report
    assert outcome.trees == baseline.trees  # same content, commit by commit
    assert outcome.prs == baseline.prs  # exactly one PR, same title and body
    assert outcome.events == baseline.events  # trajectory events keyed, none twice
    assert outcome.model_calls == baseline.model_calls


# the last boundary (between remove_worktree and finished_at) lasts microseconds: no kill from
# outside can land there reliably, and finished_at only records a timestamp
@pytest.mark.parametrize(
    "kill_after", range(1, len(STEPS) - 1), ids=lambda n: f"after-{STEPS[n - 1]}-{n}"
)
def test_killed_at_a_step_boundary_resumes_to_the_same_result(
    harness: Harness, baseline: Outcome, kill_after: int
) -> None:
    outcome, paid = _crash_and_resume(harness, kill_after, mid_step=False)
    _assert_same(outcome, baseline)
    assert paid - len(REPLIES) <= 1  # at most the model call cut short is paid again


# after the prepare step, after each step that changed the worktree, and mid model turn
LOST_AT = [1, 6, 10, 11, 15, 17, 18]


@pytest.mark.parametrize("kill_after", LOST_AT, ids=lambda n: f"after-{STEPS[n - 1]}-{n}")
def test_a_run_whose_worktree_is_lost_comes_back_from_its_checkpoint_the_same(
    harness: Harness, baseline: Outcome, kill_after: int
) -> None:
    outcome, paid = _crash_and_resume(harness, kill_after, mid_step=False, lose_worktree=True)
    _assert_same(outcome, baseline)
    assert paid - len(REPLIES) <= 1


def _recorded_head(repo: OriginRepo, run_id: str) -> str:
    """The sha the run record says was pushed ("" before the push)."""
    store = RunStore(f"sqlite:///{repo.work / '.devbot' / 'runs.sqlite'}")
    try:
        return store.get(run_id).head_sha
    finally:
        store.close()


def test_a_run_killed_between_its_push_and_its_pr_on_a_machine_without_its_worktree(
    harness: Harness, baseline: Outcome
) -> None:
    """The publish step pushed (the run record names the sha) but never opened the PR nor
    was recorded: the resume has no worktree here, rebuilds it from the checkpoint, and the
    step, run again, finds the push done and opens the one PR."""
    repo = harness.repo()
    forge_db = repo.work / ".devbot" / "local_forge.sqlite"
    forge_db.parent.mkdir(parents=True)
    holder = sqlite3.connect(forge_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the PR's transaction waits behind this one
    process = harness.start_run(repo)
    reader = StepReader(dbos_url(repo.work))
    try:
        reader.wait_for(lambda: len(reader.workflow_ids()) == 1)
        (run_id,) = reader.workflow_ids()
        reader.wait_for(lambda: _recorded_head(repo, run_id) != "", timeout=120)
        harness.procs.kill(process)
        holder.execute("ROLLBACK")
        assert "push_and_open_pr" not in reader.steps(run_id)
        shutil.rmtree(repo.work / ".devbot" / "worktrees" / run_id)
        repo.git("worktree", "prune")
        repo.git("branch", "-D", BRANCH)
        code, output = harness.procs.run("runs", "resume", run_id, cwd=repo.work)
        assert code == 0, output
        assert "worktree restored from its checkpoint" in output, output
        outcome = harness.outcome(repo, reader, run_id)
    finally:
        holder.close()
        reader.close()
    _assert_same(outcome, baseline)


@pytest.mark.parametrize("model_step", [i for i, name in enumerate(STEPS) if name == "model"])
def test_killed_in_the_middle_of_a_model_turn_pays_that_turn_once_more_at_most(
    harness: Harness, baseline: Outcome, model_step: int
) -> None:
    outcome, paid = _crash_and_resume(harness, model_step, mid_step=True)
    _assert_same(outcome, baseline)
    assert paid == len(REPLIES) + 1  # the call in flight was cut short; the rest never repeat


def _interrupt_and_resume(
    harness: Harness, command: str, signals: int
) -> tuple[Outcome, int, str, int]:
    """Send Ctrl-C (`signals` times) to `devbot run` or `devbot watch` once the first action
    is recorded, then `devbot runs resume`; the outcome, model calls paid, what the
    interrupted process printed and its exit code."""
    repo = harness.repo()
    before = len(harness.server.requests)
    model = ("--model", "openai/gpt-4o-mini", "--api-base", harness.server.url)
    if command == "run":
        process = harness.start_run(repo)
    else:
        process = harness.procs.start("watch", *model, cwd=repo.work)
    reader = StepReader(dbos_url(repo.work))
    try:
        reader.wait_for(lambda: len(reader.workflow_ids()) == 1)
        (run_id,) = reader.workflow_ids()
        reader.wait_for(lambda: "action" in reader.steps(run_id))
        for _ in range(signals):
            os.kill(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
        printed = output_of(process)
        assert reader.steps(run_id) != STEPS, "the run finished before it was interrupted"
        store = RunStore(f"sqlite:///{repo.work / '.devbot' / 'runs.sqlite'}")
        try:
            assert store.get(run_id).status != "failed", printed
        finally:
            store.close()
        resumed, output = harness.procs.run("runs", "resume", run_id, cwd=repo.work)
        assert resumed == 0, output
        outcome = harness.outcome(repo, reader, run_id)
    finally:
        reader.close()
    return outcome, len(harness.server.requests) - before, printed, code


@pytest.mark.parametrize("command", ["run", "watch"])
def test_ctrl_c_stops_at_a_step_boundary_and_resume_finishes_the_same_run(
    harness: Harness, baseline: Outcome, command: str
) -> None:
    outcome, paid, printed, code = _interrupt_and_resume(harness, command, signals=1)
    assert "Traceback" not in printed and "ERROR" not in printed, printed
    assert "stops at its next step boundary" in printed
    assert "devbot runs resume" in printed
    assert code == (130 if command == "run" else 0), printed
    _assert_same(outcome, baseline)
    assert paid == len(REPLIES)  # nothing cut short, nothing paid twice


def test_a_second_ctrl_c_exits_at_once_and_the_run_still_resumes(
    harness: Harness, baseline: Outcome
) -> None:
    outcome, paid, printed, code = _interrupt_and_resume(harness, "run", signals=2)
    assert "Traceback" not in printed, printed
    assert code == 130
    _assert_same(outcome, baseline)
    assert paid - len(REPLIES) <= 1  # at most the model call cut short is paid again
