"""Run records on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbot.runs.state.store import RunNotFound, RunRecord, RunStore


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")


def record(run_id: str, plan: str = "ai-plans/p.md", sha: str = "s1") -> RunRecord:
    return RunRecord(id=run_id, kind="plan", repo="/r", plan_path=plan, plan_sha=sha)


def test_create_is_idempotent_and_update_changes_fields(store: RunStore) -> None:
    store.create(record("261124-a-1"))
    store.update("261124-a-1", status="running", steps=3)
    store.create(record("261124-a-1"))  # a replayed step must not reset the record
    got = store.get("261124-a-1")
    assert (got.status, got.steps) == ("running", 3)


def test_get_by_unique_prefix_and_ambiguity(store: RunStore) -> None:
    store.create(record("261124-alpha-1"))
    store.create(record("261124-beta-1"))
    assert store.get("261124-al").id == "261124-alpha-1"
    with pytest.raises(RunNotFound, match="ambiguous"):
        store.get("261124-")
    with pytest.raises(RunNotFound, match="no run"):
        store.get("nope")


def test_find_for_plan_matches_path_and_content(store: RunStore) -> None:
    store.create(record("r1", sha="old"))
    assert store.find_for_plan("/r", "ai-plans/p.md", "old") is not None
    assert store.find_for_plan("/r", "ai-plans/p.md", "new") is None
    assert store.find_for_plan("/other", "ai-plans/p.md", "old") is None


def test_events_are_ordered_and_replays_replace_not_duplicate(store: RunStore) -> None:
    store.add_event("r1", 1, {"kind": "action"})
    store.add_event("r1", 0, {"kind": "model"})
    store.add_event("r1", 1, {"kind": "action", "again": True})
    assert store.events("r1") == [{"kind": "model"}, {"kind": "action", "again": True}]


def test_unknown_fields_are_refused(store: RunStore) -> None:
    store.create(record("r1"))
    with pytest.raises(ValueError, match="unknown run fields"):
        store.update("r1", colour="red")
