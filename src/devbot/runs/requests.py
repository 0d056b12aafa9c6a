"""The typed values that start durable runs and that they end with.

A request is built once, where the work is asked for (a parsed plan, a review comment, an
issue), and DBOS records it as the workflow's input; a run never parses its plan again or
rebuilds its settings from a dict. Every request names its repository by the remote
(`Repository`: URL, and the checkout it came from), so any worker on any machine can run
it. A webhook's trigger is read from the delivery once (`triggers.webhook.events`), stored
in the inbox as JSON, and handed to the delivery flow as the same type.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from devbot.config import Settings
from devbot.plans.plan import Plan
from devbot.plans.speckit import Feature
from devbot.vcs.forge import Comment
from devbot.vcs.repository import Repository

RunStatus = Literal["completed", "failed", "cancelled"]


class RunRequest(Protocol):
    """What every request of a durable run names."""

    @property
    def run_id(self) -> str: ...

    @property
    def repository(self) -> Repository: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def started_at(self) -> float: ...


@dataclass(frozen=True)
class PlanRequest:
    """Run `plan` (committed at `plan_rel` on the run's branch) in `repository`."""

    run_id: str
    repository: Repository
    plan_rel: str
    plan: Plan
    settings: Settings
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SpecRequest:
    """Work through the tasks of the Spec Kit `feature` (read from the checkout, committed
    on the run's branch) in `repository`."""

    run_id: str
    repository: Repository
    feature: Feature
    settings: Settings
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class FeedbackRequest:
    """Answer the unaddressed review comments of pull request `number`. `flags` are the
    server's command-line settings, laid over the base branch's `devbot.toml`."""

    run_id: str
    repository: Repository
    number: int
    settings: Settings
    flags: dict[str, Any]
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class CiFixRequest:
    """Fix what CI says is broken on `head_sha`, the head devbot pushed to pull request
    `number`; `attempt` counts the PR's CI-fix runs (this one included)."""

    run_id: str
    repository: Repository
    number: int
    head_sha: str
    attempt: int
    settings: Settings
    flags: dict[str, Any]
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunResult:
    """How a run ended: the workflow's output, also what `devbot run` prints."""

    status: str
    message: str
    head_sha: str = ""
    pushed: bool = False
    pr_url: str = ""


@dataclass(frozen=True)
class FeedbackTrigger:
    """A review comment, review or conversation comment on pull request `number`."""

    delivery_id: str
    received_at: float
    sender: str
    number: int
    comment: Comment
    devbots_pr: bool
    mentioned: bool
    kind: Literal["feedback"] = "feedback"


@dataclass(frozen=True)
class IssueTrigger:
    """An issue labelled for devbot, or a comment mentioning devbot on an issue."""

    delivery_id: str
    received_at: float
    sender: str
    number: int
    title: str
    body: str
    comment: Comment | None = None
    kind: Literal["issue_plan"] = "issue_plan"


@dataclass(frozen=True)
class CiTrigger:
    """A check suite, check run or workflow run of `head_sha` that ended failing, on the
    pull requests `numbers` (as the delivery lists them: whose they are is asked later)."""

    delivery_id: str
    received_at: float
    sender: str
    numbers: tuple[int, ...]
    head_sha: str
    check: str
    """What failed, as the delivery names it (a check, a workflow, a suite's app)."""
    conclusion: str
    kind: Literal["ci"] = "ci"


Trigger = FeedbackTrigger | IssueTrigger | CiTrigger


def trigger_to_json(trigger: Trigger) -> str:
    return json.dumps(asdict(trigger), ensure_ascii=False)


def trigger_from_json(text: str) -> Trigger:
    values = json.loads(text)
    if values["kind"] == "ci":
        return CiTrigger(**{**values, "numbers": tuple(values["numbers"])})
    comment = values.pop("comment", None)
    values["comment"] = Comment(**comment) if comment else None
    if values["kind"] == "feedback":
        return FeedbackTrigger(**values)
    return IssueTrigger(**values)


@dataclass(frozen=True)
class DeliveryRequest:
    """Act on one stored webhook delivery."""

    repository: Repository
    settings: Settings
    flags: dict[str, Any]
    trigger: Trigger
