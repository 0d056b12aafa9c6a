"""Workspace checkpoints: a run's worktree, kept in the run database so another machine can
go on with it.

One row per run, replaced after each step that changed the worktree and deleted when the
run ends: the branch (or "" for a detached HEAD), HEAD, the snapshot commit holding every
file of the worktree (untracked ones too) on top of HEAD, the commit all of it builds on
(fetched from the remote at the run's start), and a thin git pack of every object between
the two — the run's own commits and the snapshot, deltas against what the remote has.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import sqlalchemy as sa

from devbot.runs.state.store import create_tables

_metadata = sa.MetaData()

checkpoints_table = sa.Table(
    "devbot_checkpoints",
    _metadata,
    sa.Column("run_id", sa.String(80), primary_key=True),
    sa.Column("branch", sa.Text, nullable=False),
    sa.Column("base", sa.String(64), nullable=False),
    sa.Column("head", sa.String(64), nullable=False),
    sa.Column("snapshot", sa.String(64), nullable=False),
    sa.Column("tree", sa.String(64), nullable=False),
    sa.Column("pack", sa.LargeBinary, nullable=False),
    sa.Column("taken_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Checkpoint:
    run_id: str
    branch: str
    base: str
    head: str
    snapshot: str
    tree: str
    pack: bytes
    taken_at: float = 0.0


_FIELDS = [f.name for f in fields(Checkpoint)]


class Checkpoints:
    """Reads and writes checkpoints in the database of the run records."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(_metadata, engine)

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the run's checkpoint with this one, in one transaction."""
        values = {name: getattr(checkpoint, name) for name in _FIELDS}
        values["taken_at"] = checkpoint.taken_at or time.time()
        with self.engine.begin() as conn:
            conn.execute(
                checkpoints_table.delete().where(checkpoints_table.c.run_id == checkpoint.run_id)
            )
            conn.execute(checkpoints_table.insert().values(**values))

    def get(self, run_id: str) -> Checkpoint | None:
        query = sa.select(checkpoints_table).where(checkpoints_table.c.run_id == run_id)
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else Checkpoint(**dict(row._mapping))

    def delete(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(checkpoints_table.delete().where(checkpoints_table.c.run_id == run_id))

    def run_ids(self) -> list[str]:
        with self.engine.begin() as conn:
            return [row[0] for row in conn.execute(sa.select(checkpoints_table.c.run_id))]
