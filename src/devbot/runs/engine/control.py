"""Operating runs: cancel, resume, retry. The CLI calls these; DBOS must be launched.

- cancel: the run stops at its next step boundary (a recorded check before every model
  turn and before the tests), then commits, writes a `cancelled` report, pushes and gives
  the PR its final status like any other run.
- resume: a run whose process died continues from its last recorded step (refused while a
  live worker still runs it, so one run never runs twice at once).
- retry: a new run of the same plan content, continuing the plan's branch and PR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbos import DBOS

from devbot.config import Settings
from devbot.runs.engine.engine import Engine
from devbot.runs.engine.flows import QUEUE_NAME
from devbot.runs.flows.plan import plan_sha
from devbot.runs.requests import PlanRequest, SpecRequest
from devbot.runs.state.store import ACTIVE_STATUSES, RunRecord, RunStateError, RunStore


@dataclass(frozen=True)
class Outcome:
    record: RunRecord
    message: str
    wait: bool


def _workflow(run_id: str) -> Any:
    found = DBOS.list_workflows(workflow_ids=[run_id], load_input=True, load_output=False)
    return found[0] if found else None


def cancel_run(store: RunStore, run_id: str) -> Outcome:
    record = store.get(run_id)
    if record.status not in ACTIVE_STATUSES:
        raise RunStateError(f"run {record.id} already ended ({record.status}); nothing to cancel")
    store.request_cancel(record.id)
    return Outcome(record, f"run {record.id} will stop at its next step boundary", wait=False)


def resume_run(engine: Engine, run_id: str) -> Outcome:
    """Make a stopped run go on from its last recorded step."""
    store = engine.runtime.store
    record = store.get(run_id)
    workflow = _workflow(record.id)
    if workflow is None:
        raise RunStateError(f"run {record.id} has no durable state; use `devbot runs retry`")
    status = workflow.status
    if status in ("SUCCESS", "ERROR"):
        raise RunStateError(
            f"run {record.id} ended ({record.status}: {record.message}); "
            "`devbot runs retry` starts it again"
        )
    if status == "ENQUEUED":
        return Outcome(
            record, f"run {record.id} is queued: it resumes from its last step", wait=True
        )
    if status == "PENDING":
        owner = workflow.executor_id or ""
        registry = engine.registry
        row = registry.get(owner)
        if owner == engine.executor_id and row is not None and row.token == registry.token:
            return Outcome(
                record, f"run {record.id} resumes from its last step in this process", wait=True
            )
        if registry.is_alive(row):
            assert row is not None
            raise RunStateError(
                f"run {record.id} is running on worker {owner} (pid {row.pid} on {row.host})"
            )
    store.update(record.id, status="queued", message="", finished_at=None)
    DBOS.resume_workflow(record.id, queue_name=workflow.queue_name or QUEUE_NAME)
    return Outcome(store.get(record.id), f"run {record.id} resumes from its last step", wait=True)


def retry_run(engine: Engine, run_id: str, settings: Settings) -> RunRecord:
    """Start a new run of the plan content (or Spec Kit feature) the earlier run had."""
    record = engine.runtime.store.get(run_id)
    if record.status in ACTIVE_STATUSES:
        raise RunStateError(f"run {record.id} is still {record.status}; cancel it first")
    workflow = _workflow(record.id)
    args = workflow.input["args"] if workflow is not None and workflow.input else ()
    if args and isinstance(args[0], SpecRequest):
        request = args[0]
        return engine.flows.submit_spec(request.repository, request.feature, settings).record
    if args and isinstance(args[0], PlanRequest):
        text, repository = args[0].plan.text, args[0].repository
    else:
        runtime = engine.runtime
        repository = runtime.served
        plan_file = runtime.repo / record.plan_path
        text = plan_file.read_text(encoding="utf-8") if plan_file.is_file() else ""
        if plan_sha(text) != record.plan_sha or record.repo != repository.key:
            raise RunStateError(
                f"run {record.id}'s plan content is gone (no durable input, "
                f"{record.plan_path} changed); run the plan again with `devbot run`"
            )
    return engine.flows.submit(repository, record.plan_path, text, settings).record
