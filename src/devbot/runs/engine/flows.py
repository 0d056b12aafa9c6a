"""The one place durable workflows are registered with DBOS.

DBOS is a process-wide singleton that calls workflows back by name, also after a crash in
another process; its way to hand those calls a context is a configured instance, recorded
with each workflow by class and instance name. `Flows` is that instance: it holds the
process's `Runtime`, and each workflow method builds the flow object of its kind and runs
it. The instance name is derived from the run database, so every process of one deployment
(all workers on one PostgreSQL) recovers every workflow of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance, SetEnqueueOptions, SetWorkflowID

from devbot.config import Settings
from devbot.plans.plan import parse_plan_text
from devbot.plans.speckit import Feature
from devbot.runs.flows.ci_fix import CiFixRun
from devbot.runs.flows.delivery import DeliveryFlow, DeliveryOutcome
from devbot.runs.flows.feedback import FeedbackRun
from devbot.runs.flows.plan import PlanRun, plan_sha
from devbot.runs.flows.spec import SpecRun
from devbot.runs.requests import (
    CiFixRequest,
    DeliveryRequest,
    FeedbackRequest,
    PlanRequest,
    RunResult,
    SpecRequest,
)
from devbot.runs.runtime import Runtime
from devbot.runs.state.store import RunRecord
from devbot.vcs.repository import Repository

QUEUE_NAME = "devbot-runs"
FEEDBACK_QUEUE = "devbot-feedback"
MAX_RECOVERY_ATTEMPTS = 20


@dataclass(frozen=True)
class Submission:
    """A run started for a plan, or the earlier run that already handled the same content."""

    record: RunRecord
    is_new: bool


def new_run_id(slug: str) -> str:
    return f"{dt.date.today():%y%m%d}-{slug[:32]}-{secrets.token_hex(3)}"


def instance_name(database_url: str) -> str:
    """`devbot-<hash>` of the run database, its password left out (it may be rotated)."""
    url = sa.make_url(database_url).set(password=None).render_as_string(hide_password=False)
    return "devbot-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


CLASS_NAME = "devbot.Flows"


@DBOS.dbos_class(CLASS_NAME)
class Flows(DBOSConfiguredInstance):
    """The workflows of one run database, bound to this process's runtime. Get it with
    `bind`: DBOS keeps one instance per name for the life of the process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__(instance_name(runtime.store.url))

    @DBOS.workflow(name="devbot.plan_run", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
    def plan_run(self, request: PlanRequest) -> RunResult:
        return PlanRun(self.runtime, request).run()

    @DBOS.workflow(name="devbot.spec_run", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
    def spec_run(self, request: SpecRequest) -> RunResult:
        return SpecRun(self.runtime, request).run()

    @DBOS.workflow(name="devbot.feedback_run", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
    def feedback_run(self, request: FeedbackRequest) -> RunResult:
        return FeedbackRun(self.runtime, request).run()

    @DBOS.workflow(name="devbot.ci_fix_run", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
    def ci_fix_run(self, request: CiFixRequest) -> RunResult:
        return CiFixRun(self.runtime, request).run()

    @DBOS.workflow(name="devbot.webhook_delivery", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
    def webhook_delivery(self, request: DeliveryRequest) -> DeliveryOutcome:
        return DeliveryFlow(self.runtime, request, self).execute()

    # -- starting runs (the delivery flow's Starter) -------------------------------------

    def start_plan_run(self, request: PlanRequest, via_queue: bool) -> None:
        """Start `request`'s workflow here, or put it on the run queue for a worker."""
        with SetWorkflowID(request.run_id):
            if via_queue:
                with SetEnqueueOptions(queue_partition_key=request.repository.key):
                    run_queue(self.runtime).enqueue(self.plan_run, request)
            else:
                DBOS.start_workflow(self.plan_run, request)

    def submit(
        self,
        repository: Repository,
        plan_rel: str,
        text: str,
        settings: Settings,
        *,
        only_if_new: bool = False,
        via_queue: bool | None = None,
        kind: str = "plan",
    ) -> Submission:
        """Start a run of the plan `text`, which the run commits at `plan_rel` on its branch;
        the plan is parsed here, once, and the model setting checked before anything starts.

        With `only_if_new` a plan whose exact content already has a run is not run again, so
        restarts and duplicate events never repeat work. `via_queue` (default: when
        `workers = "external"`): put the run on the run queue for a worker. `kind`: what
        the run record calls it (`issue` for an issue's plan).
        """
        runtime = self.runtime
        where = Path(repository.checkout or repository.name) / plan_rel
        plan = parse_plan_text(text, where, settings.max_plan_bytes)
        runtime.model(settings)  # refuse a bad model setting now; preloads its SDK
        sha = plan_sha(plan.text)
        key = repository.key
        if only_if_new:
            earlier = runtime.store.find_for_plan(key, plan_rel, sha)
            if earlier is not None:
                return Submission(earlier, is_new=False)
        run_id = new_run_id(plan.slug)
        record = RunRecord(
            id=run_id, kind=kind, repo=key, plan_path=plan_rel, plan_sha=sha, title=plan.title
        )
        runtime.store.create(record)
        request = PlanRequest(run_id, repository, plan_rel, plan, settings)
        queued = settings.workers == "external" if via_queue is None else via_queue
        self.start_plan_run(request, queued)
        return Submission(runtime.store.get(run_id), is_new=True)

    def submit_spec(
        self,
        repository: Repository,
        feature: Feature,
        settings: Settings,
        *,
        only_if_new: bool = False,
        via_queue: bool | None = None,
    ) -> Submission:
        """Start a spec run of the Spec Kit `feature` (read and validated by the caller);
        `only_if_new` and `via_queue` as for `submit`. The run record names the feature's
        folder and one hash of its documents."""
        runtime = self.runtime
        runtime.model(settings)  # refuse a bad model setting now; preloads its SDK
        key, sha = repository.key, feature.sha
        if only_if_new:
            earlier = runtime.store.find_for_plan(key, feature.folder, sha)
            if earlier is not None:
                return Submission(earlier, is_new=False)
        run_id = new_run_id(feature.slug)
        record = RunRecord(
            id=run_id,
            kind="spec",
            repo=key,
            plan_path=feature.folder,
            plan_sha=sha,
            title=feature.title,
        )
        runtime.store.create(record)
        request = SpecRequest(run_id, repository, feature, settings)
        queued = settings.workers == "external" if via_queue is None else via_queue
        with SetWorkflowID(run_id):
            if queued:
                with SetEnqueueOptions(queue_partition_key=repository.key):
                    run_queue(runtime).enqueue(self.spec_run, request)
            else:
                DBOS.start_workflow(self.spec_run, request)
        return Submission(runtime.store.get(run_id), is_new=True)

    def start_issue_run(self, plan_rel: str, text: str, request: DeliveryRequest) -> str:
        submitted = self.submit(
            request.repository, plan_rel, text, request.settings, only_if_new=True, kind="issue"
        )
        return submitted.record.id

    def enqueue_feedback(self, request: FeedbackRequest) -> None:
        queue = DBOS.retrieve_queue(FEEDBACK_QUEUE) or feedback_queue(self.runtime)
        partition = f"{request.repository.key}#{request.number}"
        with SetWorkflowID(request.run_id), SetEnqueueOptions(queue_partition_key=partition):
            queue.enqueue(self.feedback_run, request)

    def enqueue_ci_fix(self, request: CiFixRequest) -> None:
        """On the PR's feedback partition: never beside a feedback run of the same PR."""
        queue = DBOS.retrieve_queue(FEEDBACK_QUEUE) or feedback_queue(self.runtime)
        partition = f"{request.repository.key}#{request.number}"
        with SetWorkflowID(request.run_id), SetEnqueueOptions(queue_partition_key=partition):
            queue.enqueue(self.ci_fix_run, request)

    def start_delivery(self, request: DeliveryRequest) -> None:
        with SetWorkflowID(f"webhook-{request.trigger.delivery_id}"):
            DBOS.start_workflow(self.webhook_delivery, request)


def bind(runtime: Runtime) -> Flows:
    """The `Flows` of `runtime`'s run database, bound to `runtime`. A second engine on the
    same database in one process (a restart in a test) rebinds the instance DBOS already
    holds, since DBOS refuses a second instance of one name (and keeps its registry, where
    this looks, across a shutdown)."""
    from dbos._dbos import _get_or_create_dbos_registry

    held = _get_or_create_dbos_registry().instance_info_map.get(
        f"{CLASS_NAME}/{instance_name(runtime.store.url)}"
    )
    if isinstance(held, Flows):
        held.runtime = runtime
        return held
    return Flows(runtime)


def run_queue(runtime: Runtime, *, update: bool = False) -> Any:
    """The run queue: partitioned by repository (`repo_concurrency` runs of one repository
    at once over all workers), `worker_concurrency` runs per worker. Workers write their
    limits (the last worker to start sets them for all); submitters leave them alone."""
    settings = runtime.settings
    return DBOS.register_queue(
        QUEUE_NAME,
        worker_concurrency=settings.worker_concurrency,
        partition_concurrency=settings.repo_concurrency,
        polling_interval_sec=settings.queue_poll_s,
        on_conflict="always_update" if update else "never_update",
    )


def feedback_queue(runtime: Runtime) -> Any:
    """One feedback run per PR at a time (each PR is a partition), over all workers."""
    settings = runtime.settings
    return DBOS.register_queue(
        FEEDBACK_QUEUE,
        worker_concurrency=settings.worker_concurrency,
        partition_concurrency=1,
        polling_interval_sec=min(settings.queue_poll_s, 0.2),
    )
