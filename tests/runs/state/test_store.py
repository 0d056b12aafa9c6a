"""Run records on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from devbot.runs.state.store import RunFilter, RunNotFound, RunRecord, RunStore


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


def _runs(store: RunStore) -> None:
    for n, (repo, kind, status) in enumerate(
        [
            ("/a", "plan", "completed"),
            ("/b", "feedback", "failed"),
            ("/a", "plan", "running"),
            ("/a", "issue", "completed"),
            ("/b", "plan", "completed"),
        ]
    ):
        store.create(
            RunRecord(
                id=f"run-{n}",
                kind=kind,
                repo=repo,
                plan_path="p.md",
                plan_sha="s",
                status=status,
                cost_usd=0.5 * n,
                created_at=1000.0 + n,
            )
        )


def test_page_is_newest_first_filtered_and_counted(store: RunStore) -> None:
    _runs(store)
    records, total = store.page(RunFilter(), offset=0, limit=2)
    assert ([r.id for r in records], total) == (["run-4", "run-3"], 5)
    records, total = store.page(RunFilter(), offset=4, limit=2)
    assert ([r.id for r in records], total) == (["run-0"], 5)
    records, total = store.page(RunFilter(repo="/a", status="completed"), offset=0, limit=10)
    assert ([r.id for r in records], total) == (["run-3", "run-0"], 2)
    records, total = store.page(RunFilter(kind="feedback"), offset=0, limit=10)
    assert ([r.id for r in records], total) == (["run-1"], 1)
    assert store.page(RunFilter(repo="/nowhere"), offset=0, limit=10) == ([], 0)


def test_distinct_values_and_usage_since(store: RunStore) -> None:
    _runs(store)
    assert store.distinct("repo") == ["/a", "/b"]
    assert store.distinct("kind") == ["feedback", "issue", "plan"]
    usage = store.usage_since(1003.0)
    assert [(u.repo, u.status, u.cost_usd) for u in usage] == [
        ("/a", "completed", 1.5),
        ("/b", "completed", 2.0),
    ]


def test_events_after_returns_only_newer_events_with_their_seq(store: RunStore) -> None:
    for seq in range(4):
        store.add_event("r1", seq, {"kind": "model", "n": seq})
    store.add_event("r2", 0, {"kind": "model"})
    assert [seq for seq, _ in store.events_after("r1", 1)] == [2, 3]
    assert store.events_after("r1", 3) == []
    assert store.events_after("r1", -1, limit=1) == [(0, {"kind": "model", "n": 0})]


def test_an_older_database_gets_the_newest_first_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE devbot_runs (id VARCHAR(80) PRIMARY KEY, kind TEXT, "
                "repo TEXT, plan_path TEXT, plan_sha TEXT, title TEXT, status TEXT, "
                "exit_status TEXT, message TEXT, branch TEXT, base_branch TEXT, "
                "head_sha TEXT, pr_url TEXT, report_path TEXT, steps INTEGER, "
                "model_calls INTEGER, prompt_tokens INTEGER, "
                "completion_tokens INTEGER, cost_usd FLOAT, created_at FLOAT, "
                "finished_at FLOAT)"
            )
        )
    RunStore(url).close()
    assert "devbot_runs_created_at" in {
        i["name"] for i in sa.inspect(engine).get_indexes("devbot_runs")
    }
