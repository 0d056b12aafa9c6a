"""Which devbot processes (executors) are alive: a heartbeat row per executor id.

DBOS recovers a process's unfinished workflows only when a process with the same executor id
starts. devbot also needs to know when an executor is gone for good, so another worker can
take its runs over: every process that runs workflows beats here every few seconds, and an
executor whose beat is older than `worker_timeout_s` (or whose process is gone, on this
host) is dead. Each beat also says which runs the process is executing, and the row names
the devbot version it runs: `devbot workers` lists them. The table lives in the run-record
database, which is DBOS's database when `DEVBOT_DATABASE_URL` is set.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass

import sqlalchemy as sa

from devbot import __version__
from devbot.runs.state.store import create_tables

_metadata = sa.MetaData()

workers_table = sa.Table(
    "devbot_workers",
    _metadata,
    sa.Column("executor_id", sa.String(120), primary_key=True),
    sa.Column("token", sa.String(40), nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("beat_at", sa.Float, nullable=False),
    sa.Column("version", sa.String(40), nullable=False, server_default=""),
    sa.Column("runs", sa.Text, nullable=False, server_default=""),
)
MAX_RUNS_TEXT = 2000

HOST = socket.gethostname()


@dataclass(frozen=True)
class WorkerRow:
    executor_id: str
    token: str
    host: str
    pid: int
    started_at: float
    beat_at: float
    version: str = ""
    runs: str = ""
    """The ids of the runs it executes, space-separated."""

    @property
    def in_flight(self) -> list[str]:
        return self.runs.split()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerRegistry:
    """Claims, beats and releases executor ids; tells live executors from dead ones."""

    def __init__(self, engine: sa.Engine, timeout_s: float) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self.token = secrets.token_hex(8)
        create_tables(_metadata, engine)

    def is_alive(self, row: WorkerRow | None, now: float | None = None) -> bool:
        """A row beats recently and, when on this host, its process still exists."""
        if row is None:
            return False
        if (now or time.time()) - row.beat_at > self.timeout_s:
            return False
        return row.host != HOST or _pid_alive(row.pid)

    def get(self, executor_id: str) -> WorkerRow | None:
        query = sa.select(workers_table).where(workers_table.c.executor_id == executor_id)
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else WorkerRow(**dict(row._mapping))

    def all(self) -> list[WorkerRow]:
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(workers_table)).all()
        return [WorkerRow(**dict(row._mapping)) for row in rows]

    def claim(self, executor_id: str) -> bool:
        """Take `executor_id` for this process unless a live process holds it."""
        now = time.time()
        values = {
            "token": self.token,
            "host": HOST,
            "pid": os.getpid(),
            "started_at": now,
            "beat_at": now,
            "version": __version__,
            "runs": "",
        }
        current = self.get(executor_id)
        if current is not None and current.token != self.token and self.is_alive(current, now):
            return False
        with self.engine.begin() as conn:
            if current is None:
                try:
                    conn.execute(workers_table.insert().values(executor_id=executor_id, **values))
                    return True
                except sa.exc.IntegrityError:
                    return False
            # only replace the row we saw, so two claimants of a dead id cannot both win
            done = conn.execute(
                workers_table.update()
                .where(workers_table.c.executor_id == executor_id)
                .where(workers_table.c.token == current.token)
                .where(workers_table.c.beat_at == current.beat_at)
                .values(**values)
            )
            return done.rowcount == 1

    def beat(self, executor_id: str, runs: list[str] | None = None) -> bool:
        """Refresh our beat and the runs we execute; False when another process took the id
        over meanwhile."""
        text = " ".join(runs or [])[:MAX_RUNS_TEXT]
        with self.engine.begin() as conn:
            done = conn.execute(
                workers_table.update()
                .where(workers_table.c.executor_id == executor_id)
                .where(workers_table.c.token == self.token)
                .values(beat_at=time.time(), runs=text)
            )
        return done.rowcount == 1

    def release(self, executor_id: str) -> None:
        """Forget our row on a clean stop, so our unfinished runs are taken over at once."""
        with self.engine.begin() as conn:
            conn.execute(
                workers_table.delete()
                .where(workers_table.c.executor_id == executor_id)
                .where(workers_table.c.token == self.token)
            )
