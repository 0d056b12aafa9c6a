"""The webhook delivery flow: what one stored delivery starts.

It checks who sent it (write permission, cached), reacts 👀, and either schedules the PR's
next feedback run on the per-PR feedback queue or starts a plan run for an issue. A failed
CI result starts a CI-fix run only on a pull request devbot opened, for the head commit
devbot pushed last, once per commit and at most `ci_fix_attempts` times per PR; whoever
sent it authorises nothing. The engine (the `Starter`) starts those runs; this flow only
decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from devbot.plans.plan import plan_filename, slugify
from devbot.runs.flows.pull_request import marker, post_once
from devbot.runs.flows.skeleton import step
from devbot.runs.requests import (
    CiFixRequest,
    CiTrigger,
    DeliveryRequest,
    FeedbackRequest,
    IssueTrigger,
)
from devbot.runs.runtime import Runtime
from devbot.runs.state.store import RunRecord
from devbot.templating import render
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import FeedbackForge, same_login

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

    def enqueue_ci_fix(self, request: CiFixRequest) -> None:
        """Put a CI-fix run on its PR's queue; a second request of the same id is no-op."""
        ...


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of a delivery; stored on it in the inbox."""

    status: str
    reason: str = ""


@dataclass(frozen=True)
class CiDecision:
    """What a failed CI result on one pull request asks for: `fix` (a new run `run_id`,
    the PR's `attempt`-th), `limit` (the PR had its attempts), or `ignored` and why."""

    verdict: Literal["fix", "limit", "ignored", "batched"]
    reason: str
    run_id: str = ""
    attempt: int = 0
    tried: tuple[str, ...] = ()
    """For `limit`: each earlier attempt and how it ended."""


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
        if isinstance(trigger, CiTrigger):
            outcomes = [self._ci_failure(forge, trigger, number) for number in trigger.numbers]
            started = [o for o in outcomes if o.status == "ci_fix"]
            return (started or outcomes)[0]
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

    def _ci_failure(self, forge: FeedbackForge, trigger: CiTrigger, number: int) -> DeliveryOutcome:
        decision: CiDecision = self.step(
            "ci_decide", lambda: self._do_decide_ci(forge, trigger, number)
        )
        if decision.verdict == "limit":
            key = marker("ci-limit", trigger.head_sha)
            body = self._limit_comment(trigger, decision)
            self.step("ci_limit_comment", lambda: post_once(forge, number, key, body))
            return DeliveryOutcome("ignored", decision.reason)
        if decision.verdict != "fix":
            return DeliveryOutcome(decision.verdict, decision.reason)
        request = self.request
        self.starter.enqueue_ci_fix(
            CiFixRequest(
                decision.run_id,
                request.repository,
                number,
                trigger.head_sha,
                decision.attempt,
                request.settings,
                request.flags,
            )
        )
        return DeliveryOutcome("ci_fix", decision.run_id)

    def _do_decide_ci(self, forge: FeedbackForge, trigger: CiTrigger, number: int) -> CiDecision:
        """Whether the failed CI of `trigger.head_sha` on PR `number` gets a fix run: only
        on devbot's own open PR, for the head commit devbot pushed, once per commit (the
        run id is the commit's), within `ci_fix_attempts`."""
        sha, limit = trigger.head_sha, self.request.settings.ci_fix_attempts
        if limit <= 0:
            return CiDecision("ignored", "CI fixes are off (ci_fix_attempts = 0)")
        pr = forge.get_pull_request(number)
        if pr is None or pr.state != "open":
            return CiDecision("ignored", f"pull request #{number} is not open")
        if not same_login(pr.author, forge.identity()):
            return CiDecision(
                "ignored", f"#{number} is not devbot's pull request (a writer may mention it)"
            )
        if pr.head_repo != forge.full_name or pr.head_sha != sha:
            return CiDecision("ignored", f"{sha} is not the head of #{number} any more")
        scope, store = self.request.repository.key, self.runtime.store
        if not store.pushed(scope, pr.head, sha):
            return CiDecision("ignored", f"devbot did not push {sha}")
        earlier = store.runs_of(scope, "ci_fix", f"pull/{number}")
        run_id = f"ci-fix-{number}-{sha[:12]}"
        if any(run.id == run_id for run in earlier):
            return CiDecision("batched", f"{run_id} fixes this commit already", run_id)
        if len(earlier) >= limit:
            tried = tuple(
                f"- run `{run.id}` on {run.plan_sha[:10]}: {run.status}: {run.message}"
                for run in earlier
            )
            return CiDecision("limit", f"#{number} had its {limit} CI-fix attempt(s)", tried=tried)
        record = RunRecord(
            id=run_id,
            kind="ci_fix",
            repo=scope,
            plan_path=f"pull/{number}",
            plan_sha=sha,
            title=f"CI fix on #{number}: {pr.title}",
            branch=pr.head,
            base_branch=pr.base,
            pr_url=pr.url,
        )
        if not store.create_once(record):
            return CiDecision("batched", f"{run_id} fixes this commit already", run_id)
        return CiDecision("fix", trigger.check, run_id, len(earlier) + 1)

    def _limit_comment(self, trigger: CiTrigger, decision: CiDecision) -> str:
        settings = self.request.settings
        return render(
            "devbot.runs",
            "ci_fix_limit.txt",
            checks=f"`{trigger.check}` ({trigger.conclusion})",
            sha=trigger.head_sha,
            count=len(decision.tried),
            limit=settings.ci_fix_attempts,
            tried="\n".join(decision.tried),
            mention=settings.mention,
        ).strip()


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
