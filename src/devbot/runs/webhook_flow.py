"""Durable handling of accepted webhook deliveries.

The dispatcher starts one `devbot.webhook_delivery` workflow per stored delivery (workflow id
= delivery id, so never twice). The workflow checks who sent it (write permission, cached),
reacts 👀, and either schedules the PR's next feedback run on the per-PR feedback queue or
starts a plan run for an issue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from devbot.config import Settings
from devbot.plans.plan import plan_filename, slugify
from devbot.runs.feedback_run import feedback_request, feedback_run_workflow
from devbot.runs.feedback_state import FeedbackState
from devbot.runs.forges import feedback_forge_for, may_trigger
from devbot.runs.inbox import Inbox
from devbot.runs.state import store_for
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import Comment

FEEDBACK_QUEUE = "devbot-feedback"
EYES = "eyes"


def _step(name: str, fn: Any) -> Any:
    return DBOS.run_step({"name": name}, fn)


def register_feedback_queue(settings: Settings) -> Any:
    """One feedback run per PR at a time (each PR is a partition), over all workers."""
    return DBOS.register_queue(
        FEEDBACK_QUEUE,
        worker_concurrency=settings.worker_concurrency,
        partition_concurrency=1,
        polling_interval_sec=min(settings.queue_poll_s, 0.2),
    )


def inbox_for(settings: Settings, repo: Path) -> Inbox:
    return Inbox(store_for(settings, repo).engine)


def delivery_workflow_id(delivery_id: str) -> str:
    return f"webhook-{delivery_id}"


def dispatch_pending(settings: Settings, repo: Path, flags: dict[str, Any]) -> int:
    """Start the workflow of every stored delivery not started yet; how many were started."""
    inbox = inbox_for(settings, repo)
    started = 0
    while True:
        batch = inbox.pending()
        if not batch:
            return started
        for delivery in batch:
            request = {
                "repo": str(repo),
                "settings": asdict(settings),
                "flags": flags,
                "trigger": delivery.trigger,
            }
            with SetWorkflowID(delivery_workflow_id(delivery.delivery_id)):
                DBOS.start_workflow(delivery_workflow, request)
        inbox.mark([d.delivery_id for d in batch], "dispatched")
        started += len(batch)


@DBOS.workflow(name="devbot.webhook_delivery", max_recovery_attempts=20)
def delivery_workflow(request: dict[str, Any]) -> dict[str, Any]:
    settings = Settings(**request["settings"])
    repo = Path(request["repo"])
    trigger: dict[str, Any] = request["trigger"]
    try:
        outcome = _handle(settings, repo, request["flags"], trigger)
    except Exception as exc:
        outcome = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    _step(
        "mark_delivery",
        lambda: inbox_for(settings, repo).mark(
            [trigger["delivery_id"]], outcome["status"], outcome.get("reason", "")
        ),
    )
    return outcome


def _ignored(reason: str) -> dict[str, Any]:
    return {"status": "ignored", "reason": reason}


def _handle(
    settings: Settings, repo: Path, flags: dict[str, Any], trigger: dict[str, Any]
) -> dict[str, Any]:
    forge = feedback_forge_for(settings, repo)
    scope, number = str(repo), int(trigger["number"])
    sender: str = trigger["sender"]
    allowed: bool = _step("authorise", lambda: may_trigger(forge, scope, sender))
    if not allowed:
        return _ignored(f"{sender} has no write permission")
    comment = Comment(**trigger["comment"]) if trigger.get("comment") else None
    if trigger["kind"] == "issue_plan":
        if comment is not None:
            _step("react", lambda: forge.add_reaction(comment, EYES))
        plan_rel, text = issue_plan(settings, trigger)
        from devbot.runs.service import submit_plan_text

        # not a step: a replay finds the run already started for this exact plan content
        run_id = submit_plan_text(repo, plan_rel, text, settings, only_if_new=True).record.id
        return {"status": "plan_run", "reason": run_id}
    if comment is None:
        return _ignored("no comment in the delivery")
    if not trigger.get("pr_is_devbots") and not trigger.get("mentioned"):
        return _ignored("not devbot's pull request and devbot is not mentioned")
    _step("react", lambda: forge.add_reaction(comment, EYES))
    delivery_id, received_at = trigger["delivery_id"], float(trigger["received_at"])
    state = FeedbackState(store_for(settings, repo).engine)
    new_run: str | None = _step(
        "schedule_feedback",
        lambda: state.schedule(scope, number, delivery_id, received_at, comment.id),
    )
    if new_run is None:
        return {"status": "batched", "reason": "joined the waiting feedback run"}
    queue = DBOS.retrieve_queue(FEEDBACK_QUEUE) or register_feedback_queue(settings)
    with (
        SetWorkflowID(new_run),
        SetEnqueueOptions(queue_partition_key=f"{scope}#{number}"),
    ):
        queue.enqueue(
            feedback_run_workflow, feedback_request(new_run, repo, number, settings, flags)
        )
    return {"status": "scheduled", "reason": new_run}


def issue_plan(settings: Settings, trigger: dict[str, Any]) -> tuple[str, str]:
    """The plan an issue asks for (cleaned of hidden text) and where its run commits it; it
    runs once (a plan's exact content never runs twice)."""
    number = int(trigger["number"])
    title = " ".join(clean_untrusted(trigger["title"]).split()) or f"Issue {number}"
    body = clean_untrusted(trigger["body"]) or title
    slug = slugify(f"issue-{number}-{title}")[:60].strip("-")
    day = dt.date.fromtimestamp(float(trigger["received_at"]))
    plan_rel = f"{settings.plan_dirs[0]}/{plan_filename(day, slug)}"
    safe_title = title.replace('"', "'")
    return plan_rel, f'---\ntitle: "{safe_title}"\n---\n\n{body}\n\nCloses #{number}\n'
