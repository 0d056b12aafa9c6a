"""Crash tests of a spec run: `devbot run specs/001-photo-albums/` killed with SIGKILL around
the steps that tick its tasks (and in the middle of a model turn), then `devbot runs resume`
(also on a machine that lost the worktree), ends exactly like an uninterrupted run: the same
commits one by one, the same ticks, report, PR and trajectory.

Real DBOS on SQLite, real git with a bare origin, the local forge, the OpenAI SDK talking to
a local server replaying a script with delays (so paid model calls are counted).
"""

from __future__ import annotations

import shutil
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
from tests.fixtures.speckit import FOLDER, TASKS, lay_out_feature

USAGE = {"prompt_tokens": 500, "completion_tokens": 40}
DELAY = 0.4
TASKS_TEXT = """# Tasks: Photo Albums

## Phase 1: Setup (Shared Infrastructure)

- [ ] T001 Create the package albums/ with an empty albums/__init__.py

---

## Phase 2: Foundational (Blocking Prerequisites)

- [ ] T002 [P] Define the Photo dataclass in albums/models.py
- [ ] T003 [P] Document the package in docs/albums.md

**Checkpoint**: Foundation ready
"""
REPLIES: list[dict[str, Any]] = [
    {
        "text": '@@WRITE albums/__init__.py\n"""Albums."""\n@@END\n'
        "@@FINISH\nCreated the package.\n@@END\n",
        "delay": DELAY,
        "usage": USAGE,
    },
    {"text": "@@WRITE albums/models.py\nPHOTO = 1\n@@END\n", "delay": DELAY, "usage": USAGE},
    {"text": "@@FINISH\nDefined Photo.\n@@END\n", "delay": DELAY, "usage": USAGE},
    {
        "text": "@@WRITE docs/albums.md\n# Albums\n@@END\n@@FINISH\nDocumented it.\n@@END\n",
        "delay": DELAY,
        "usage": USAGE,
    },
]
BRANCH = "devbot/001-photo-albums"
# the steps of one uninterrupted run, in order (test_baseline_steps says when they change)
STEPS = [
    "prepare_workspace",
    "read_tasks",
    "choose_sandbox",
    "cancel_check",
    "clock",
    "model",
    "action",
    "check_code",
    "commit_task",
    "cancel_check",
    "clock",
    "model",
    "action",
    "cancel_check",
    "clock",
    "model",
    "check_code",
    "commit_task",
    "cancel_check",
    "clock",
    "model",
    "action",
    "check_code",
    "verify",
    "commit_task",
    "cancel_check",
    "commit_work",
    "commit_report",
    "check_change_set",
    "push_and_open_pr",
    "remove_worktree",
    "finished_at",
]
TICKS = [n + 1 for n, name in enumerate(STEPS) if name == "commit_task"]
"""Kill points right after each task was ticked and committed."""


@dataclass
class Outcome:
    status: str
    model_calls: int
    steps: list[str]
    subjects: list[str]
    trees: list[dict[str, str]]
    report: str
    prs: list[tuple[str, str, str, str]]
    events: list[tuple[str, int]]


class Harness:
    def __init__(self, root: Path, procs: DevbotProcess, server: OpenAIServer) -> None:
        self.root, self.procs, self.server = root, procs, server
        self.count = 0

    def repo(self) -> OriginRepo:
        self.count += 1
        repo = make_origin_repo(self.root / f"case-{self.count}")
        lay_out_feature(repo.work, **{TASKS: TASKS_TEXT})
        return repo

    def start_run(self, repo: OriginRepo) -> subprocess.Popen[str]:
        model = ("--model", "openai/gpt-4o-mini", "--api-base", self.server.url)
        return self.procs.start("run", f"{FOLDER}/", *model, cwd=repo.work)

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
            model_calls=record.model_calls,
            steps=reader.steps(run_id),
            subjects=[subject for subject, _ in pairs],
            trees=[repo.undated_files(sha) for _, sha in pairs],
            report=undated(repo.remote_file(BRANCH, record.report_path) or ""),
            prs=[(p.head, p.base, p.title, p.body) for p in forge.list_pull_requests()],
            events=events,
        )


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    root = tmp_path_factory.mktemp("spec-crash")
    env = {"OPENAI_API_KEY": "sk-test", "DEVBOT_WORKER_TIMEOUT_S": "5", "DEVBOT_SANDBOX": "local"}
    with replay_server(REPLIES) as server, isolated_devbot(root, env) as procs:
        yield Harness(root, procs, server)


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
    assert len(harness.server.requests) - before == len(REPLIES)
    return outcome


def test_baseline_steps(baseline: Outcome) -> None:
    assert baseline.status == "completed"
    assert baseline.steps == STEPS, baseline.steps
    assert baseline.subjects == [
        "devbot: report for specs/001-photo-albums (completed)",
        "devbot: T003 Document the package in docs/albums.md",
        "devbot: T002 Define the Photo dataclass in albums/models.py",
        "devbot: T001 Create the package albums/ with an empty albums/__init__.py",
        "devbot: the Spec Kit feature specs/001-photo-albums (Photo Albums)",
    ]
    ticked = baseline.trees[0][TASKS]
    assert ticked.count("- [X] T") == 3 and "- [ ] T" not in ticked
    assert "- [ ] T003" in baseline.trees[2][TASKS] and "- [X] T002" in baseline.trees[1][TASKS]
    assert len(baseline.prs) == 1 and "3 of 3 tasks done" in baseline.prs[0][3]


def _crash_and_resume(
    harness: Harness, kill_after: int, mid_step: bool = False, lose_worktree: bool = False
) -> tuple[Outcome, int]:
    """Kill `devbot run` once `kill_after` steps are recorded (with `mid_step`, once the next
    model request is in flight), optionally lose the worktree and the local branch, then
    `devbot runs resume`; the outcome and the model calls paid."""
    repo = harness.repo()
    before = len(harness.server.requests)
    process = harness.start_run(repo)
    reader = StepReader(dbos_url(repo.work))
    try:
        reader.wait_for(lambda: len(reader.workflow_ids()) == 1)
        (run_id,) = reader.workflow_ids()
        reader.wait_for(lambda: len(reader.steps(run_id)) >= kill_after)
        if mid_step:
            started = STEPS[: kill_after + 1].count("model")
            reader.wait_for(lambda: len(harness.server.requests) - before >= started)
        harness.procs.kill(process)
        assert reader.steps(run_id) != STEPS, "the run finished before it could be killed"
        if lose_worktree:
            shutil.rmtree(repo.work / ".devbot" / "worktrees" / run_id)
            repo.git("worktree", "prune")
            repo.git("branch", "-D", BRANCH)
        code, output = harness.procs.run("runs", "resume", run_id, cwd=repo.work)
        assert code == 0, output
        if lose_worktree:
            assert "worktree restored from its checkpoint" in output, output
        outcome = harness.outcome(repo, reader, run_id)
    finally:
        reader.close()
    return outcome, len(harness.server.requests) - before


def _assert_same(outcome: Outcome, baseline: Outcome) -> None:
    assert outcome.status == baseline.status == "completed"
    assert outcome.steps == baseline.steps
    assert outcome.subjects == baseline.subjects  # no task committed (or ticked) twice
    assert outcome.trees == baseline.trees  # the same ticks and files, commit by commit
    assert outcome.report == baseline.report
    assert outcome.prs == baseline.prs
    assert outcome.events == baseline.events
    assert outcome.model_calls == baseline.model_calls


AROUND_TICKS = sorted({1, 2, *TICKS, *(n - 1 for n in TICKS)})
"""After the prepare step and the read of tasks.md, and just before and after each tick."""


@pytest.mark.parametrize("kill_after", AROUND_TICKS, ids=lambda n: f"after-{STEPS[n - 1]}-{n}")
def test_killed_around_a_tick_resumes_to_the_same_commits(
    harness: Harness, baseline: Outcome, kill_after: int
) -> None:
    outcome, paid = _crash_and_resume(harness, kill_after)
    _assert_same(outcome, baseline)
    assert paid - len(REPLIES) <= 1


@pytest.mark.parametrize("kill_after", TICKS, ids=lambda n: f"after-{STEPS[n - 1]}-{n}")
def test_a_spec_run_whose_worktree_is_lost_after_a_tick_comes_back_the_same(
    harness: Harness, baseline: Outcome, kill_after: int
) -> None:
    outcome, paid = _crash_and_resume(harness, kill_after, lose_worktree=True)
    _assert_same(outcome, baseline)
    assert paid - len(REPLIES) <= 1


def test_killed_in_the_model_turn_after_a_tick_pays_that_turn_once_more(
    harness: Harness, baseline: Outcome
) -> None:
    turn = STEPS.index("model", TICKS[0])  # the first turn on T002
    outcome, paid = _crash_and_resume(harness, turn, mid_step=True)
    _assert_same(outcome, baseline)
    assert paid == len(REPLIES) + 1
