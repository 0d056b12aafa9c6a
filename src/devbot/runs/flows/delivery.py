"""The webhook delivery flow: what one stored delivery starts.

It checks who sent it (write permission, cached), reacts 👀, and either schedules the PR's
next feedback run on the per-PR feedback queue or starts a plan run for an issue. The
engine (the `Starter`) starts those runs; this flow only decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from devbot.plans.plan import plan_filename, slugify
from devbot.runs.flows.skeleton import step
from devbot.runs.requests import DeliveryRequest, FeedbackRequest, IssueTrigger
from devbot.runs.runtime import Runtime
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import FeedbackForge

EYES = "eyes"
T = TypeVar("T")


class Starter(Protocol):
    """Starts the runs a delivery asks for (the engine)."""

    def start_issue_run(self, plan_rel: str, text: str, request: DeliveryRequest) -> str:
        """Start a plan run of `text` unless this exact content already has one; its id."""
        ...

    def enqueue_feedback(self, request: FeedbackRequest) -> None:
        """Put a feedback run on its PR's queue (one run per PR at a time)."""
        ...


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of a delivery; stored on it in the inbox."""

    status: str
    reason: str = ""


class DeliveryFlow:
    def __init__(self, runtime: Runtime, request: DeliveryRequest, starter: Starter) -> None:
        self.runtime, self.request, self.starter = runtime, request, starter
        self.trigger = request.trigger

    def step(self, name: str, fn: Callable[[], T]) -> T:
        """A recorded step; when the process is stopping, the delivery parks before it."""
        self.runtime.checkpoint(None)
        return step(name, fn)

    def execute(self) -> DeliveryOutcome:
        with self.runtime.running():
            return self._execute()

    def _execute(self) -> DeliveryOutcome:
        try:
            request = self.request
            outcome = self._handle(
                self.runtime.feedback_forge(request.settings, request.repository)
            )
        except Exception as exc:
            outcome = DeliveryOutcome("failed", f"{type(exc).__name__}: {exc}")
        delivery_id = self.trigger.delivery_id
        self.step(
            "mark_delivery",
            lambda: self.runtime.inbox.mark([delivery_id], outcome.status, outcome.reason),
        )
        return outcome

    def _handle(self, forge: FeedbackForge) -> DeliveryOutcome:
        trigger, sender = self.trigger, self.trigger.sender
        scope = self.request.repository.key
        allowed: bool = self.step(
            "authorise", lambda: self.runtime.may_trigger(forge, sender, scope)
        )
        if not allowed:
            return DeliveryOutcome("ignored", f"{sender} has no write permission")
        comment = trigger.comment
        if isinstance(trigger, IssueTrigger):
            if comment is not None:
                self.step("react", lambda: forge.add_reaction(comment, EYES))
            plan_rel, text = issue_plan(self.request.settings.plan_dirs[0], trigger)
            # not a step: a replay finds the run already started for this exact plan content
            run_id = self.starter.start_issue_run(plan_rel, text, self.request)
            return DeliveryOutcome("plan_run", run_id)
        if not trigger.devbots_pr and not trigger.mentioned:
            return DeliveryOutcome(
                "ignored", "not devbot's pull request and devbot is not mentioned"
            )
        self.step("react", lambda: forge.add_reaction(trigger.comment, EYES))
        new_run: str | None = self.step(
            "schedule_feedback",
            lambda: self.runtime.feedback.schedule(
                scope,
                trigger.number,
                trigger.delivery_id,
                trigger.received_at,
                trigger.comment.id,
            ),
        )
        if new_run is None:
            return DeliveryOutcome("batched", "joined the waiting feedback run")
        self.starter.enqueue_feedback(
            FeedbackRequest(
                new_run,
                self.request.repository,
                trigger.number,
                self.request.settings,
                self.request.flags,
            )
        )
        return DeliveryOutcome("scheduled", new_run)


def issue_plan(plan_dir: str, trigger: IssueTrigger) -> tuple[str, str]:
    """The plan an issue asks for (cleaned of hidden text) and where its run commits it."""
    title = " ".join(clean_untrusted(trigger.title).split()) or f"Issue {trigger.number}"
    body = clean_untrusted(trigger.body) or title
    slug = slugify(f"issue-{trigger.number}-{title}")[:60].strip("-")
    day = dt.date.fromtimestamp(trigger.received_at)
    plan_rel = f"{plan_dir}/{plan_filename(day, slug)}"
    safe_title = title.replace('"', "'")
    text = f'---\ntitle: "{safe_title}"\n---\n\n{body}\n\nCloses #{trigger.number}\n'
    return plan_rel, text
