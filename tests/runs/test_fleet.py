"""A fleet: `devbot serve` and three `devbot worker` processes, each with its own HOME and
state folder, sharing nothing but PostgreSQL, a remote served over `file://` from a folder
none of them owns, and the GitHub double.

30 issues become 30 plan runs and 10 review comments 10 feedback runs; each completes once
(one PR per issue, two commits per plan run, one reply and one status per comment, no model
turn paid twice). One worker is killed with SIGKILL in the middle of a run whose worktree it
had changed; another worker takes the run over, gets the worktree back from its checkpoint
and ends it with the same commits as an uninterrupted run of the same plan (its twin).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from dbos import DBOSClient

from tests.fixtures.devbot_process import StepReader, free_port, output_of
from tests.fixtures.fleet import REPO, Fleet, Replies
from tests.fixtures.fleet import metric_samples as samples
from tests.fixtures.github_double import DEFAULT_LOGIN
from tests.fixtures.repo import undated

PLANS = 30
FEEDBACK = 10
VICTIM, TWIN = 101, 102
TITLE = "Fleet task"


def _body(number: int) -> str:
    return f"Create hello.txt and notes, and swap add's operands. Ticket {number}."


def _normalised(text: str, number: int) -> str:
    """Text of one issue's run with its number (and the dates) written as N."""
    text = re.sub(rf"\b{number}\b", "N", text)
    return undated(text)


def _commits(fleet: Fleet, branch: str, number: int) -> list[tuple[str, dict[str, str]]]:
    origin = fleet.origin
    log = origin.git("log", "--format=%s%x00%H", f"main..{branch}", cwd=origin.bare)
    commits = []
    for line in log.splitlines():
        subject, sha = line.split("\0")
        files = {
            _normalised(path, number): _normalised(text, number)
            for path, text in origin.undated_files(sha).items()
        }
        commits.append((_normalised(subject, number), files))
    return commits


def _executor(url: str, run_id: str) -> str:
    client = DBOSClient(system_database_url=url)
    try:
        (workflow,) = client.list_workflows(workflow_ids=[run_id], load_input=False)
        return str(workflow.executor_id or "")
    finally:
        client.destroy()


def _kill_mid_run(fleet: Fleet, replies: Replies, reader: StepReader) -> tuple[str, str]:
    """Once the victim's first action (a file written) is recorded and its next model turn
    is in flight, SIGKILL the worker running it; (run id, that worker)."""
    fleet.wait_for("the victim's run", lambda: any(r.title == TITLE for r in _victims(fleet)))
    (victim,) = _victims(fleet)
    fleet.wait_for("its first action", lambda: "action" in reader.steps(victim.id))
    fleet.wait_for("its second model turn", lambda: replies.slow_requests >= 2)
    owner = _executor(fleet.url, victim.id)
    process = fleet.workers[owner]
    fleet.procs.kill(process)
    steps = reader.steps(victim.id)
    assert "commit_work" not in steps, "the run went too far before the kill"
    return victim.id, owner


def _victims(fleet: Fleet) -> list[Any]:
    return [r for r in fleet.runs("issue") if f"issue-{VICTIM}-" in r.plan_path]


def test_a_fleet_does_each_run_once_and_a_killed_workers_run_ends_elsewhere_the_same(
    fleet: Any,
) -> None:
    replies = Replies(delay=0.05, slow_marker=f"Ticket {VICTIM}.", slow_delay=1.5)
    f: Fleet = fleet(
        replies,
        DEVBOT_WORKER_TIMEOUT_S="4",
        DEVBOT_WORKER_CONCURRENCY="4",
        DEVBOT_REPO_CONCURRENCY="12",
        DEVBOT_QUEUE_POLL_S="0.1",
        DEVBOT_FEEDBACK_DEBOUNCE_S="0.5",
    )
    f.serve()
    ports = {worker: free_port() for worker in ("w1", "w2", "w3")}
    for worker, port in ports.items():
        f.worker(worker, DEVBOT_METRICS_PORT=str(port))
    reader = StepReader(f.url)
    try:
        f.issue(VICTIM, TITLE, _body(VICTIM))
        f.issue(TWIN, TITLE, _body(TWIN))
        for number in range(1, PLANS - 1):
            f.issue(number, f"Task {number}", _body(number))
        victim, killed = _kill_mid_run(f, replies, reader)
        f.wait_for(
            "30 plan runs",
            lambda: (
                len(f.runs("issue")) == PLANS
                and all(r.finished_at is not None for r in f.runs("issue"))
            ),
        )
        plans = f.runs("issue")
        assert [r.message for r in plans if r.status != "completed"] == []
        assert _executor(f.url, victim) != killed  # finished on another worker

        twin = next(r for r in plans if f"issue-{TWIN}-" in r.plan_path)
        taken = next(r for r in plans if r.id == victim)
        assert reader.steps(taken.id) == reader.steps(twin.id)  # each step recorded once
        assert _commits(f, taken.branch, VICTIM) == _commits(f, twin.branch, TWIN)

        pulls = f.double.pulls(REPO)
        assert sorted(p["head"]["ref"] for p in pulls) == sorted(r.branch for r in plans)
        for record in plans:
            log = f.origin.git("log", "--format=%s", f"main..{record.branch}", cwd=f.origin.bare)
            assert len(log.splitlines()) == 2, (record.branch, log)  # work + report
        paid = len(f.server.requests)
        assert 3 * PLANS <= paid <= 3 * PLANS + 1  # the turn cut short, at most

        reviewed = sorted(p["number"] for p in pulls)[:FEEDBACK]
        for number in reviewed:
            f.review(number, "Please also add feedback.txt.")
        f.wait_for(
            "10 feedback runs",
            lambda: (
                len(f.runs("feedback")) == FEEDBACK
                and all(r.finished_at is not None for r in f.runs("feedback"))
            ),
        )
        feedback = f.runs("feedback")
        assert [r.message for r in feedback if r.status != "completed"] == []
        assert len(f.server.requests) == paid + FEEDBACK
        posted = f.double.posted_by(DEFAULT_LOGIN, REPO)
        replies_to = Counter(c.get("in_reply_to_id") for c in posted if c.get("in_reply_to_id"))
        assert len(replies_to) == FEEDBACK and set(replies_to.values()) == {1}
        statuses = [c for c in posted if "devbot feedback run" in c.get("body", "")]
        assert len(statuses) == FEEDBACK
        for record in feedback:
            log = f.origin.git("log", "--format=%s", f"main..{record.branch}", cwd=f.origin.bare)
            assert len(log.splitlines()) == 4, (record.branch, log)
        for worker in ("w1", "w2", "w3"):
            if worker != killed:
                assert f.workers[worker].poll() is None, output_of(f.workers[worker])
        _operate(f, killed, ports)
    finally:
        reader.close()


def _operate(f: Fleet, killed: str, ports: dict[str, int]) -> None:
    """What an operator sees: `devbot workers` and `/metrics` of serve and of a worker."""
    home, own = f.home("operator")
    code, listing = f.procs.run("workers", cwd=home, env=own)
    assert code == 0, listing
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert {"w1", "w2", "w3"} <= set(rows), listing
    assert rows[killed][1] == "dead" and all(
        rows[w][1] == "alive" for w in ("w1", "w2", "w3") if w != killed
    ), listing
    survivor = next(w for w in ("w1", "w2", "w3") if w != killed)
    for url in (f"{f.serve_url}/metrics", f"http://127.0.0.1:{ports[survivor]}/metrics"):
        found = samples(f.metrics(url))
        assert found[("devbot_runs", (("kind", "issue"), ("status", "completed")))] == PLANS
        assert found[("devbot_runs", (("kind", "feedback"), ("status", "completed")))] == FEEDBACK
        assert found[("devbot_workers", (("state", "dead"),))] == 1
        assert found[("devbot_run_duration_seconds_count", (("kind", "issue"),))] == PLANS
        assert found[("devbot_queue_depth", (("queue", "devbot-runs"),))] == 0
    answered = samples(f.metrics(f"{f.serve_url}/metrics"))
    accepted = sum(
        value
        for (name, labels), value in answered.items()
        if name == "devbot_webhook_deliveries_total" and ("outcome", "accepted") in labels
    )
    assert accepted == PLANS + FEEDBACK
