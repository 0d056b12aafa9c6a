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
from pathlib import Path
from typing import Any

from devbot.config import Settings
from devbot.runs.store import ACTIVE_STATUSES, RunRecord, RunStore


class RunStateError(RuntimeError):
    """The run is not in a state where this operation makes sense; the message says why."""


@dataclass(frozen=True)
class Outcome:
    record: RunRecord
    message: str
    wait: bool


def _workflow(run_id: str) -> Any:
    from dbos import DBOS

    found = DBOS.list_workflows(workflow_ids=[run_id], load_input=True, load_output=False)
    return found[0] if found else None


def cancel_run(store: RunStore, run_id: str) -> Outcome:
    record = store.get(run_id)
    if record.status not in ACTIVE_STATUSES:
        raise RunStateError(f"run {record.id} already ended ({record.status}); nothing to cancel")
    store.request_cancel(record.id)
    return Outcome(record, f"run {record.id} will stop at its next step boundary", wait=False)


def resume_run(store: RunStore, run_id: str, *, queue_name: str) -> Outcome:
    """Make a stopped run go on from its last recorded step."""
    from dbos import DBOS

    from devbot.runs.engine import current_registry, executor_id

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
        registry = current_registry()
        row = registry.get(owner)
        if owner == executor_id() and row is not None and row.token == registry.token:
            return Outcome(
                record, f"run {record.id} resumes from its last step in this process", wait=True
            )
        if registry.is_alive(row):
            assert row is not None
            raise RunStateError(
                f"run {record.id} is running on worker {owner} (pid {row.pid} on {row.host})"
            )
    store.update(record.id, status="queued", message="", finished_at=None)
    DBOS.resume_workflow(record.id, queue_name=workflow.queue_name or queue_name)
    return Outcome(store.get(record.id), f"run {record.id} resumes from its last step", wait=True)


def retry_run(store: RunStore, run_id: str, repo: Path, settings: Settings) -> RunRecord:
    """Start a new run of the plan content the earlier run had."""
    from devbot.plans.plan import parse_plan_text
    from devbot.runs.service import start_plan_run

    record = store.get(run_id)
    if record.status in ACTIVE_STATUSES:
        raise RunStateError(f"run {record.id} is still {record.status}; cancel it first")
    workflow = _workflow(record.id)
    request: dict[str, Any] | None = None
    if workflow is not None and workflow.input is not None and workflow.input["args"]:
        request = workflow.input["args"][0]
    if request is not None:
        text = str(request["plan_text"])
    else:
        plan_file = Path(record.repo) / record.plan_path
        text = plan_file.read_text(encoding="utf-8") if plan_file.is_file() else ""
        from devbot.runs.plan_run import plan_sha

        if plan_sha(text) != record.plan_sha:
            raise RunStateError(
                f"run {record.id}'s plan content is gone (no durable input, "
                f"{record.plan_path} changed); run the plan again with `devbot run`"
            )
    plan = parse_plan_text(text, Path(record.repo) / record.plan_path, settings.max_plan_bytes)
    return start_plan_run(
        Path(record.repo),
        record.plan_path,
        plan.text,
        plan.slug,
        plan.title,
        settings,
        via_queue=settings.workers == "external",
    )
