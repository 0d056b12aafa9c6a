"""Turn a plan file into a durable run: validate, record, start the workflow.

Triggers (CLI, watcher, later webhooks) call this; it is the only way a run starts.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devbot.config import Settings
from devbot.llm import make_model
from devbot.plans.plan import PlanError, load_plan, parse_plan_text
from devbot.runs.engine import ensure_engine
from devbot.runs.store import RunRecord
from devbot.tools.inside import inside_path
from devbot.tools.jail import PathOutsideWorkspace
from devbot.vcs.git import Git


@dataclass(frozen=True)
class Submission:
    """A run started for a plan, or the earlier run that already handled the same content."""

    record: RunRecord
    is_new: bool


def new_run_id(slug: str) -> str:
    return f"{dt.date.today():%y%m%d}-{slug[:32]}-{secrets.token_hex(3)}"


def repo_root(path: Path) -> Path:
    return Git.repository(path).toplevel()


def submit_plan(
    repo: Path,
    plan_path: Path,
    settings: Settings,
    *,
    only_if_new: bool = False,
    via_queue: bool | None = None,
) -> Submission:
    """Validate the plan file and the model setting, then start the run.

    `via_queue`: put the run on the run queue for a worker (default: when
    `workers = "external"`); otherwise this process runs it at once.

    Raises PlanError for a malformed plan (also one that is a symbolic link out of the
    repository) and ConfigError for an unusable model setting.

    With `only_if_new` (the watcher), a plan whose exact content already has a run is not
    run again, so restarts and duplicate events never repeat work.
    """
    repo = repo_root(repo)
    relative = os.path.relpath(os.path.abspath(plan_path), repo)
    try:
        real = inside_path(repo, relative)
    except PathOutsideWorkspace as exc:
        raise PlanError(str(plan_path), f"not a file inside the repository: {exc}") from None
    plan = load_plan(real, settings.max_plan_bytes)
    return submit_plan_text(
        repo, Path(relative).as_posix(), plan.text, settings, only_if_new, via_queue
    )


def submit_plan_text(
    repo: Path,
    plan_rel: str,
    text: str,
    settings: Settings,
    only_if_new: bool = False,
    via_queue: bool | None = None,
) -> Submission:
    """Start a run of the plan `text`, which the run commits at `plan_rel` on its branch
    (a plan from an issue exists nowhere else: nothing is written to the repository)."""
    from devbot.runs.plan_run import plan_sha
    from devbot.runs.state import store_for

    plan = parse_plan_text(text, repo / plan_rel, settings.max_plan_bytes)
    make_model(settings)  # refuse a bad model setting before anything starts; preloads its SDK
    store = store_for(settings, repo)
    if only_if_new:
        earlier = store.find_for_plan(str(repo), plan_rel, plan_sha(plan.text))
        if earlier is not None:
            return Submission(earlier, is_new=False)
    if via_queue is None:
        via_queue = settings.workers == "external"
    record = start_plan_run(repo, plan_rel, plan.text, plan.slug, plan.title, settings, via_queue)
    return Submission(record, is_new=True)


def start_plan_run(
    repo: Path,
    plan_rel: str,
    plan_text: str,
    slug: str,
    title: str,
    settings: Settings,
    via_queue: bool,
) -> RunRecord:
    """Record a new run and start its workflow here, or enqueue it for a worker."""
    from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

    from devbot.runs.engine import register_queue
    from devbot.runs.plan_run import make_request, plan_run_workflow, plan_sha
    from devbot.runs.state import store_for

    store = store_for(settings, repo)
    run_id = new_run_id(slug)
    record = RunRecord(
        id=run_id,
        kind="plan",
        repo=str(repo),
        plan_path=plan_rel,
        plan_sha=plan_sha(plan_text),
        title=title,
    )
    store.create(record)
    ensure_engine(settings, repo)
    request = make_request(run_id, repo, plan_rel, plan_text, settings)
    with SetWorkflowID(run_id):
        if via_queue:
            with SetEnqueueOptions(queue_partition_key=str(repo)):
                register_queue(settings, update=False).enqueue(plan_run_workflow, request)
        else:
            DBOS.start_workflow(plan_run_workflow, request)
    return store.get(run_id)


def wait_for(run_id: str) -> dict[str, Any]:
    """Block until the run's workflow ends; its result dict (status, message, pr_url...),
    or just its status when it ended without one (stopped, given up)."""
    from dbos import DBOS

    try:
        result: dict[str, Any] = DBOS.retrieve_workflow(run_id).get_result(
            polling_interval_sec=0.05
        )
    except Exception as exc:  # cancelled by the supervisor, dead-lettered, ...
        return {"status": "failed", "message": str(exc)}
    return result
