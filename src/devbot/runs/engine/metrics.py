"""What `/metrics` says, in the Prometheus text format (version 0.0.4), written here.

Fleet-wide figures are read from the database every process shares, so `devbot serve` and
each `devbot worker` give the same values for them (scrape one, or take `max` over
instances): queue depth, runs by kind and status, the run duration histogram, model tokens
and USD (counters: sums over every run recorded), stored webhook deliveries by status,
workers alive and dead with the runs each executes. Per-process figures carry the
`executor` label: this process's runs in flight, and in `devbot serve` its webhook answers
by outcome. A scrape costs a few aggregate queries, and their result is kept for
`CACHE_S`, so a flood of scrapes costs the database nothing more.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from devbot import __version__
from devbot.runs.engine.workers import WorkerRegistry
from devbot.runs.runtime import Runtime
from devbot.runs.state.checkpoints import checkpoints_table
from devbot.runs.state.inbox import deliveries_table
from devbot.runs.state.store import runs_table

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_S = 2.0
DURATION_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    """One metric: its name, kind (gauge, counter, histogram), help, and samples
    (suffix, labels, value)."""

    name: str
    kind: str
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((suffix, tuple(labels.items()), value))


def render(families: Iterable[Family]) -> str:
    """The exposition text of `families`."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            shown = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels)
            where = f"{{{shown}}}" if shown else ""
            lines.append(f"{family.name}{suffix}{where} {_number(value)}")
    return "\n".join(lines) + "\n"


class WebhookCounts:
    """The webhook answers of this process by outcome (`accepted`, `duplicate`, `ignored`,
    `bad_signature`, ...): kept by the server, shown by `/metrics`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome.replace(" ", "_")] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Metrics:
    """The exposition of one process, cached for `CACHE_S`."""

    def __init__(
        self,
        runtime: Runtime,
        registry: WorkerRegistry,
        executor_id: str,
        *,
        queue_depth: Callable[[], dict[str, int]],
        webhooks: WebhookCounts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime, self.registry, self.executor_id = runtime, registry, executor_id
        self.queue_depth, self.webhooks, self.clock = queue_depth, webhooks, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, str] | None = None

    def text(self) -> str:
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= CACHE_S:
                self._cached = (now, render(self.families()))
            return self._cached[1]

    def families(self) -> list[Family]:
        engine = self.runtime.store.engine
        info = Family("devbot_build_info", "gauge", "devbot's version in this process")
        info.add(1, version=__version__, executor=self.executor_id)
        depth = Family("devbot_queue_depth", "gauge", "runs waiting in each queue")
        for queue, waiting in sorted(self.queue_depth().items()):
            depth.add(waiting, queue=queue)
        in_flight = Family("devbot_process_runs_in_flight", "gauge", "runs this process executes")
        in_flight.add(len(self.runtime.runs_in_flight()), executor=self.executor_id)
        families = [info, depth, in_flight, *_run_families(engine), *self._worker_families()]
        families += _delivery_families(engine, self.webhooks, self.executor_id)
        return families

    def _worker_families(self) -> list[Family]:
        workers = Family("devbot_workers", "gauge", "worker processes by state")
        runs = Family("devbot_worker_runs_in_flight", "gauge", "runs each live worker executes")
        now = time.time()
        states: Counter[str] = Counter()
        for row in self.registry.all():
            alive = self.registry.is_alive(row, now)
            states["alive" if alive else "dead"] += 1
            if alive:
                runs.add(len(row.in_flight), worker=row.executor_id, host=row.host)
        for state in ("alive", "dead"):
            workers.add(states[state], state=state)
        return [workers, runs]


def _run_families(engine: sa.Engine) -> list[Family]:
    runs = Family("devbot_runs", "gauge", "runs recorded, by kind and status")
    tokens = Family("devbot_model_tokens_total", "counter", "model tokens over every run")
    usd = Family("devbot_model_cost_usd_total", "counter", "model cost in USD over every run")
    table = runs_table.c
    by_status = sa.select(table.kind, table.status, sa.func.count()).group_by(
        table.kind, table.status
    )
    totals = sa.select(
        sa.func.coalesce(sa.func.sum(table.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(table.completion_tokens), 0),
        sa.func.coalesce(sa.func.sum(table.cost_usd), 0.0),
    )
    with engine.begin() as conn:
        for kind, status, count in conn.execute(by_status):
            runs.add(count, kind=kind, status=status)
        prompt, completion, cost = conn.execute(totals).one()
        histogram = _durations(conn)
        kept = conn.execute(sa.select(sa.func.count()).select_from(checkpoints_table)).scalar()
    tokens.add(prompt, kind="prompt")
    tokens.add(completion, kind="completion")
    usd.add(cost)
    checkpoints = Family("devbot_workspace_checkpoints", "gauge", "runs with a kept worktree")
    checkpoints.add(kept or 0)
    return [runs, histogram, tokens, usd, checkpoints]


def _durations(conn: sa.Connection) -> Family:
    table = runs_table.c
    duration = table.finished_at - table.created_at
    columns = [sa.func.sum(sa.case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    query = (
        sa.select(table.kind, sa.func.count(), sa.func.sum(duration), *columns)
        .where(table.finished_at.is_not(None))
        .group_by(table.kind)
    )
    family = Family(
        "devbot_run_duration_seconds", "histogram", "time from a run's start to its end"
    )
    for kind, count, total, *cumulative in conn.execute(query):
        for bound, below in zip(DURATION_BUCKETS, cumulative, strict=True):
            family.add(below or 0, "_bucket", kind=kind, le=_number(bound))
        family.add(count, "_bucket", kind=kind, le="+Inf")
        family.add(total or 0.0, "_sum", kind=kind)
        family.add(count, "_count", kind=kind)
    return family


def _delivery_families(
    engine: sa.Engine, webhooks: WebhookCounts | None, executor_id: str
) -> list[Family]:
    stored = Family(
        "devbot_webhook_deliveries_stored",
        "gauge",
        "accepted webhook deliveries by what became of them",
    )
    query = sa.select(deliveries_table.c.status, sa.func.count()).group_by(
        deliveries_table.c.status
    )
    with engine.begin() as conn:
        for status, count in conn.execute(query):
            stored.add(count, status=status)
    families = [stored]
    if webhooks is not None:
        answered = Family(
            "devbot_webhook_deliveries_total", "counter", "webhook requests answered, by outcome"
        )
        for outcome, count in sorted(webhooks.snapshot().items()):
            answered.add(count, outcome=outcome, executor=executor_id)
        families.append(answered)
    return families


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
