"""Webhook deliveries, persisted before they are answered: the dedupe key and the outbox.

A delivery is inserted once (its `X-GitHub-Delivery` id is the primary key, so a replay is
refused by the database itself) as `pending`; a dispatcher then starts its durable workflow
and marks it `dispatched`. A crash between the two leaves it `pending`, and the next
dispatcher pass starts it (the workflow id is the delivery id, so never twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from devbot.runs.requests import FeedbackTrigger, Trigger, trigger_from_json, trigger_to_json

_metadata = sa.MetaData()

deliveries_table = sa.Table(
    "devbot_webhook_deliveries",
    _metadata,
    sa.Column("delivery_id", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(60), nullable=False),
    sa.Column("action", sa.String(60), nullable=False, default=""),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)
_pending_index = sa.Index(
    "devbot_webhook_deliveries_status", deliveries_table.c.status, deliveries_table.c.received_at
)


UNSETTLED_LOOKED_AT = 500
"""Unsettled deliveries looked at, newest first (a backlog past it is not waited for)."""

Item = tuple[str, str, str, Trigger]
"""(delivery id, event, action, trigger) of one accepted delivery."""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    action: str
    received_at: float
    status: str
    trigger: Trigger
    note: str = ""


class Inbox:
    """Reads and writes deliveries in the database of the run records."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)

    def record(self, delivery_id: str, event: str, action: str, trigger: Trigger) -> bool:
        """Store a new delivery as pending; False (and nothing written) for a known id."""
        row = _row(delivery_id, event, action, trigger)
        try:
            with self.engine.begin() as conn:
                conn.execute(deliveries_table.insert().values(**row))
        except sa.exc.IntegrityError:
            return False
        return True

    def record_many(self, items: list[Item]) -> list[bool]:
        """`record` for a batch in one transaction (one commit for many deliveries): for
        each (delivery_id, event, action, trigger), whether it was new."""
        ids = [item[0] for item in items]
        rows: list[dict[str, Any]] = []
        fresh: list[bool] = []
        try:
            with self.engine.begin() as conn:
                known = {
                    row[0]
                    for row in conn.execute(
                        sa.select(deliveries_table.c.delivery_id).where(
                            deliveries_table.c.delivery_id.in_(set(ids))
                        )
                    )
                }
                for delivery_id, event, action, trigger in items:
                    is_new = delivery_id not in known
                    fresh.append(is_new)
                    if is_new:
                        known.add(delivery_id)
                        rows.append(_row(delivery_id, event, action, trigger))
                if rows:
                    conn.execute(deliveries_table.insert(), rows)
        except sa.exc.IntegrityError:  # another process stored one meanwhile: go one by one
            return [self.record(*item) for item in items]
        return fresh

    def get(self, delivery_id: str) -> Delivery | None:
        query = sa.select(deliveries_table).where(deliveries_table.c.delivery_id == delivery_id)
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else _delivery(row)

    def pending(self, limit: int = 200) -> list[Delivery]:
        """The oldest deliveries whose workflow has not been started yet."""
        query = (
            sa.select(deliveries_table)
            .where(deliveries_table.c.status == "pending")
            .order_by(deliveries_table.c.received_at)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def unsettled_comments(self, number: int) -> set[int]:
        """The comments on pull request `number` whose deliveries are not settled yet
        (pending, or their workflow still going)."""
        query = (
            sa.select(deliveries_table.c.trigger)
            .where(deliveries_table.c.status.in_(("pending", "dispatched")))
            .order_by(deliveries_table.c.received_at.desc())
            .limit(UNSETTLED_LOOKED_AT)
        )
        with self.engine.begin() as conn:
            triggers = [trigger_from_json(row.trigger) for row in conn.execute(query)]
        return {
            t.comment.id for t in triggers if isinstance(t, FeedbackTrigger) and t.number == number
        }

    def mark(self, delivery_ids: list[str], status: str, note: str = "") -> None:
        if not delivery_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                deliveries_table.update()
                .where(deliveries_table.c.delivery_id.in_(delivery_ids))
                .values(status=status, note=note)
            )

    def ids(self) -> set[str]:
        """Every stored delivery id (benchmarks check nothing accepted was lost)."""
        with self.engine.begin() as conn:
            return {row[0] for row in conn.execute(sa.select(deliveries_table.c.delivery_id))}


def _row(delivery_id: str, event: str, action: str, trigger: Trigger) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "event": event,
        "action": action,
        "received_at": trigger.received_at,
        "status": "pending",
        "trigger": trigger_to_json(trigger),
        "note": "",
    }


def _delivery(row: sa.Row[Any]) -> Delivery:
    values = dict(row._mapping)
    values["trigger"] = trigger_from_json(values["trigger"])
    return Delivery(**values)
