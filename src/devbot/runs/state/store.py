"""Run records and their trajectories: what `devbot runs` lists and shows.

DBOS keeps the durable execution state; this store keeps what people ask about a run
(plan, branch, status, tokens, cost) in the same database: SQLite under `.devbot/` by
default, the PostgreSQL of `DEVBOT_DATABASE_URL` when workers share one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from devbot.outward import outward, outward_data

_metadata = sa.MetaData()

runs_table = sa.Table(
    "devbot_runs",
    _metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("repo", sa.Text, nullable=False),
    sa.Column("plan_path", sa.Text, nullable=False),
    sa.Column("plan_sha", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("exit_status", sa.String(30), nullable=False, default=""),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("branch", sa.Text, nullable=False, default=""),
    sa.Column("base_branch", sa.Text, nullable=False, default=""),
    sa.Column("head_sha", sa.String(64), nullable=False, default=""),
    sa.Column("pr_url", sa.Text, nullable=False, default=""),
    sa.Column("report_path", sa.Text, nullable=False, default=""),
    sa.Column("steps", sa.Integer, nullable=False, default=0),
    sa.Column("model_calls", sa.Integer, nullable=False, default=0),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
)
sa.Index("devbot_runs_created_at", runs_table.c.created_at)

events_table = sa.Table(
    "devbot_run_events",
    _metadata,
    sa.Column("run_id", sa.String(80), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("event", sa.Text, nullable=False),
)

cancel_requests_table = sa.Table(
    "devbot_cancel_requests",
    _metadata,
    sa.Column("run_id", sa.String(80), primary_key=True),
    sa.Column("requested_at", sa.Float, nullable=False),
)

ACTIVE_STATUSES = ("queued", "running", "interrupted")


@dataclass(frozen=True)
class RunFilter:
    """Which runs a listing shows: None matches any value."""

    status: str | None = None
    repo: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class RunUsage:
    """What totals are made of: one run's start, end, repository, status and cost."""

    created_at: float
    finished_at: float | None
    repo: str
    status: str
    cost_usd: float


@dataclass
class RunRecord:
    id: str
    kind: str
    repo: str
    plan_path: str
    plan_sha: str
    title: str = ""
    status: str = "queued"
    exit_status: str = ""
    message: str = ""
    branch: str = ""
    base_branch: str = ""
    head_sha: str = ""
    pr_url: str = ""
    report_path: str = ""
    steps: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    created_at: float = 0.0
    finished_at: float | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.created_at


_RECORD_FIELDS = [f.name for f in fields(RunRecord)]


class RunStateError(RuntimeError):
    """The run is not in a state where this operation makes sense; the message says why."""


class RunNotFound(LookupError):
    pass


_TEXT_FIELDS = ("title", "message")


def _gated(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: outward(v) if k in _TEXT_FIELDS and isinstance(v, str) else v for k, v in values.items()
    }


class RunStore:
    """Reads and writes run records; every write is idempotent so replayed steps are harmless."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(_with_driver(url))
        create_tables(_metadata, self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def create(self, record: RunRecord) -> None:
        """Insert the record unless a record with its id exists already. Its text fields,
        like every text stored here, pass the outward gate."""
        if not record.created_at:
            record.created_at = time.time()
        with self._tx() as conn:
            exists = conn.execute(
                sa.select(runs_table.c.id).where(runs_table.c.id == record.id)
            ).first()
            if exists is None:
                conn.execute(runs_table.insert().values(**_gated(_as_row(record))))

    def create_once(self, record: RunRecord) -> bool:
        """Insert the record; False when a record with its id exists already (also one
        another process inserted at the same moment)."""
        try:
            with self._tx() as conn:
                conn.execute(runs_table.insert().values(**_gated(_as_row(record))))
        except sa.exc.IntegrityError:
            return False
        return True

    def update(self, run_id: str, **values: Any) -> None:
        unknown = set(values) - set(_RECORD_FIELDS)
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        with self._tx() as conn:
            conn.execute(
                runs_table.update().where(runs_table.c.id == run_id).values(**_gated(values))
            )

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, or the only run whose id starts with it."""
        with self._tx() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
            if row is None:
                rows = conn.execute(
                    sa.select(runs_table).where(runs_table.c.id.startswith(run_id, autoescape=True))
                ).all()
                if len(rows) > 1:
                    ids = ", ".join(r.id for r in rows)
                    raise RunNotFound(f"run id {run_id!r} is ambiguous: {ids}")
                row = rows[0] if rows else None
        if row is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        return RunRecord(**dict(row._mapping))

    def recent(self, repos: tuple[str, ...] | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs first, of the repositories `repos` names (keys) or of all."""
        query = sa.select(runs_table).order_by(runs_table.c.created_at.desc()).limit(limit)
        if repos is not None:
            query = query.where(runs_table.c.repo.in_(repos))
        with self._tx() as conn:
            return [RunRecord(**dict(row._mapping)) for row in conn.execute(query)]

    def page(self, where: RunFilter, offset: int, limit: int) -> tuple[list[RunRecord], int]:
        """One page of the runs `where` matches, newest first, and how many it matches."""
        conditions = [
            getattr(runs_table.c, name) == value
            for name, value in vars(where).items()
            if value is not None
        ]
        query = (
            sa.select(runs_table)
            .where(*conditions)
            .order_by(runs_table.c.created_at.desc(), runs_table.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(runs_table).where(*conditions)
        with self._tx() as conn:
            records = [RunRecord(**dict(row._mapping)) for row in conn.execute(query)]
            return records, int(conn.execute(count).scalar_one())

    def distinct(self, column: str) -> list[str]:
        """The values of `column` (repo, kind, status) that runs have, sorted."""
        field = getattr(runs_table.c, column)
        with self._tx() as conn:
            return sorted(row[0] for row in conn.execute(sa.select(field).distinct()))

    def usage_since(self, since: float) -> list[RunUsage]:
        """The figures of every run started at `since` or later, oldest first."""
        c = runs_table.c
        query = (
            sa.select(c.created_at, c.finished_at, c.repo, c.status, c.cost_usd)
            .where(c.created_at >= since)
            .order_by(c.created_at)
        )
        with self._tx() as conn:
            return [RunUsage(*row) for row in conn.execute(query)]

    def find_for_plan(self, repo: str, plan_path: str, plan_sha: str) -> RunRecord | None:
        """A run already made for this exact plan content, if any."""
        query = (
            sa.select(runs_table)
            .where(runs_table.c.repo == repo)
            .where(runs_table.c.plan_path == plan_path)
            .where(runs_table.c.plan_sha == plan_sha)
            .order_by(runs_table.c.created_at.desc())
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRecord(**dict(row._mapping))

    def previous_run_for_plan(self, repo: str, plan_path: str, exclude_id: str) -> RunRecord | None:
        """The newest other run of the same plan file that got as far as having a branch."""
        query = (
            sa.select(runs_table)
            .where(runs_table.c.repo == repo)
            .where(runs_table.c.plan_path == plan_path)
            .where(runs_table.c.id != exclude_id)
            .where(runs_table.c.branch != "")
            .order_by(runs_table.c.created_at.desc())
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRecord(**dict(row._mapping))

    def runs_of(self, repo: str, kind: str, plan_path: str) -> list[RunRecord]:
        """Every run of `kind` made for `plan_path` (for a CI fix: the pull request), oldest
        first."""
        query = (
            sa.select(runs_table)
            .where(runs_table.c.repo == repo)
            .where(runs_table.c.kind == kind)
            .where(runs_table.c.plan_path == plan_path)
            .order_by(runs_table.c.created_at)
        )
        with self._tx() as conn:
            return [RunRecord(**dict(row._mapping)) for row in conn.execute(query)]

    def pushed(self, repo: str, branch: str, sha: str) -> bool:
        """Whether a run of devbot pushed `sha` to `branch` of `repo`."""
        query = (
            sa.select(runs_table.c.id)
            .where(runs_table.c.repo == repo)
            .where(runs_table.c.branch == branch)
            .where(runs_table.c.head_sha == sha)
            .limit(1)
        )
        with self._tx() as conn:
            return conn.execute(query).first() is not None

    def active(self) -> list[RunRecord]:
        """Runs not finished yet (queued or running), of every repository in this database."""
        query = sa.select(runs_table).where(runs_table.c.status.in_(ACTIVE_STATUSES))
        with self._tx() as conn:
            return [RunRecord(**dict(row._mapping)) for row in conn.execute(query)]

    def request_cancel(self, run_id: str) -> None:
        """Ask the run to stop at its next step boundary; asking twice changes nothing."""
        with self._tx() as conn:
            exists = conn.execute(
                sa.select(cancel_requests_table.c.run_id).where(
                    cancel_requests_table.c.run_id == run_id
                )
            ).first()
            if exists is None:
                conn.execute(
                    cancel_requests_table.insert().values(run_id=run_id, requested_at=time.time())
                )

    def cancel_requested(self, run_id: str) -> bool:
        query = sa.select(cancel_requests_table.c.run_id).where(
            cancel_requests_table.c.run_id == run_id
        )
        with self._tx() as conn:
            return conn.execute(query).first() is not None

    def add_event(self, run_id: str, seq: int, event: dict[str, Any]) -> None:
        """Store trajectory event `seq` (every text in it through the outward gate); a
        replayed event with the same seq replaces itself."""
        payload = json.dumps(outward_data(event), ensure_ascii=False, default=str)
        with self._tx() as conn:
            conn.execute(
                events_table.delete()
                .where(events_table.c.run_id == run_id)
                .where(events_table.c.seq == seq)
            )
            conn.execute(events_table.insert().values(run_id=run_id, seq=seq, event=payload))

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return [event for _, event in self.events_after(run_id, -1)]

    def events_after(
        self, run_id: str, after: int, limit: int | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        """(seq, event) of the run's events after `after`, in order: what a live view
        polls for (the primary key serves the lookup)."""
        query = (
            sa.select(events_table.c.seq, events_table.c.event)
            .where(events_table.c.run_id == run_id)
            .where(events_table.c.seq > after)
            .order_by(events_table.c.seq)
            .limit(limit)
        )
        with self._tx() as conn:
            return [(row.seq, json.loads(row.event)) for row in conn.execute(query)]


def _as_row(record: RunRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def _with_driver(url: str) -> str:
    """`postgresql://...` as DBOS takes it, spelled with the psycopg (3) driver DBOS uses."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """Create missing tables and indexes (also an index added to a table made by an older
    devbot), and add the columns a newer devbot added to a table an older one created (each
    with its server default); several workers starting at once may race to create them."""
    for attempt in range(5):
        try:
            metadata.create_all(engine)
            _add_missing_columns(metadata, engine)
            for table in metadata.tables.values():
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            return
        except (sa.exc.ProgrammingError, sa.exc.IntegrityError, sa.exc.OperationalError):
            if attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


def _add_missing_columns(metadata: sa.MetaData, engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            default = column.server_default
            text = f" DEFAULT '{default.arg}'" if isinstance(default, sa.DefaultClause) else ""
            statement = f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{text}'
            with engine.begin() as conn:
                conn.execute(sa.text(statement))
