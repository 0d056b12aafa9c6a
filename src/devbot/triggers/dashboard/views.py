"""What the dashboard's pages show, read from the run store, DBOS's records and git.

Run records and trajectories come from the run store (as `devbot runs` reads them); the
worker that holds a run, its request (plan, limits) and its test runs from DBOS's workflow
and step records; the diff and the report from the repository's git (inert, `vcs.git`).
Every text passes the outward gate before it is shown.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS

from devbot.config import ConfigError
from devbot.outward import outward
from devbot.runs.flows.verify import TestRun
from devbot.runs.requests import CiFixRequest, FeedbackRequest, PlanRequest, SpecRequest
from devbot.runs.runtime import Runtime
from devbot.runs.state.store import ACTIVE_STATUSES, RunFilter, RunRecord
from devbot.triggers.dashboard.render import Chart, DiffLine, bar_chart, diff_lines, seconds, usd
from devbot.vcs.git import Git, GitError
from devbot.vcs.repository import Repository, repository_of_key

PAGE_SIZE = 50
TOTAL_DAYS = 30
PR_STATE_S = 30.0
"""How long the state of a pull request, asked of the forge, is shown before it is asked again."""


@dataclass(frozen=True)
class RunRow:
    record: RunRecord
    worker: str

    @property
    def tokens(self) -> int:
        return self.record.prompt_tokens + self.record.completion_tokens

    @property
    def duration_s(self) -> float:
        return elapsed(self.record)


@dataclass(frozen=True)
class RunList:
    rows: list[RunRow]
    total: int
    page: int
    pages: int
    where: RunFilter
    statuses: list[str]
    repos: list[str]
    kinds: list[str]


@dataclass(frozen=True)
class Limits:
    max_steps: int
    max_usd: float
    max_wall_s: float


@dataclass(frozen=True)
class RunDetail:
    record: RunRecord
    worker: str
    events: list[tuple[int, dict[str, Any]]]
    plan: str
    limits: Limits | None
    diff: list[DiffLine]
    diff_left_out: int
    diff_note: str
    report: str
    tests: list[TestRun]
    pr_state: str

    @property
    def active(self) -> bool:
        return self.record.status in ACTIVE_STATUSES

    @property
    def last_seq(self) -> int:
        return self.events[-1][0] if self.events else -1


@dataclass(frozen=True)
class DayTotal:
    day: str
    runs: int
    completed: int
    failed: int
    usd: float
    median_s: float | None


@dataclass(frozen=True)
class RepoTotal:
    repo: str
    runs: int
    completed: int
    failed: int
    usd: float


@dataclass(frozen=True)
class Totals:
    days: list[DayTotal]
    repos: list[RepoTotal]
    cost_chart: Chart
    duration_chart: Chart


def elapsed(record: RunRecord, now: float | None = None) -> float:
    """How long the run took, or has been going."""
    end = record.finished_at if record.finished_at is not None else (now or time.time())
    return max(end - record.created_at, 0.0)


def run_list(runtime: Runtime, where: RunFilter, page: int) -> RunList:
    store = runtime.store
    records, total = store.page(where, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    workers = workers_of([r.id for r in records])
    return RunList(
        rows=[RunRow(r, workers.get(r.id, "")) for r in records],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        where=where,
        statuses=store.distinct("status"),
        repos=store.distinct("repo"),
        kinds=store.distinct("kind"),
    )


def workers_of(run_ids: list[str]) -> dict[str, str]:
    """The executor (worker id) DBOS records for each run that has a workflow."""
    if not run_ids:
        return {}
    found = DBOS.list_workflows(workflow_ids=run_ids, load_input=False, load_output=False)
    return {wf.workflow_id: wf.executor_id or "" for wf in found}


@dataclass
class PullRequestStates:
    """The state (open, closed, merged) of each run's pull request, asked of its forge at
    most every PR_STATE_S seconds per branch."""

    runtime: Runtime
    _known: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, record: RunRecord) -> str:
        if not record.pr_url or not record.branch:
            return ""
        key, now = (record.repo, record.branch), time.monotonic()
        with self._lock:
            known = self._known.get(key)
        if known is not None and now - known[0] < PR_STATE_S:
            return known[1]
        try:
            repository = _repository(self.runtime, record, None) or repository_of_key(record.repo)
            forge = self.runtime.forge(repository=repository)
            pull = forge.find_pull_request(record.branch)
            state = pull.state if pull is not None else "not found"
        except Exception as exc:  # the forge is down or refuses: say so, show the rest
            state = f"unknown ({type(exc).__name__})"
        with self._lock:
            self._known[key] = (now, state)
        return state


def run_detail(runtime: Runtime, run_id: str, pr_states: PullRequestStates) -> RunDetail:
    record = runtime.store.get(run_id)
    request = _request_of(record.id)
    git = _git_of(runtime, record, request)
    plan = request.plan.text if isinstance(request, PlanRequest) else ""
    if isinstance(request, SpecRequest):  # a Spec Kit feature: its task list as it began
        plan = request.feature.text(request.feature.tasks_path)
    if not plan and git is not None and record.head_sha:
        plan = _blob(git, record.head_sha, record.plan_path)
    runs = PlanRequest | SpecRequest | FeedbackRequest | CiFixRequest
    settings = request.settings if isinstance(request, runs) else None
    limits = Limits(settings.max_steps, settings.max_usd, settings.max_wall_s) if settings else None
    diff, left_out, note = _diff(git, record)
    report = _blob(git, record.head_sha, record.report_path) if git and record.head_sha else ""
    return RunDetail(
        record=record,
        worker=workers_of([record.id]).get(record.id, ""),
        events=runtime.store.events_after(record.id, -1),
        plan=outward(plan),
        limits=limits,
        diff=diff,
        diff_left_out=left_out,
        diff_note=note,
        report=outward(report),
        tests=_test_runs(record.id),
        pr_state=pr_states.state(record),
    )


def _request_of(run_id: str) -> object:
    found = DBOS.list_workflows(workflow_ids=[run_id], load_input=True, load_output=False)
    if not found or not found[0].input:
        return None
    args = found[0].input.get("args") or ()
    return args[0] if args else None


def _test_runs(run_id: str) -> list[TestRun]:
    """The run's recorded test runs, output gated."""
    runs = []
    for step in DBOS.list_workflow_steps(run_id):
        output = step.get("output")
        if step.get("function_name") == "verify" and isinstance(output, TestRun):
            runs.append(
                TestRun(
                    outward(output.command),
                    output.source,
                    output.exit_code,
                    output.timed_out,
                    output.duration_s,
                    outward(output.output),
                )
            )
    return runs


def _repository(runtime: Runtime, record: RunRecord, request: object) -> Repository | None:
    """The run's repository: as its request names it, else the one this process serves."""
    named = getattr(request, "repository", None)
    if isinstance(named, Repository):
        return named
    served = runtime.repository
    return served if served is not None and served.key == record.repo else None


def _git_of(runtime: Runtime, record: RunRecord, request: object) -> Git | None:
    """This process's git of the run's repository (its checkout, or its mirror, fetched when
    it lacks the run's pushed head)."""
    repository = _repository(runtime, record, request)
    if repository is None:
        return None
    try:
        local = runtime.local_repository(repository, runtime.settings)
        if not (record.head_sha and local.git.has_commit(record.head_sha)):
            with local.synced():
                pass
        return local.git
    except (GitError, OSError, ConfigError):
        return None


def _blob(git: Git | None, ref: str, path: str) -> str:
    if git is None or not ref or not path:
        return ""
    try:
        return git.read_blob(ref, path) or ""
    except GitError:
        return ""


def _diff(git: Git | None, record: RunRecord) -> tuple[list[DiffLine], int, str]:
    """The diff of the run's branch (its pushed head) against its base, clipped."""
    head = record.head_sha or record.branch
    if git is None:
        return [], 0, f"the repository {record.repo} is not on this machine"
    if not head or not record.base_branch:
        return [], 0, "no branch yet"
    command = ("diff", "--no-ext-diff", "--no-textconv", "--no-color", "-M")
    base = record.base_branch
    try:
        for remote in git.run("remote").split():
            if git.ref_exists(f"refs/remotes/{remote}/{base}"):
                base = f"{remote}/{base}"  # a mirror has the remote's branches only
                break
        text = git.run(*command, f"{base}...{head}")
    except GitError as exc:
        return [], 0, f"no diff: {exc}"
    if not text.strip():
        return [], 0, "no changes"
    lines, left_out = diff_lines(outward(text))
    return lines, left_out, ""


def totals(runtime: Runtime, now: float | None = None, days: int = TOTAL_DAYS) -> Totals:
    """Runs and USD per day (the last `days`) and per repository, with their charts."""
    now = now or time.time()
    today = time.localtime(now)
    midnight = time.mktime((*today[:3], 0, 0, 0, 0, 0, -1))
    since = midnight - (days - 1) * 86400
    usage = runtime.store.usage_since(since)
    per_day: dict[str, list[Any]] = {_day(since + i * 86400): [] for i in range(days)}
    per_repo: dict[str, list[Any]] = defaultdict(list)
    for run in usage:
        per_day.setdefault(_day(run.created_at), []).append(run)
        per_repo[run.repo].append(run)
    day_totals = [
        DayTotal(
            day,
            len(runs),
            sum(r.status == "completed" for r in runs),
            sum(r.status == "failed" for r in runs),
            sum(r.cost_usd for r in runs),
            _median([r.finished_at - r.created_at for r in runs if r.finished_at is not None]),
        )
        for day, runs in per_day.items()
    ]
    repo_totals = sorted(
        (
            RepoTotal(
                repo,
                len(runs),
                sum(r.status == "completed" for r in runs),
                sum(r.status == "failed" for r in runs),
                sum(r.cost_usd for r in runs),
            )
            for repo, runs in per_repo.items()
        ),
        key=lambda t: -t.usd,
    )
    costs = [(d.day[5:], d.usd) for d in day_totals]
    durations = [(d.day[5:], d.median_s or 0.0) for d in day_totals]
    return Totals(
        days=day_totals,
        repos=repo_totals,
        cost_chart=bar_chart("USD per day", costs, usd),
        duration_chart=bar_chart("median run duration per day", durations, seconds),
    )


def _day(stamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(stamp))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
