"""Workers on PostgreSQL: `devbot worker` processes share one DBOS queue.

Real PostgreSQL (scripts/ci/postgres.sh), real git with bare origins, the OpenAI SDK against
a local replay server that counts paid calls. The test process only enqueues
(`workers = "external"`); three worker processes do the runs.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devbot.config import Settings, load_settings
from devbot.llm.scripted import ScriptedModel
from devbot.runs.engine.engine import Engine
from devbot.runs.runtime import Runtime, checkout_repository
from devbot.runs.state.store import RunRecord
from devbot.vcs.forge import LocalForge
from tests.fixtures.devbot_process import DevbotProcess, StepReader, output_of
from tests.fixtures.model_servers import OpenAIServer
from tests.fixtures.repo import OriginRepo, make_origin_repo

USAGE = {"prompt_tokens": 200, "completion_tokens": 20}


def replies(delay: float) -> list[dict[str, Any]]:
    return [
        {"text": "@@WRITE out.txt\ndone\n@@END\n", "delay": delay, "usage": USAGE},
        {"text": "@@FINISH\nWrote out.txt.\n@@END\n", "delay": delay, "usage": USAGE},
    ]


@dataclass
class Fleet:
    repos: list[OriginRepo]
    settings: Settings
    procs: DevbotProcess
    server: OpenAIServer
    url: str
    engines: list[Engine]

    @property
    def engine(self) -> Engine:
        """The test process's engine (a submitter), launched at first use."""
        if not self.engines:
            self.engines.append(Engine.launch(Runtime.open(self.settings, self.repos[0].work)))
        return self.engines[0]

    def submit(self, runs_per_repo: int) -> list[str]:
        ids = []
        for index in range(runs_per_repo):
            for repo in self.repos:
                plan = repo.work / "ai-plans" / f"261124__PLAN__task-{index:02d}.md"
                plan.parent.mkdir(parents=True, exist_ok=True)
                plan.write_text(f"# Task {index}\n\nWrite out.txt.\n", encoding="utf-8")
                submitted = self.engine.submit_plan(plan, self.settings, repo=repo.work)
                ids.append(submitted.record.id)
        return ids

    def worker(self, worker_id: str, **env: str) -> subprocess.Popen[str]:
        return self.procs.start(
            "worker",
            "--repo",
            str(self.repos[0].work),
            cwd=self.repos[0].work,
            env={"DEVBOT_WORKER_ID": worker_id, **env},
        )

    def records(self, ids: list[str]) -> list[RunRecord]:
        store = self.engine.runtime.store
        return [store.get(run_id) for run_id in ids]

    def wait_done(self, ids: list[str], timeout: float = 150) -> list[RunRecord]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.records(ids)
            if all(r.status not in ("queued", "running") for r in records):
                return records
            time.sleep(0.25)
        logs = "\n".join(output_of(p)[-2000:] for p in self.procs.started)
        raise AssertionError(f"runs still active after {timeout} s:\n{logs}")


@pytest.fixture
def fleet(
    postgres_url: str, tmp_path: Path, isolated_git: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    def make(delay: float, repos: int, **env: str) -> Fleet:
        server = OpenAIServer()
        server.serve_model(ScriptedModel.from_replies(replies(delay)))
        server.start()
        made.append(server)
        common = {
            "DEVBOT_DATABASE_URL": postgres_url,
            "DEVBOT_WORKERS": "external",
            "OPENAI_API_KEY": "sk-test",
            "DEVBOT_SANDBOX": "local",
            **env,
        }
        for name, value in common.items():
            monkeypatch.setenv(name, value)
        clones = [make_origin_repo(tmp_path / f"repo-{i}") for i in range(repos)]
        flags = {"model": "openai/gpt-4o-mini", "api_base": server.url}
        settings = load_settings(clones[0].work, flags)
        procs = DevbotProcess(logs=tmp_path)
        procs.env = common
        started.append(procs)
        fleet = Fleet(clones, settings, procs, server, postgres_url, engines)
        return fleet

    made: list[OpenAIServer] = []
    started: list[DevbotProcess] = []
    engines: list[Engine] = []
    yield make  # type: ignore[misc]
    for procs in started:
        procs.close()
    for engine in engines:
        engine.shutdown()
        engine.runtime.close()
    for server in made:
        server.stop()


def _executors(url: str, ids: list[str]) -> dict[str, str]:
    from dbos import DBOS

    found = DBOS.list_workflows(workflow_ids=ids, load_input=False, load_output=False)
    return {wf.workflow_id: wf.executor_id or "" for wf in found}


def _assert_each_run_done_once(fleet: Fleet, records: list[RunRecord]) -> None:
    assert [r.status for r in records] == ["completed"] * len(records), [
        r.message for r in records if r.status != "completed"
    ]
    reader = StepReader(fleet.url)
    try:
        for record in records:
            steps = reader.steps(record.id)
            assert steps.count("model") == 2 and steps.count("commit_report") == 1, steps
    finally:
        reader.close()
    runtime = fleet.engine.runtime  # in the workers' state folder: the first clone's .devbot/
    for repo in fleet.repos:
        repository = checkout_repository(repo.work, "origin")
        mine = [r for r in records if r.repo == repository.key]
        forge = runtime.forge(fleet.settings, repository)
        assert isinstance(forge, LocalForge)
        prs = forge.list_pull_requests()
        assert sorted(pr.head for pr in prs) == sorted(r.branch for r in mine)  # one PR each
        for record in mine:
            subjects = repo.git(
                "log", "--format=%s", f"main..{record.branch}", cwd=repo.bare
            ).splitlines()
            assert len(subjects) == 2, subjects  # work + report, no duplicate commit


def test_three_workers_share_the_queue_and_do_each_of_30_runs_once(fleet: Any) -> None:
    f: Fleet = fleet(0.15, repos=6, DEVBOT_WORKER_CONCURRENCY="2")
    workers = [f.worker(f"w{i}") for i in (1, 2, 3)]
    ids = f.submit(runs_per_repo=5)
    assert len(ids) == 30
    records = f.wait_done(ids)

    _assert_each_run_done_once(f, records)
    assert len(f.server.requests) == 60  # two turns per run, none paid twice
    by_worker = _executors(f.url, ids)
    assert set(by_worker.values()) == {"w1", "w2", "w3"}, by_worker
    for worker in workers:
        assert worker.poll() is None, output_of(worker)


def test_a_killed_workers_runs_are_completed_by_recovery(fleet: Any) -> None:
    f: Fleet = fleet(0.6, repos=4, DEVBOT_WORKER_CONCURRENCY="2", DEVBOT_WORKER_TIMEOUT_S="3")
    doomed = f.worker("w1")
    ids = f.submit(runs_per_repo=2)
    deadline = time.monotonic() + 60
    while "w1" not in _executors(f.url, ids).values():
        assert time.monotonic() < deadline, output_of(doomed)
        time.sleep(0.05)
    time.sleep(0.3)  # inside a model turn
    taken = sorted(run for run, owner in _executors(f.url, ids).items() if owner == "w1")
    f.procs.kill(doomed)
    survivor = f.worker("w2")
    records = f.wait_done(ids)

    _assert_each_run_done_once(f, records)
    owners = _executors(f.url, ids)
    assert all(owners[run] == "w2" for run in taken), owners
    paid_again = len(f.server.requests) - 2 * len(ids)
    assert 0 <= paid_again <= len(taken)  # at most the calls cut short by the kill
    assert survivor.poll() is None, output_of(survivor)
