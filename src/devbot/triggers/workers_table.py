"""`devbot workers`: the worker processes of one run database, as a table.

Each row is a process that beats in the worker table: its executor id, host and pid, the
devbot version it runs, the runs it executes, and how long ago it last beat. A worker that
stopped cleanly is gone from the table; one killed or cut off stays, `dead`, until a process
claims its id again.
"""

from __future__ import annotations

import time
from pathlib import Path

from devbot.config import Settings
from devbot.runs.engine.workers import WorkerRegistry, WorkerRow
from devbot.runs.runtime import runs_database_url
from devbot.runs.state.store import RunStore

MAX_RUNS_SHOWN = 3


def list_workers(settings: Settings, checkout: Path | None) -> str:
    """The table, or "" when no worker ever beat here."""
    store = RunStore(runs_database_url(settings, settings.process_state_dir(checkout)))
    try:
        registry = WorkerRegistry(store.engine, settings.worker_timeout_s)
        rows = sorted(registry.all(), key=lambda row: row.executor_id)
        now = time.time()
        lines = [_line(row, registry.is_alive(row, now), now) for row in rows]
    finally:
        store.close()
    if not lines:
        return ""
    header = "{:<24} {:<6} {:<20} {:>8} {:<10} {:>5} {:>10}  runs".format(
        "id", "state", "host", "pid", "version", "runs", "heartbeat"
    )
    return "\n".join([header, *lines])


def _line(row: WorkerRow, alive: bool, now: float) -> str:
    runs = row.in_flight
    shown = " ".join(runs[:MAX_RUNS_SHOWN]) + (" ..." if len(runs) > MAX_RUNS_SHOWN else "")
    beat = f"{max(0.0, now - row.beat_at):.1f}s ago"
    state = "alive" if alive else "dead"
    return (
        f"{row.executor_id:<24} {state:<6} {row.host:<20} {row.pid:>8} "
        f"{row.version or '-':<10} {len(runs):>5} {beat:>10}  {shown or '-'}"
    )
