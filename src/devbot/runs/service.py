"""Turn a plan file into a durable run: validate, record, start the workflow.

Triggers (CLI, watcher, later webhooks) call this; it is the only way a run starts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devbot.config import Settings
from devbot.llm import make_model
from devbot.plans.plan import load_plan
from devbot.runs.engine import launch_engine
from devbot.runs.store import RunRecord
from devbot.vcs.git import Git


@dataclass(frozen=True)
class Submission:
    """A run started for a plan, or the earlier run that already handled the same content."""

    record: RunRecord
    is_new: bool


def new_run_id(slug: str) -> str:
    return f"{dt.date.today():%y%m%d}-{slug[:32]}-{secrets.token_hex(3)}"


def repo_root(path: Path) -> Path:
    return Path(Git(path).toplevel())


def submit_plan(
    repo: Path, plan_path: Path, settings: Settings, *, only_if_new: bool = False
) -> Submission:
    """Validate the plan and the model setting, then start the run.

    Raises PlanError for a malformed plan and ConfigError for an unusable model setting.

    With `only_if_new` (the watcher), a plan whose exact content already has a run is not
    run again, so restarts and duplicate events never repeat work.
    """
    from dbos import DBOS, SetWorkflowID

    from devbot.runs.plan_run import make_request, plan_run_workflow, plan_sha
    from devbot.runs.state import store_for

    repo = repo_root(repo)
    plan = load_plan(plan_path, settings.max_plan_bytes)
    make_model(settings)  # refuse a bad model setting before anything starts; preloads its SDK
    plan_rel = plan.path.resolve().relative_to(repo.resolve()).as_posix()
    sha = plan_sha(plan.text)
    store = store_for(settings, repo)
    if only_if_new:
        earlier = store.find_for_plan(str(repo), plan_rel, sha)
        if earlier is not None:
            return Submission(earlier, is_new=False)

    run_id = new_run_id(plan.slug)
    record = RunRecord(
        id=run_id, kind="plan", repo=str(repo), plan_path=plan_rel, plan_sha=sha, title=plan.title
    )
    store.create(record)
    launch_engine(settings, repo)
    with SetWorkflowID(run_id):
        DBOS.start_workflow(
            plan_run_workflow, make_request(run_id, repo, plan_rel, plan.text, settings)
        )
    return Submission(store.get(run_id), is_new=True)


def wait_for(run_id: str) -> dict[str, Any]:
    """Block until the run's workflow ends; its result dict (status, message, pr_url...)."""
    from dbos import DBOS

    result: dict[str, Any] = DBOS.retrieve_workflow(run_id).get_result(polling_interval_sec=0.05)
    return result
