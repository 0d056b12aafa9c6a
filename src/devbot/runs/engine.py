"""DBOS lifecycle: one durable-execution engine per process, pointed at the repo's database.

DBOS is a process-wide singleton; `launch_engine` configures and launches it once, with a
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devbot import __version__
from devbot.config import ConfigError, Settings

APP_NAME = "devbot"
APPLICATION_VERSION = f"devbot-{__version__}"
QUEUE_NAME = "devbot-runs"
LOCAL_ID = "local"
# Queues every devbot process serves, submitters too (light work such as webhook
# deliveries); runs go on QUEUE_NAME, which only workers serve.
SHARED_QUEUES: list[str] = []


@dataclass
class _Engine:
    url: str
    serve_queue: bool
    executor_id: str
    supervisor: Any


_current: _Engine | None = None


class _CurrentStderr(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time, so a swapped stderr is never stale."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def _quiet_dbos_logging() -> None:
    """Give DBOS's logger our handler before DBOS would install one bound to today's stderr."""
    dbos_logger = logging.getLogger("dbos")
    if not dbos_logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("dbos %(levelname)s: %(message)s"))
        dbos_logger.addHandler(handler)
        dbos_logger.propagate = False


def configured_worker_id() -> str | None:
    return os.environ.get("DEVBOT_WORKER_ID") or None


def executor_id() -> str:
    """This process's executor id once launched (else the one it would ask for)."""
    return _current.executor_id if _current else configured_worker_id() or LOCAL_ID


def _claim_executor_id(registry: Any) -> str:
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


def launch_engine(settings: Settings, repo: Path, *, serve_queue: bool = False) -> None:
    """Launch DBOS for `repo` unless it already runs on the same database the same way.

    `serve_queue`: this process takes runs from the queue (a worker). Either way it runs
    the runs it starts itself and the recovered runs DBOS hands it.
    """
    global _current
    url = settings.system_database_url(repo)
    if _current is not None and (_current.url, _current.serve_queue) == (url, serve_queue):
        return
    if _current is not None:
        shutdown_engine()
    settings.state_dir(repo).mkdir(parents=True, exist_ok=True)

    from dbos import DBOS, DBOSConfig

    import devbot.runs.plan_run  # registers the workflows before launch
    import devbot.runs.webhook_flow  # noqa: F401  (delivery and feedback workflows)
    from devbot.runs.state import store_for
    from devbot.runs.supervisor import Supervisor
    from devbot.runs.workers import WorkerRegistry

    _quiet_dbos_logging()
    registry = WorkerRegistry(store_for(settings, repo).engine, settings.worker_timeout_s)
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
            _preregister_queue(settings, url)
        DBOS(config=config)
        if not serve_queue:
            DBOS.listen_queues(SHARED_QUEUES)
        DBOS.launch()
        register_queue(settings, update=serve_queue)
    except BaseException:
        DBOS.destroy(destroy_registry=False)
        registry.release(executor)
        raise
    supervisor = Supervisor(settings, repo, registry, executor)
    supervisor.start()
    _current = _Engine(url, serve_queue, executor, supervisor)


def register_queue(settings: Settings, *, update: bool) -> Any:
    """The run queue: partitioned by repository (`repo_concurrency` runs of one repository
    at once over all workers), `worker_concurrency` runs per worker. Workers write their
    limits (the last worker to start sets them for all); submitters leave them alone."""
    from dbos import DBOS

    return DBOS.register_queue(
        QUEUE_NAME,
        worker_concurrency=settings.worker_concurrency,
        partition_concurrency=settings.repo_concurrency,
        polling_interval_sec=settings.queue_poll_s,
        on_conflict="always_update" if update else "never_update",
    )


def _preregister_queue(settings: Settings, url: str) -> None:
    """Write the worker's queue limits before DBOS's queue thread first reads them, so the
    first poll already obeys them (and does not wait a second for a queue it never saw)."""
    from dbos import DBOS, DBOSClient

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


def shutdown_engine() -> None:
    """Stop DBOS so the next launch (another repo, another test) starts clean; our worker
    row goes, so another process takes our unfinished runs over at once."""
    global _current
    if _current is None:
        return
    from dbos import DBOS

    engine, _current = _current, None
    engine.supervisor.stop()
    DBOS.destroy(destroy_registry=False)
    engine.supervisor.registry.release(engine.executor_id)


def ensure_engine(settings: Settings, repo: Path) -> None:
    """Launch DBOS (as a submitter) unless it already runs on this repo's database."""
    if _current is not None and _current.url == settings.system_database_url(repo):
        return
    launch_engine(settings, repo)


def current_registry() -> Any:
    """The worker registry of the launched engine (raises when DBOS is not launched)."""
    if _current is None:
        raise RuntimeError("the durable-run engine is not launched")
    return _current.supervisor.registry
