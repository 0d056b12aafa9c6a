"""Per-PR feedback bookkeeping in the run database: which run is waiting, what is addressed.

At most one feedback run per PR is `waiting` (a partial unique index says so): comments
that arrive while it waits join it; once it starts `working` it takes its snapshot, and the
next comment schedules a new waiting run, which the per-PR queue starts after this one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

_metadata = sa.MetaData()

feedback_runs_table = sa.Table(
    "devbot_feedback_runs",
    _metadata,
    sa.Column("run_id", sa.String(100), primary_key=True),
    sa.Column("repo", sa.Text, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("first_delivery", sa.String(100), nullable=False),
    sa.Column("trigger_at", sa.Float, nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
)
sa.Index(
    "devbot_feedback_one_waiting",
    feedback_runs_table.c.repo,
    feedback_runs_table.c.number,
    unique=True,
    sqlite_where=feedback_runs_table.c.state == "waiting",
    postgresql_where=feedback_runs_table.c.state == "waiting",
)

addressed_table = sa.Table(
    "devbot_feedback_addressed",
    _metadata,
    sa.Column("repo", sa.String(400), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("comment_id", sa.BigInteger, primary_key=True),
    sa.Column("run_id", sa.String(100), nullable=False),
    sa.Column("sha", sa.String(64), nullable=False),
    sa.Column("addressed_at", sa.Float, nullable=False),
)

pending_table = sa.Table(
    "devbot_feedback_pending",
    _metadata,
    sa.Column("repo", sa.String(400), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("comment_id", sa.BigInteger, primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class FeedbackRunRow:
    run_id: str
    repo: str
    number: int
    state: str
    first_delivery: str
    trigger_at: float
    deliveries: int


class FeedbackState:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)

    def schedule(
        self, repo: str, number: int, delivery_id: str, received_at: float, comment_id: int
    ) -> str | None:
        """The id of a new waiting run to start, or None when a waiting run takes this one.

        Safe to repeat: a delivery that already created a run gets that run's id again.
        """
        self._note_pending(repo, number, comment_id, received_at)
        runs = feedback_runs_table
        for _ in range(20):
            with self.engine.begin() as conn:
                mine = conn.execute(
                    sa.select(runs.c.run_id).where(runs.c.first_delivery == delivery_id)
                ).first()
                if mine is not None:
                    return str(mine.run_id)
                waiting = conn.execute(
                    sa.select(runs)
                    .where(runs.c.repo == repo, runs.c.number == number)
                    .where(runs.c.state == "waiting")
                ).first()
                if waiting is not None:
                    conn.execute(
                        runs.update()
                        .where(runs.c.run_id == waiting.run_id)
                        .values(
                            trigger_at=max(waiting.trigger_at, received_at),
                            deliveries=waiting.deliveries + 1,
                        )
                    )
                    return None
            run_id = f"feedback-{number}-{secrets.token_hex(4)}"
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        runs.insert().values(
                            run_id=run_id,
                            repo=repo,
                            number=number,
                            state="waiting",
                            first_delivery=delivery_id,
                            trigger_at=received_at,
                            deliveries=1,
                            created_at=time.time(),
                        )
                    )
                return run_id
            except sa.exc.IntegrityError:
                continue  # another delivery created the waiting run first: join it
        raise RuntimeError(f"could not schedule feedback for PR #{number}")

    def quiet_for(self, run_id: str) -> float:
        """Seconds since the newest delivery this (waiting) run took in."""
        runs = feedback_runs_table
        with self.engine.begin() as conn:
            trigger_at = conn.execute(
                sa.select(runs.c.trigger_at).where(runs.c.run_id == run_id)
            ).scalar_one()
        return time.time() - float(trigger_at)

    def begin(self, run_id: str) -> FeedbackRunRow:
        """Move the run from waiting to working; later comments go to the next run."""
        runs = feedback_runs_table
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.state == "waiting")
                .values(state="working")
            )
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).one()
        return FeedbackRunRow(
            row.run_id,
            row.repo,
            row.number,
            row.state,
            row.first_delivery,
            row.trigger_at,
            row.deliveries,
        )

    def finish(self, run_id: str, state: str) -> None:
        runs = feedback_runs_table
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(state=state, finished_at=time.time())
            )

    def runs_for(self, repo: str, number: int) -> list[FeedbackRunRow]:
        runs = feedback_runs_table
        query = (
            sa.select(runs)
            .where(runs.c.repo == repo, runs.c.number == number)
            .order_by(runs.c.created_at)
        )
        with self.engine.begin() as conn:
            return [
                FeedbackRunRow(
                    r.run_id,
                    r.repo,
                    r.number,
                    r.state,
                    r.first_delivery,
                    r.trigger_at,
                    r.deliveries,
                )
                for r in conn.execute(query)
            ]

    def _note_pending(self, repo: str, number: int, comment_id: int, received_at: float) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    pending_table.insert().values(
                        repo=repo, number=number, comment_id=comment_id, received_at=received_at
                    )
                )
        except sa.exc.IntegrityError:
            pass

    def received(self, repo: str, number: int) -> dict[int, float]:
        """When each comment of the PR that came through a delivery was received."""
        table = pending_table
        query = sa.select(table.c.comment_id, table.c.received_at).where(
            table.c.repo == repo, table.c.number == number
        )
        with self.engine.begin() as conn:
            return {int(row.comment_id): float(row.received_at) for row in conn.execute(query)}

    def addressed(self, repo: str, number: int) -> set[int]:
        table = addressed_table
        query = sa.select(table.c.comment_id).where(table.c.repo == repo, table.c.number == number)
        with self.engine.begin() as conn:
            return {int(row.comment_id) for row in conn.execute(query)}

    def mark_addressed(
        self, repo: str, number: int, comment_ids: list[int], run_id: str, sha: str
    ) -> None:
        known = self.addressed(repo, number)
        rows = [
            {
                "repo": repo,
                "number": number,
                "comment_id": comment_id,
                "run_id": run_id,
                "sha": sha,
                "addressed_at": time.time(),
            }
            for comment_id in comment_ids
            if comment_id not in known
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(addressed_table.insert(), rows)
