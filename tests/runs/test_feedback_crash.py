"""Crash tests of feedback runs: `devbot serve` killed with SIGKILL at step boundaries of the
delivery workflow and of the feedback run, and in the middle of every forge side effect,
then started again, ends exactly like an uninterrupted run.

Real `devbot serve` subprocesses, real DBOS on SQLite, real git with a bare origin, the
GitHub double in this process (it outlives each killed server), and the OpenAI SDK talking
to a local server that replays a script (so paid model calls can be counted). Boundaries are
found by polling DBOS's step records from outside; a kill "in the middle" of a side effect
holds the answer to the request that makes it (the double's `hold_answer`, a receive hook
for the push) so it has happened on the outside but was never recorded as a step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devbot.runs.runtime import checkout_repository
from devbot.runs.state.feedback import FeedbackState
from devbot.runs.state.inbox import Inbox
from devbot.runs.state.store import RunStore
from tests.fixtures.devbot_process import (
    DevbotProcess,
    StepReader,
    dbos_url,
    free_port,
    isolated_devbot,
    output_of,
    replay_server,
)
from tests.fixtures.github_double import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    GitHubDouble,
    Hold,
    require_octokit,
)
from tests.fixtures.github_spec import load_examples, load_spec
from tests.fixtures.model_servers import OpenAIServer
from tests.fixtures.repo import OriginRepo, make_origin_repo, run_git, undated
from tests.fixtures.webhook import SECRET, post_delivery

BRANCH = "devbot/task"
REVIEWER = "alice"
USAGE = {"prompt_tokens": 500, "completion_tokens": 40}
DELAY = 0.3
REPLIES: list[dict[str, Any]] = [
    {"text": "@@WRITE hello.txt\nworld!\n@@END\n", "delay": DELAY, "usage": USAGE},
    {"text": "@@FINISH\nhello.txt now ends with '!'.\n@@END\n", "delay": DELAY, "usage": USAGE},
]
PLAN_REPLY = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"
# steps of one uninterrupted delivery workflow and feedback run, in order: when they change,
# update these lists (test_baseline_steps says so) and the boundaries chosen below
DELIVERY_STEPS = ["authorise", "react", "schedule_feedback", "devbot.feedback_run", "mark_delivery"]
FEEDBACK_STEPS = [
    "begin",
    "load_pull_request",
    "base_settings",
    "collect_comments",
    "progress_comment",
    "prepare_worktree",
    "progress: the agent is working",
    "choose_sandbox",
    "clock",
    "model",
    "action",
    "clock",
    "model",
    "check_code",
    "verify",
    "commit_work",
    "commit_report",
    "check_change_set",
    "push",
    "reply_in_threads",
    "resolve_threads",
    "mark_addressed",
    "remove_worktree",
    "finished_at",
    "final_status",
    "progress: finished (done), see the status comment",
    "finish_state",
]


@dataclass
class Outcome:
    delivery_steps: list[str]
    feedback_steps: list[str]
    feedback_runs: list[str]
    delivery_status: str
    subjects: list[str]
    files: list[dict[str, str]]
    report: str
    replies: list[str]
    statuses: list[str]
    progress: list[str]
    reactions: list[str]
    resolved: bool
    model_calls: int
    paid: int


@dataclass
class Case:
    """One repository (a copy of the template) with its own PR on the double."""

    repo: OriginRepo
    name: str
    number: int
    comment_id: int = 0
    thread_id: str = ""
    delivery: str = ""
    paid_before: int = 0
    env: dict[str, str] = field(default_factory=dict)
    """Added to the environment of `devbot serve` (a kill point's instruments)."""


class Harness:
    """Makes cases and runs `devbot serve` for them as subprocesses."""

    def __init__(
        self,
        root: Path,
        procs: DevbotProcess,
        double: GitHubDouble,
        server: OpenAIServer,
        template: OriginRepo,
        pull: dict[str, Any],
    ) -> None:
        self.root, self.procs, self.double, self.server = root, procs, double, server
        self.template, self.pull = template, pull
        self.count = 0

    def case(self) -> Case:
        """A fresh clone of the template's origin (main and the PR branch) and its own PR,
        opened on the double the way devbot opened the template's."""
        self.count += 1
        root = self.root / f"case-{self.count}"
        root.mkdir()
        bare, work = root / "origin.git", root / "work"
        run_git("clone", "--quiet", "--bare", str(self.template.bare), str(bare), cwd=root)
        run_git("clone", "--quiet", str(bare), str(work), cwd=root)
        repo = OriginRepo(bare=bare, work=work)
        repo.git("config", "user.name", "Test User")
        repo.git("config", "user.email", "test@example.com")
        repo.git("remote", "set-head", "origin", "main")
        name = f"octo/case-{self.count}"
        self.double.add_repo(name, bare=bare)
        self.double.add_collaborator(name, DEFAULT_LOGIN, "write")
        self.double.add_collaborator(name, REVIEWER, "write")
        body = {
            "title": self.pull["title"],
            "body": self.pull["body"],
            "head": BRANCH,
            "base": "main",
        }
        status, pr, _ = self.double.handle(
            "POST",
            f"/repos/{name}/pulls",
            {"Authorization": f"token {DEFAULT_TOKEN}"},
            json.dumps(body).encode(),
        )
        assert status == 201, pr
        return Case(repo, name, int(pr["number"]))

    def serve(self, case: Case) -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        process = self.procs.start(
            "serve",
            "--repo",
            str(case.repo.work),
            "--port",
            str(port),
            "--model",
            "openai/gpt-4o-mini",
            "--api-base",
            self.server.url,
            cwd=case.repo.work,
            env={"DEVBOT_GITHUB_REPO": case.name, **case.env},
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert process.poll() is None, output_of(process)
            assert time.monotonic() < deadline, "devbot serve did not start"
            time.sleep(0.02)
        return process, url

    def comment(self, case: Case) -> dict[str, Any]:
        """The reviewer comments on hello.txt (GitHub's delivery is sent by `deliver`)."""
        comment = self.double.add_review_comment(
            case.name, case.number, REVIEWER, "Please add a '!'", path="hello.txt", line=1
        )
        case.comment_id = int(comment["id"])
        case.thread_id = str(self.double.thread_of(case.name, case.comment_id)["id"])
        case.delivery = f"delivery-{case.name.replace('/', '-')}"
        return comment

    def deliver(self, case: Case, url: str, comment: dict[str, Any]) -> None:
        """GitHub's delivery of the review comment reaches devbot serve."""
        case.paid_before = len(self.server.requests)
        pull = next(p for p in self.double.pulls(case.name) if p["number"] == case.number)
        payload = {
            "action": "created",
            "comment": comment,
            "pull_request": pull,
            "repository": {"full_name": case.name},
            "sender": comment["user"],
        }
        status, answer = post_delivery(
            url, "pull_request_review_comment", payload, delivery=case.delivery
        )
        assert status == 202, answer

    def wait_done(self, reader: StepReader, process: subprocess.Popen[str]) -> None:
        """Until the delivery workflow and the feedback run it started have both ended."""

        def done() -> bool:
            assert process.poll() is None, output_of(process)
            statuses = reader.statuses()
            finished = all(s in ("SUCCESS", "ERROR") for s in statuses.values())
            return finished and any(w.startswith("feedback-") for w in statuses)

        reader.wait_for(done, timeout=90, poll=0.05)

    def outcome(self, case: Case, reader: StepReader) -> Outcome:
        ids = reader.statuses()
        assert set(ids.values()) == {"SUCCESS"}, ids
        (feedback_id,) = [w for w in ids if w.startswith("feedback-")]
        work = case.repo.work
        url = f"sqlite:///{work / '.devbot' / 'runs.sqlite'}"
        store = RunStore(url)
        try:
            record = store.get(feedback_id)
            scope = checkout_repository(work, "origin").key  # runs are keyed by their remote
            runs = FeedbackState(store.engine).runs_for(scope, case.number)
            delivery = Inbox(store.engine).get(case.delivery)
        finally:
            store.close()
        assert delivery is not None
        bare = case.repo.bare
        log = case.repo.git("log", "--format=%H%x00%s", f"main..{BRANCH}", cwd=bare)
        commits = [line.split("\0") for line in log.splitlines()]
        report_paths = [
            p
            for p in case.repo.git("ls-tree", "-r", "--name-only", BRANCH, cwd=bare).split()
            if "__REPORT__" in p
        ]
        (report_path,) = report_paths
        posted = self.double.posted_by(DEFAULT_LOGIN, case.name)
        work_sha = commits[1][0] if len(commits) > 1 else ""

        def mask(text: str) -> str:
            text = text.replace(feedback_id, "RUN").replace(work_sha, "WORK")
            text = text.replace(case.name, "REPO").replace(commits[0][0], "HEAD")
            text = re.sub(rf"\b{case.comment_id}\b", "COMMENT", text)
            return undated(re.sub(r"\b\d+(\.\d+)? ?s\b", "N s", text))  # durations

        return Outcome(
            delivery_steps=reader.steps(f"webhook-{case.delivery}"),
            feedback_steps=reader.steps(feedback_id),
            feedback_runs=[f"{r.run_id}:{r.state}" for r in runs],
            delivery_status=delivery.status,
            subjects=[subject for _, subject in commits],
            files=[_files(case.repo, sha, report_path) for sha, _ in commits],
            report=mask(case.repo.remote_file(BRANCH, report_path) or ""),
            replies=[mask(c["body"]) for c in posted if c.get("in_reply_to_id") == case.comment_id],
            statuses=[mask(c["body"]) for c in posted if "devbot:status:" in c["body"]],
            progress=[mask(c["body"]) for c in posted if "devbot:progress:" in c["body"]],
            reactions=[
                r["content"]
                for r in self.double.reactions(case.name, "pulls", case.comment_id)
                if r["user"]["login"] == DEFAULT_LOGIN
            ],
            resolved=bool(self.double.thread_of(case.name, case.comment_id)["isResolved"]),
            model_calls=record.model_calls,
            paid=len(self.server.requests) - case.paid_before,
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _files(repo: OriginRepo, sha: str, report_path: str) -> dict[str, str]:
    """Path -> blob of every file of a commit but the REPORT (which names the run id)."""
    listing = repo.git("ls-tree", "-r", sha, cwd=repo.bare)
    files = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        if path != report_path:
            files[path] = meta.split()[2]
    return files


@pytest.fixture(scope="module")
def double() -> Iterator[GitHubDouble]:
    directory = require_octokit()
    github = GitHubDouble(load_spec(directory), load_examples(directory))
    github.serve()
    yield github
    github.close()
    assert not github.violations, "\n".join(github.violations)


@pytest.fixture(scope="module")
def model_server() -> Iterator[OpenAIServer]:
    with replay_server(REPLIES) as server:
        yield server


@pytest.fixture(scope="module")
def harness(
    tmp_path_factory: pytest.TempPathFactory, double: GitHubDouble, model_server: OpenAIServer
) -> Iterator[Harness]:
    root = tmp_path_factory.mktemp("feedback-crash")
    env = {
        "OPENAI_API_KEY": "sk-test",
        "GITHUB_TOKEN": DEFAULT_TOKEN,
        "DEVBOT_WEBHOOK_SECRET": SECRET.decode(),
        "DEVBOT_GITHUB_API_URL": double.url,
        "DEVBOT_FEEDBACK_DEBOUNCE_S": "0",
        "DEVBOT_WORKER_TIMEOUT_S": "5",
        "DEVBOT_QUEUE_POLL_S": "0.05",
    }
    with isolated_devbot(root, env) as procs:
        template = make_origin_repo(root / "template")
        double.add_repo("octo/template", bare=template.bare)
        double.add_collaborator("octo/template", DEFAULT_LOGIN, "write")
        script = root / "plan-script.json"
        script.write_text(json.dumps([{"text": PLAN_REPLY}]), encoding="utf-8")
        plan = template.work / "ai-plans" / "261124__PLAN__task.md"
        plan.parent.mkdir(parents=True)
        plan.write_text("---\ntitle: Task\n---\n\nCreate hello.txt.\n", encoding="utf-8")
        code, output = procs.run(
            "run",
            str(plan.relative_to(template.work)),
            "--model",
            f"scripted/{script}",
            cwd=template.work,
            env={"DEVBOT_GITHUB_REPO": "octo/template"},
        )
        assert code == 0, output
        (pull,) = double.pulls("octo/template")
        yield Harness(root, procs, double, model_server, template, pull)


@pytest.fixture(scope="module")
def baseline(harness: Harness) -> Outcome:
    case = harness.case()
    process, url = harness.serve(case)
    reader = StepReader(dbos_url(case.repo.work))
    try:
        harness.deliver(case, url, harness.comment(case))
        harness.wait_done(reader, process)
        outcome = harness.outcome(case, reader)
    finally:
        reader.close()
        harness.procs.kill(process)
    return outcome


def test_baseline_steps(baseline: Outcome) -> None:
    assert baseline.delivery_steps == DELIVERY_STEPS, baseline.delivery_steps
    assert baseline.feedback_steps == FEEDBACK_STEPS, baseline.feedback_steps
    assert baseline.feedback_runs[0].endswith(":done") and len(baseline.feedback_runs) == 1
    assert baseline.delivery_status == "scheduled"
    assert baseline.subjects[:2] == [
        "devbot: report after review feedback on #1",
        "devbot: address review feedback on #1",
    ]
    assert (
        baseline.files[0]["hello.txt"]
        == baseline.files[1]["hello.txt"]
        != baseline.files[2]["hello.txt"]
    )
    assert "Review feedback on PR #1 (run RUN)" in baseline.report
    assert len(baseline.replies) == 1 and "Addressed in WORK" in baseline.replies[0]
    assert len(baseline.statuses) == 1 and ": done**" in baseline.statuses[0]
    assert "commit: HEAD" in baseline.statuses[0]
    assert len(baseline.progress) == 1 and "finished (done)" in baseline.progress[0]
    assert baseline.reactions == ["eyes"] and baseline.resolved
    assert baseline.model_calls == baseline.paid == len(REPLIES)


# -- where to kill ------------------------------------------------------------------------

Release = Callable[[], None]


@dataclass(frozen=True)
class KillPoint:
    """`arm` prepares the case before the delivery is sent and returns what to release
    after the kill; `wait` returns when the process is to die."""

    name: str
    wait: Callable[[Harness, Case, StepReader], None]
    arm: Callable[[Harness, Case], Release] = lambda harness, case: lambda: None
    in_step: tuple[str, str] | None = None  # (workflow, step) not recorded yet at the kill
    extra_paid: int = 1  # at most the model call a kill cut short is paid again
    cuts_a_call: bool = False  # the kill surely lands in a paid call

    def __str__(self) -> str:
        return self.name


def _feedback_id(reader: StepReader) -> str | None:
    return next((w for w in reader.statuses() if w.startswith("feedback-")), None)


def _run_id(workflow: str, case: Case, reader: StepReader) -> str | None:
    return f"webhook-{case.delivery}" if workflow == "delivery" else _feedback_id(reader)


def after_step(workflow: str, count: int) -> KillPoint:
    """Once `count` steps of the delivery workflow (or of the feedback run) are recorded;
    0 = as soon as the delivery is accepted."""
    steps = DELIVERY_STEPS if workflow == "delivery" else FEEDBACK_STEPS

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        def reached() -> bool:
            run_id = _run_id(workflow, case, reader)
            return run_id is not None and len(reader.steps(run_id)) >= count

        reader.wait_for(reached)

    label = steps[count - 1] if count else "accepted"
    return KillPoint(f"{workflow}-{count}-{label}".replace(" ", "_"), wait)


def mid_request(
    name: str, step: str, match: Callable[[Case, str, str, Any], bool], workflow: str = "feedback"
) -> KillPoint:
    """In `step`, while the double holds its answer to the side effect's request: done on
    GitHub, never known to devbot."""
    holds: dict[str, Hold] = {}

    def arm(harness: Harness, case: Case) -> Release:
        holds[case.name] = harness.double.hold_answer(lambda m, p, b: match(case, m, p, b))
        return holds[case.name].release

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        holds[case.name].wait()

    return KillPoint(f"mid-{name}", wait, arm, (workflow, step), extra_paid=0)


def mid_push() -> KillPoint:
    """While origin's post-receive hook runs: the branch moved, devbot never heard back."""

    def arm(harness: Harness, case: Case) -> Release:
        gate, reached = case.repo.bare / "hold-push", case.repo.bare / "push-reached"
        hook = case.repo.bare / "hooks" / "post-receive"
        hook.write_text(
            f"#!/bin/sh\ntouch '{reached}'\nwhile [ -e '{gate}' ]; do sleep 0.01; done\n",
            encoding="utf-8",
        )
        hook.chmod(0o755)
        gate.touch()
        return lambda: gate.unlink(missing_ok=True)

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        reader.wait_for(lambda: (case.repo.bare / "push-reached").exists())

    return KillPoint("mid-push", wait, arm, ("feedback", "push"), extra_paid=0)


def mid_commit(subject: str, step: str) -> KillPoint:
    """Once the commit whose message starts with `subject` is made in the worktree, before
    devbot records its step: `git` on the PATH of `devbot serve` is real git that then waits."""

    def arm(harness: Harness, case: Case) -> Release:
        folder = case.repo.work.parent / "instrumented-git"
        folder.mkdir()
        gate, reached = folder / "hold", folder / "reached"
        wrapper = folder / "git"
        wrapper.write_text(
            f"""#!/bin/sh
case " $* " in *" commit "*)
  message=$(cat)
  printf '%s\\n' "$message" | '{shutil.which("git")}' "$@"; code=$?
  case "$message" in "{subject}"*)
    touch '{reached}'; while [ -e '{gate}' ]; do sleep 0.01; done;;
  esac
  exit $code;;
esac
exec '{shutil.which("git")}' "$@"
""",
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
        gate.touch()
        case.env["PATH"] = f"{folder}:{os.environ['PATH']}"
        return lambda: gate.unlink(missing_ok=True)

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        reader.wait_for(lambda: (case.repo.work.parent / "instrumented-git" / "reached").exists())

    name = f"mid-{step}"
    return KillPoint(name, wait, arm, ("feedback", step), extra_paid=0)


def mid_model_call() -> KillPoint:
    """While the model server is still answering the first paid call."""

    def wait(harness: Harness, case: Case, reader: StepReader) -> None:
        reader.wait_for(lambda: len(harness.server.requests) > case.paid_before)

    return KillPoint("mid-model-call", wait, in_step=("feedback", "model"), cuts_a_call=True)


def _comment_post(text: str) -> Callable[[Case, str, str, Any], bool]:
    return lambda case, method, path, body: (
        method == "POST"
        and _in_repo(case, path, rf"issues/{case.number}/comments")
        and _says(body, text)
    )


def _comment_patch(text: str) -> Callable[[Case, str, str, Any], bool]:
    return lambda case, method, path, body: (
        method == "PATCH" and _in_repo(case, path, r"issues/comments/\d+") and _says(body, text)
    )


def _in_repo(case: Case, path: str, tail: str) -> bool:
    return re.fullmatch(rf"/repos/{re.escape(case.name)}/{tail}", path) is not None


def _says(body: Any, text: str) -> bool:
    return isinstance(body, dict) and text in str(body.get("body", ""))


def _resolving(case: Case, method: str, path: str, body: Any) -> bool:
    return (
        method == "POST"
        and path == "/graphql"
        and "resolveReviewThread" in str(body.get("query", ""))
        and (body.get("variables") or {}).get("threadId") == case.thread_id
    )


# Every side-effect step is covered: killed after it was recorded and, for the forge and the
# push, in its middle. Left out by default, to keep this file under three minutes: read-only
# steps and boundaries whose replay later kills go through anyway. DEVBOT_CRASH_ALL=1 kills
# after every step but the last (before finish_state: milliseconds, no kill lands there).
DELIVERY_BOUNDARIES = [0, 2, 3]  # accepted, after react, after schedule_feedback
FEEDBACK_BOUNDARIES = [4, 5, 6, 10, 16, 18, 19, 20, 21, 23, 25]
if os.environ.get("DEVBOT_CRASH_ALL") == "1":
    DELIVERY_BOUNDARIES = list(range(len(DELIVERY_STEPS)))
    FEEDBACK_BOUNDARIES = list(range(1, len(FEEDBACK_STEPS) - 1))

KILL_POINTS = [
    *(after_step("delivery", n) for n in DELIVERY_BOUNDARIES),
    *(after_step("feedback", n) for n in FEEDBACK_BOUNDARIES),
    mid_request(
        "reaction",
        "react",
        lambda case, method, path, body: (
            method == "POST"
            and _in_repo(case, path, rf"pulls/comments/{case.comment_id}/reactions")
        ),
        workflow="delivery",
    ),
    mid_request("progress-comment", "progress_comment", _comment_post("devbot:progress:")),
    mid_request("progress-update", FEEDBACK_STEPS[6], _comment_patch("the agent is working")),
    mid_model_call(),
    mid_commit("devbot: address review feedback", "commit_work"),
    mid_commit("devbot: report after review feedback", "commit_report"),
    mid_push(),
    mid_request(
        "reply",
        "reply_in_threads",
        lambda case, method, path, body: (
            method == "POST"
            and _in_repo(case, path, rf"pulls/{case.number}/comments/{case.comment_id}/replies")
        ),
    ),
    mid_request("resolve", "resolve_threads", _resolving),
    mid_request("final-status", "final_status", _comment_post("devbot:status:")),
    mid_request("progress-finished", FEEDBACK_STEPS[25], _comment_patch("finished (done)")),
]


def _crash_and_restart(harness: Harness, point: KillPoint) -> Outcome:
    """Kill `devbot serve` at `point`, start it again, and wait until the work is done."""
    case = harness.case()
    comment = harness.comment(case)
    release = point.arm(harness, case)
    process, url = harness.serve(case)
    reader = StepReader(dbos_url(case.repo.work))
    try:
        harness.deliver(case, url, comment)
        point.wait(harness, case, reader)
        harness.procs.kill(process)
        release()
        feedback_id = _feedback_id(reader)
        assert feedback_id is None or reader.statuses()[feedback_id] != "SUCCESS", (
            "the run finished before it could be killed"
        )
        if point.in_step is not None:
            workflow, step = point.in_step
            recorded = reader.steps(_run_id(workflow, case, reader) or "")
            assert step not in recorded, f"killed after {step} was recorded, not in it"
        process, _ = harness.serve(case)
        harness.wait_done(reader, process)
        return harness.outcome(case, reader)
    finally:
        reader.close()
        harness.procs.kill(process)


@pytest.mark.parametrize("point", KILL_POINTS, ids=str)
def test_killed_feedback_run_resumes_to_the_same_result(
    harness: Harness, baseline: Outcome, point: KillPoint
) -> None:
    outcome = _crash_and_restart(harness, point)
    assert outcome.delivery_steps == baseline.delivery_steps  # each step once, none missing
    assert outcome.feedback_steps == baseline.feedback_steps
    assert len(outcome.feedback_runs) == 1 and outcome.feedback_runs[0].endswith(":done")
    assert outcome.delivery_status == baseline.delivery_status
    assert outcome.subjects == baseline.subjects  # no second commit
    assert outcome.files == baseline.files  # the same content, commit by commit
    assert outcome.report == baseline.report
    assert outcome.replies == baseline.replies  # one reply, naming the work commit
    assert outcome.statuses == baseline.statuses  # one final status
    assert outcome.progress == baseline.progress  # one progress comment, finished
    assert outcome.reactions == baseline.reactions == ["eyes"]
    assert outcome.resolved
    assert outcome.model_calls == baseline.model_calls
    assert baseline.paid <= outcome.paid <= baseline.paid + point.extra_paid
    if point.cuts_a_call:
        assert outcome.paid == baseline.paid + 1  # only the call cut short is paid again


@pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
def test_ctrl_c_on_serve_parks_the_feedback_run_and_a_restart_finishes_it(
    harness: Harness, baseline: Outcome, signals: int
) -> None:
    """Ctrl-C once: the run stops at its next step boundary; twice: the process ends at once.
    Either way no traceback, the run is not failed, and the next `devbot serve` finishes it
    to the same result."""
    case = harness.case()
    comment = harness.comment(case)
    process, url = harness.serve(case)
    reader = StepReader(dbos_url(case.repo.work))
    try:
        harness.deliver(case, url, comment)
        after_step("feedback", 10).wait(harness, case, reader)  # the first action recorded
        for _ in range(signals):
            os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        printed = output_of(process)
        assert "Traceback" not in printed, printed
        feedback_id = _feedback_id(reader)
        assert feedback_id is not None and reader.statuses()[feedback_id] == "PENDING"
        process, _ = harness.serve(case)
        harness.wait_done(reader, process)
        outcome = harness.outcome(case, reader)
    finally:
        reader.close()
        harness.procs.kill(process)
    assert outcome.feedback_steps == baseline.feedback_steps
    assert outcome.subjects == baseline.subjects and outcome.files == baseline.files
    assert outcome.replies == baseline.replies and outcome.statuses == baseline.statuses
    assert baseline.paid <= outcome.paid <= baseline.paid + (signals - 1)
