"""The supervisor: a thread in every devbot process that keeps runs moving and records true.

Every `beat_s` it
- beats this process's row in the worker table;
- gives the unfinished runs of dead executors (no beat for `worker_timeout_s`, or their
  process is gone on this host) back to the queue, where any worker takes them;
- settles run records whose workflow ended without saying so (DBOS refused its recorded
  state, it crashed too often, it was stopped), so no record stays `running` forever;
- fails a running run that made no progress for `stall_timeout_s`, with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from devbot.runs.engine.workers import WorkerRegistry
from devbot.runs.requests import RunResult
from devbot.runs.runtime import Runtime
from devbot.runs.state.store import RunRecord

log = logging.getLogger("devbot.supervisor")

WORKFLOW_PREFIX = "devbot."


class Supervisor:
    """Runs `sweep` every `beat_s` seconds on a daemon thread until `stop`."""

    def __init__(
        self, runtime: Runtime, registry: WorkerRegistry, executor_id: str, app_version: str
    ) -> None:
        self.runtime, self.settings, self.store = runtime, runtime.settings, runtime.store
        self.registry = registry
        self.executor_id, self.app_version = executor_id, app_version
        self.beat_s = max(0.2, min(2.0, self.settings.worker_timeout_s / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="devbot-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception as exc:  # a database hiccup must not end supervision
                log.warning("supervisor sweep failed: %s", exc)
            self._stop.wait(self.beat_s)

    def sweep(self) -> None:
        if not self.registry.beat(self.executor_id, self.runtime.runs_in_flight()):
            self.registry.claim(self.executor_id)
        self.recover_dead_executors()
        self.settle_records()
        self.runtime.housekeeping()

    def recover_dead_executors(self) -> list[str]:
        """Re-enqueue the pending runs of every dead executor; returns their ids."""
        from dbos import DBOS

        pending = DBOS.list_workflows(
            status="PENDING",
            workflow_id_prefix=None,
            load_input=False,
            load_output=False,
        )
        owners = {
            wf.executor_id
            for wf in pending
            if wf.name.startswith(WORKFLOW_PREFIX) and wf.executor_id
        }
        rows = {row.executor_id: row for row in self.registry.all()}
        dead = sorted(
            owner
            for owner in owners
            if owner != self.executor_id and not self.registry.is_alive(rows.get(owner))
        )
        if dead:
            DBOS._recover_pending_workflows(dead)
            log.warning("took over the unfinished runs of dead worker(s) %s", ", ".join(dead))
        return dead

    def settle_records(self) -> None:
        from dbos import DBOS

        records = self.store.active()
        if not records:
            return
        statuses = {
            wf.workflow_id: wf
            for wf in DBOS.list_workflows(
                workflow_ids=[r.id for r in records], load_input=False, load_output=True
            )
        }
        for record in records:
            self._settle(record, statuses.get(record.id))

    def _settle(self, record: RunRecord, workflow: Any) -> None:
        now = time.time()
        if workflow is None:
            if now - record.created_at > self.settings.worker_timeout_s:
                self._fail(record, "never started: it was recorded but its submitter stopped")
            return
        status = workflow.status
        if status == "SUCCESS":
            output = workflow.output
            ended = isinstance(output, RunResult)
            self.store.update(
                record.id,
                status=output.status if ended else "failed",
                message=output.message if ended else record.message,
                finished_at=record.finished_at or now,
            )
        elif status == "ERROR":
            self._fail(record, f"devbot could not resume this run: {workflow.error}")
        elif status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
            self._fail(record, "the run crashed its worker too many times; it was given up")
        elif status == "CANCELLED":
            self._fail(record, record.message or "stopped before it finished")
        elif status == "PENDING":
            self._check_progress(record, workflow, now)

    def _check_progress(self, record: RunRecord, workflow: Any, now: float) -> None:
        """Fail a run whose owner lives but whose last step ended `stall_timeout_s` ago."""
        from dbos import DBOS

        if not self.registry.is_alive(self.registry.get(workflow.executor_id or "")):
            if workflow.app_version and workflow.app_version != self.app_version:
                self._fail(
                    record,
                    f"started by {workflow.app_version}, which no live worker runs; "
                    f"{self.app_version} cannot continue it: `devbot runs retry` starts it anew",
                )
                DBOS.cancel_workflow(record.id)
            return  # otherwise recovery's business, not a stall
        steps = DBOS.list_workflow_steps(record.id, load_output=False)
        marks = [s["completed_at_epoch_ms"] or s["started_at_epoch_ms"] or 0 for s in steps]
        marks += [workflow.dequeued_at or 0, workflow.updated_at or 0, workflow.created_at or 0]
        last = max(marks) / 1000
        idle = now - last
        if idle <= self.settings.stall_timeout_s:
            return
        reason = (
            f"no progress for {idle:.0f} s (stall_timeout_s = {self.settings.stall_timeout_s:g})"
            f" after {len(steps)} recorded step(s); the run was stopped"
        )
        self._fail(record, reason)  # first: whoever waits on the workflow then reads it
        DBOS.cancel_workflow(record.id)

    def _fail(self, record: RunRecord, reason: str) -> None:
        self.store.update(record.id, status="failed", message=reason, finished_at=time.time())
        self.runtime.progress.emit(record.id, f"run failed: {reason}")
