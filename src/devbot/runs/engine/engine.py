"""DBOS lifecycle: one durable-execution engine per process, on the runtime's database.

DBOS is a process-wide singleton; `Engine.launch` configures and launches it once, with a
pinned application version (so a deploy does not strand pending runs) and a stable executor
id (so a restarted process recovers its own unfinished runs at launch). The executor id is
`DEVBOT_WORKER_ID` when set (refused while a live process holds it), else `local` when no
live process holds that, else a fresh `local-<hex>`: two processes never share an id, so
DBOS's start-up recovery never takes a run away from a process still working on it.

A process either serves the run queue (a worker: `devbot worker`, and `devbot watch` when
`workers = "local"`) or only submits to it. Every process beats in the worker table and runs
the supervisor (recovery of dead executors' runs, run records kept true, stalled runs).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig

from devbot import __version__
from devbot.config import ConfigError, Settings
from devbot.plans.plan import PlanError, read_plan_text
from devbot.runs.engine.flows import (
    FEEDBACK_QUEUE,
    QUEUE_NAME,
    Flows,
    Submission,
    bind,
    feedback_queue,
    run_queue,
)
from devbot.runs.engine.metrics import Metrics, WebhookCounts
from devbot.runs.engine.supervisor import Supervisor
from devbot.runs.engine.workers import WorkerRegistry
from devbot.runs.flows.spec import read_feature
from devbot.runs.requests import DeliveryRequest, RunResult, Trigger
from devbot.runs.runtime import ForgeFactory, Runtime, checkout_repository
from devbot.tools.inside import inside_path
from devbot.tools.jail import PathOutsideWorkspace
from devbot.vcs.repository import Repository

APP_NAME = "devbot"
APPLICATION_VERSION = f"devbot-{__version__}"
LOCAL_ID = "local"
WAIT_POLL_S = 0.05
PARK_S = 60.0
"""How long a command waits at its end for the runs in flight to reach a step boundary."""


class Engine:
    """DBOS launched for `runtime`; `flows` starts runs. Build it with `Engine.launch`."""

    def __init__(
        self,
        runtime: Runtime,
        flows: Flows,
        registry: WorkerRegistry,
        executor_id: str,
        serve_queue: bool,
    ) -> None:
        self.runtime, self.flows, self.registry = runtime, flows, registry
        self.executor_id, self.serve_queue = executor_id, serve_queue
        self.supervisor = Supervisor(runtime, registry, executor_id, APPLICATION_VERSION)

    @classmethod
    def launch(
        cls, runtime: Runtime, *, serve_queue: bool = False, serve_feedback: bool = False
    ) -> Engine:
        """Launch DBOS on the runtime's database.

        `serve_queue`: this process takes runs from the queues (a worker: plan runs, and the
        per-PR feedback runs). Either way it runs the runs it starts itself and the recovered
        runs DBOS hands it. `serve_feedback`: it registers the feedback queue although it
        takes no runs (`devbot serve` with external workers enqueues feedback runs there).
        """
        settings = runtime.settings
        url = settings.system_database_url(runtime.state_dir)
        _quiet_dbos_logging()
        registry = WorkerRegistry(runtime.store.engine, settings.worker_timeout_s)
        executor = _claim_executor_id(registry)
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": url,
            "application_version": APPLICATION_VERSION,
            "executor_id": executor,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.05,
        }
        try:
            if serve_queue:
                _preregister_queue(runtime, url)
            DBOS(config=config)
            flows = bind(runtime)  # after DBOS() and before launch, as DBOS asks
            if not serve_queue:
                DBOS.listen_queues([])
            DBOS.launch()
            run_queue(runtime, update=serve_queue)
            if serve_feedback or serve_queue:
                feedback_queue(runtime)
        except BaseException:
            DBOS.destroy(destroy_registry=False)
            registry.release(executor)
            raise
        engine = cls(runtime, flows, registry, executor, serve_queue)
        engine.supervisor.start()
        return engine

    def shutdown(self, park_s: float = 0.0) -> None:
        """Stop DBOS so the next launch (another repo, another test) starts clean; our worker
        row goes, so another process takes our unfinished runs over at once.

        `park_s`: first let the runs in flight reach their next step boundary and park there
        (waiting at most that long), so that none is cut mid-step and none is marked failed:
        what a command does when it ends. A parked run's thread waits for the process to end."""
        if park_s > 0:
            self.runtime.stopping.set()
            self.runtime.wait_parked(park_s)
        self.supervisor.stop()
        DBOS.destroy(destroy_registry=False)
        self.registry.release(self.executor_id)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()

    def submit_plan(
        self,
        plan_path: Path,
        settings: Settings,
        *,
        only_if_new: bool = False,
        via_queue: bool | None = None,
        repo: Path | None = None,
    ) -> Submission:
        """Start a run of the plan file `plan_path` of the checkout `repo` (default: the
        runtime's), or a spec run when it is a Spec Kit feature folder (`specs/001-x/`,
        read and validated by `read_feature`); the run names the checkout's remote. The
        file is read here, bounded, and refused (PlanError) when it is a symbolic link out
        of the repository; `Flows.submit` parses it once. ConfigError for a bad model
        setting."""
        repo = repo or self.runtime.repo
        if repo == self.runtime.checkout and self.runtime.repository is not None:
            repository = self.runtime.repository
        else:
            repository = checkout_repository(repo, settings.remote)
        relative = os.path.relpath(os.path.abspath(plan_path), repo)
        try:
            real = inside_path(repo, relative)
        except PathOutsideWorkspace as exc:
            raise PlanError(str(plan_path), f"not a file inside the repository: {exc}") from None
        if real.is_dir():
            feature = read_feature(repo, Path(relative).as_posix(), settings.max_plan_bytes)
            return self.flows.submit_spec(
                repository, feature, settings, only_if_new=only_if_new, via_queue=via_queue
            )
        text = read_plan_text(real, settings.max_plan_bytes, str(plan_path))
        return self.flows.submit(
            repository,
            Path(relative).as_posix(),
            text,
            settings,
            only_if_new=only_if_new,
            via_queue=via_queue,
        )

    def wait(self, run_id: str) -> RunResult | None:
        """Block until the run's workflow ends: its result, or a failed one when it ended
        without one (stopped, given up); None when this process is stopping and the run
        parked at a step boundary instead."""
        while True:
            status = DBOS.get_workflow_status(run_id)
            if status is not None and status.status not in ("PENDING", "ENQUEUED"):
                break
            if not self.runtime.stopping.is_set():
                time.sleep(WAIT_POLL_S)
            elif self.runtime.wait_parked(WAIT_POLL_S):
                return None
        try:
            result: object = DBOS.retrieve_workflow(run_id).get_result(polling_interval_sec=0.05)
        except Exception as exc:  # cancelled by the supervisor, dead-lettered, ...
            return RunResult("failed", str(exc))
        return result if isinstance(result, RunResult) else RunResult("failed", repr(result))

    def queue_depth(self) -> dict[str, int]:
        """How many runs wait in each of devbot's queues (over all workers)."""
        waiting = DBOS.list_workflows(status="ENQUEUED", load_input=False, load_output=False)
        depth = dict.fromkeys((QUEUE_NAME, FEEDBACK_QUEUE), 0)
        for workflow in waiting:
            if workflow.queue_name in depth:
                depth[workflow.queue_name] += 1
        return depth

    def metrics(self, webhooks: WebhookCounts | None = None) -> Metrics:
        """This process's `/metrics` (with `webhooks`: the server's answers by outcome)."""
        return Metrics(
            self.runtime,
            self.registry,
            self.executor_id,
            queue_depth=self.queue_depth,
            webhooks=webhooks,
        )

    def dispatch_deliveries(self, flags: dict[str, Any]) -> int:
        """Start the workflow of every stored delivery not started yet (its workflow id is
        the delivery id, so never twice); how many were started."""
        inbox = self.runtime.inbox
        started = 0
        while batch := inbox.pending():
            for delivery in batch:
                self.flows.start_delivery(self._delivery(delivery.trigger, flags))
            inbox.mark([d.delivery_id for d in batch], "dispatched")
            started += len(batch)
        return started

    def _delivery(self, trigger: Trigger, flags: dict[str, Any]) -> DeliveryRequest:
        return DeliveryRequest(self.runtime.served, self.runtime.settings, dict(flags), trigger)


@contextmanager
def running(
    settings: Settings,
    repo: Path | None,
    *,
    repository: Repository | None = None,
    serve_queue: bool = False,
    serve_feedback: bool = False,
    forge_factory: ForgeFactory | None = None,
) -> Iterator[Engine]:
    """A runtime for the checkout `repo` (or, without one, for `repository` or for any) and
    the engine launched on it, both closed at the end (the runs still in flight park at
    their next step boundary first): what a command does from its start to its end."""
    runtime = Runtime.open(settings, repo, repository=repository, forge_factory=forge_factory)
    try:
        engine = Engine.launch(runtime, serve_queue=serve_queue, serve_feedback=serve_feedback)
        try:
            yield engine
        finally:
            engine.shutdown(park_s=PARK_S)
    finally:
        runtime.close()


def _quiet_dbos_logging() -> None:
    """Give DBOS's logger our handler before DBOS would install one bound to today's stderr."""
    dbos_logger = logging.getLogger("dbos")
    if not dbos_logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("dbos %(levelname)s: %(message)s"))
        dbos_logger.addHandler(handler)
        dbos_logger.propagate = False


class _CurrentStderr(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time, so a swapped stderr is never stale."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def configured_worker_id() -> str | None:
    return os.environ.get("DEVBOT_WORKER_ID") or None


def _claim_executor_id(registry: WorkerRegistry) -> str:
    wanted = configured_worker_id()
    if wanted is not None:
        if not registry.claim(wanted):
            row = registry.get(wanted)
            where = f" (pid {row.pid} on {row.host})" if row else ""
            raise ConfigError(f"worker id {wanted!r} is in use by a live process{where}")
        return wanted
    if registry.claim(LOCAL_ID):
        return LOCAL_ID
    fresh = f"{LOCAL_ID}-{registry.token[:8]}"
    registry.claim(fresh)
    return fresh


def _preregister_queue(runtime: Runtime, url: str) -> None:
    """Write the worker's queue limits before DBOS's queue thread first reads them, so the
    first poll already obeys them (and does not wait a second for a queue it never saw)."""
    settings = runtime.settings
    DBOS.migrate(url)
    client = DBOSClient(system_database_url=url, application_name=APP_NAME)
    try:
        client.register_queue(
            QUEUE_NAME,
            worker_concurrency=settings.worker_concurrency,
            partition_concurrency=settings.repo_concurrency,
            polling_interval_sec=settings.queue_poll_s,
            on_conflict="always_update",
        )
    finally:
        client.destroy()
