"""Reports are built from git's facts; the model only contributes prose."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from devbot.plans.report import parse_report, render_report
from devbot.runs.flows.report import RunFacts, build_report, describe_change
from devbot.vcs.git import Change

FACTS = RunFacts(
    title="Add slugify",
    report_path="ai-plans/261124__REPORT__slugify.md",
    plan_path="ai-plans/261124__PLAN__slugify.md",
    date=dt.date(2026, 11, 24),
    tags=("utils",),
    status="completed",
    summary="Added slugify.\n- `slugify` lowercases and joins words with dashes.\n- Tested it.",
    exit_status="submitted",
    exit_message="the agent finished the task",
    model="scripted/x.yaml",
    protocol="text",
    sandbox="local",
    steps=3,
    model_calls=3,
    prompt_tokens=1200,
    completion_tokens=300,
    cost_usd=0.0123,
    branch="devbot/slugify",
    base_branch="main",
    testing_notes=("`pytest -q` passed.",),
)
CHANGES = [
    Change("A", "tests/test_slugify.py", added_lines=8),
    Change("M", "utils.py", added_lines=6, deleted_lines=1),
    Change("D", "old.py", deleted_lines=1),
]


def test_lists_and_counts_come_from_the_diff() -> None:
    report = parse_report(render_report(build_report(FACTS, CHANGES)))
    assert [c.path for c in report.created] == ["tests/test_slugify.py"]
    assert [c.path for c in report.modified] == ["utils.py"]
    assert [c.path for c in report.deleted] == ["old.py"]
    assert report.status == "completed"
    assert report.summary == "Added slugify."
    assert report.key_changes == ["`slugify` lowercases and joins words with dashes.", "Tested it."]
    assert report.testing_notes == ["`pytest -q` passed."]


def test_a_failed_run_says_why_first() -> None:
    failed = replace(
        FACTS, status="failed", exit_status="step_limit", exit_message="30 steps", summary=""
    )
    report = build_report(failed, [])
    assert report.summary.startswith("Run failed: 30 steps")
    assert any("devbot/slugify" in step for step in report.next_steps)
    assert report.key_changes == []


def test_change_descriptions() -> None:
    assert describe_change(Change("A", "a", added_lines=1)) == "new file, 1 line"
    assert describe_change(Change("A", "b", old_path="a", added_lines=2)) == (
        "new file, 2 lines, moved from `a`"
    )
    assert describe_change(Change("D", "a", deleted_lines=3)) == "deleted (3 lines)"
    assert describe_change(Change("M", "a", added_lines=2, deleted_lines=1)) == "+2 / -1 lines"
    assert describe_change(Change("A", "logo.png", binary=True)) == "new binary file"
