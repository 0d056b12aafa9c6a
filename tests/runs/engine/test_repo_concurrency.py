"""`repo_concurrency = 2` on one worker: runs of one repository go two at a time, each in
its own worktree of the worker's one mirror, with fetches and pushes serialised on it.

One `devbot worker` process (its own HOME and state folder, no checkout) takes 40 plan runs
of one repository from the queue: at every moment two of them are in flight (never more),
all complete without a git lock error, and each branch holds exactly its own run's file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dbos import DBOSClient

from devbot.config import load_settings
from devbot.runs.engine.engine import Engine
from devbot.runs.runtime import Runtime
from devbot.vcs.repository import Repository
from tests.fixtures.devbot_process import output_of
from tests.fixtures.fleet import Fleet, Replies
from tests.fixtures.model_servers import Answer, OpenAIServer, RecordedRequest

RUNS = 40
DELAY = 0.3


class Marked(Replies):
    """Each run writes `mark-<ticket>.txt` holding its ticket, then finishes."""

    def install(self, server: OpenAIServer) -> None:
        def respond(request: RecordedRequest) -> Answer:
            messages, _tools = server.conversation(request.body)
            user = "\n".join(m.content for m in messages if m.role == "user")
            ticket = re.search(r"Ticket (\w+)\.", user)
            assert ticket is not None
            turns = sum(1 for m in messages if m.role == "assistant")
            text = (
                f"@@WRITE mark-{ticket[1]}.txt\n{ticket[1]}\n@@END\n"
                if turns == 0
                else "@@FINISH\nWrote the mark.\n@@END\n"
            )
            return Answer(200, server.reply_body(text=text, prompt_tokens=100))

        server.responder = respond


def _spans(url: str, ids: list[str]) -> list[tuple[float, float]]:
    """(first step started, last step ended) of each run, in seconds."""
    client = DBOSClient(system_database_url=url)
    try:
        spans = []
        for run_id in ids:
            steps = client.list_workflow_steps(run_id, load_output=False)
            starts = [s["started_at_epoch_ms"] for s in steps if s["started_at_epoch_ms"]]
            ends = [s["completed_at_epoch_ms"] for s in steps if s["completed_at_epoch_ms"]]
            spans.append((min(starts) / 1000, max(ends) / 1000))
        return spans
    finally:
        client.destroy()


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_two_runs_of_one_repository_at_once_on_one_worker_forty_times(
    fleet: Any, tmp_path: Path
) -> None:
    f: Fleet = fleet(
        Marked(DELAY),
        DEVBOT_REPO_CONCURRENCY="2",
        DEVBOT_WORKER_CONCURRENCY="4",
        DEVBOT_QUEUE_POLL_S="0.1",
    )
    worker = f.worker("solo")
    settings = load_settings(None, {"state_dir": str(tmp_path / "submitter")}, environ={**f.common})
    repository = Repository(f.remote)
    runtime = Runtime.open(settings, repository=repository)
    engine = Engine.launch(runtime)
    try:
        ids = [
            engine.flows.submit(
                repository,
                f"ai-plans/261124__PLAN__task-{n:02d}.md",
                f"# Task {n}\n\nWrite the mark. Ticket t{n:02d}.\n",
                settings,
                via_queue=True,
            ).record.id
            for n in range(RUNS)
        ]
        f.wait_for(
            "40 runs",
            lambda: all(runtime.store.get(i).finished_at is not None for i in ids),
        )
        records = [runtime.store.get(i) for i in ids]
    finally:
        engine.shutdown()
        runtime.close()

    assert [r.message for r in records if r.status != "completed"] == []
    log = output_of(worker)
    assert "lock" not in log.lower(), log[-3000:]
    assert _most_at_once(_spans(f.url, ids)) == 2
    origin = f.origin
    for n, record in enumerate(records):
        files = origin.git("ls-tree", "-r", "--name-only", record.branch, cwd=origin.bare)
        marks = [name for name in files.splitlines() if name.startswith("mark-")]
        assert marks == [f"mark-t{n:02d}.txt"], (record.branch, marks)
        text = origin.git("show", f"{record.branch}:mark-t{n:02d}.txt", cwd=origin.bare)
        assert text == f"t{n:02d}"
    assert len({r.branch for r in records}) == RUNS
