"""DBOS lifecycle: one durable-execution engine per process, pointed at the repo's database.

DBOS is a process-wide singleton; `launch_engine` configures and launches it once, with a
pinned application version (so a deploy does not strand pending runs) and a stable executor
id (so a restarted process recovers its own unfinished runs).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from devbot import __version__
from devbot.config import Settings

APP_NAME = "devbot"
APPLICATION_VERSION = f"devbot-{__version__}"

_launched_url: str | None = None


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


def executor_id() -> str:
    return os.environ.get("DEVBOT_WORKER_ID", "local")


def launch_engine(settings: Settings, repo: Path) -> None:
    """Configure and launch DBOS for `repo` unless it already runs on the same database."""
    global _launched_url
    url = settings.system_database_url(repo)
    if _launched_url == url:
        return
    if _launched_url is not None:
        shutdown_engine()
    settings.state_dir(repo).mkdir(parents=True, exist_ok=True)

    from dbos import DBOS, DBOSConfig

    import devbot.runs.plan_run  # noqa: F401  (registers the workflows before launch)

    _quiet_dbos_logging()
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": url,
        "application_version": APPLICATION_VERSION,
        "executor_id": executor_id(),
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    }
    DBOS(config=config)
    DBOS.launch()
    _launched_url = url


def shutdown_engine() -> None:
    """Stop DBOS so the next launch (another repo, another test) starts clean."""
    global _launched_url
    if _launched_url is None:
        return
    from dbos import DBOS

    DBOS.destroy(destroy_registry=False)
    _launched_url = None
