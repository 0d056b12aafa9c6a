"""REPORT documents: the seed report parses, rendering keeps its layout, round trips hold."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from devbot.plans.report import FileChange, Report, ReportError, parse_report, render_report

SEED = Path(__file__).parent / "fixtures" / "251214__REPORT__autonomous_devops_agent.md"
SEED_TEXT = SEED.read_text(encoding="utf-8")


def sample() -> Report:
    return Report(
        filename="ai-plans/260102__REPORT__add_slugify.md",
        title='Report: Add "slugify" \\ helper',
        date=datetime.date(2026, 1, 2),
        plan_file="ai-plans/260102__PLAN__add_slugify.md",
        status="failed",
        created=[FileChange("slug.py", "The helper."), FileChange("tests/test_slug.py", "")],
        modified=[FileChange("utils.py", "Re-exports slugify: now public.")],
        deleted=[],
        tags=("report", "2024", "needs review", "a,b", "yes"),
        summary="First paragraph.\n\n# Not a heading\n\\# already escaped\nEnd.",
        key_changes=["**Slug**: added.", "Two lines\ncontinued here"],
        technical_decisions=[],
        testing_notes=["Ran `pytest -q`."],
        next_steps=["None yet", "Fix the tests."],
    )


def test_seed_report_fields() -> None:
    report = parse_report(SEED_TEXT)
    assert report.filename == "ai-plans/251214__REPORT__autonomous_devops_agent.md"
    assert report.title == "Report: Autonomous AI DevOps Agent Workflow"
    assert report.date == datetime.date(2025, 12, 14)
    assert report.plan_file == "ai-plans/251214__PLAN__autonomous_devops_agent.md"
    assert report.status == "completed"
    assert report.tags == ("report", "devops", "agent")
    assert report.summary.startswith("Successfully implemented the DevBot architecture.")
    assert [c.path for c in report.created][:3] == [
        "pyproject.toml",
        "agent/__init__.py",
        "agent/config.py",
    ]
    assert report.created[-1] == FileChange("README.md", "Project overview and usage instructions.")
    assert len(report.created) == 10
    assert report.modified == [] and report.deleted == []
    assert report.key_changes[2].endswith("(`WRITE_FILE <<<<...>>>>`).")
    assert len(report.technical_decisions) == 2
    assert len(report.testing_notes) == 3
    assert report.next_steps[-1] == "Add persistence for agent state."


def test_render_keeps_the_seed_layout() -> None:
    """Rendering the parsed seed gives the seed back, except the two things devbot computes:
    the created count (the seed says 9 but lists 10) and the empty groups it writes out."""
    expected = SEED_TEXT.replace("files_created: 9\n", "files_created: 10\n").replace(
        "usage instructions.\n\n# Key Changes",
        "usage instructions.\n\n## Modified\n- None\n\n## Deleted\n- None\n\n# Key Changes",
    )
    assert render_report(parse_report(SEED_TEXT)) == expected


def test_round_trip_with_awkward_text() -> None:
    report = sample()
    assert parse_report(render_report(report)) == report


def test_counts_come_from_the_lists() -> None:
    text = render_report(sample())
    meta = yaml.safe_load(text.split("---\n")[1])
    assert (meta["files_created"], meta["files_modified"], meta["files_deleted"]) == (2, 1, 0)
    assert meta["tags"] == ["report", "2024", "needs review", "a,b", "yes"]
    assert meta["title"] == 'Report: Add "slugify" \\ helper'


def test_rendered_text_layout() -> None:
    text = render_report(sample())
    assert text.startswith(
        "---\n"
        'filename: "ai-plans/260102__REPORT__add_slugify.md"\n'
        'title: "Report: Add \\"slugify\\" \\\\ helper"\n'
        "date: 2026-01-02\n"
        'plan_file: "ai-plans/260102__PLAN__add_slugify.md"\n'
        "status: failed\n"
        "files_created: 2\nfiles_modified: 1\nfiles_deleted: 0\n"
        'tags: [report, "2024", "needs review", "a,b", "yes"]\n'
        "---\n\n# Summary\n"
    )
    assert "\n\\# Not a heading\n\\\\# already escaped\n" in text
    assert (
        "# Files Changed\n## Created\n- `slug.py`: The helper.\n- `tests/test_slug.py`\n\n"
        "## Modified\n- `utils.py`: Re-exports slugify: now public.\n\n"
        "## Deleted\n- None\n\n"
        "# Key Changes\n- **Slug**: added.\n- Two lines\n  continued here\n\n"
        "# Technical Decisions\n- None\n\n"
    ) in text
    assert text.endswith("# Next Steps\n- None yet\n- Fix the tests.\n")


def test_empty_report_round_trips() -> None:
    report = Report("r.md", "T", datetime.date(2026, 1, 1), "p.md", "cancelled")
    text = render_report(report)
    assert "# Summary\nNone\n" in text
    assert "tags: []\n" in text
    assert parse_report(text) == report


def test_path_with_backticks_round_trips() -> None:
    report = Report(
        "r.md", "T", datetime.date(2026, 1, 1), "p.md", "completed",
        created=[FileChange("odd`name.py", "why: because")],
    )  # fmt: skip
    text = render_report(report)
    assert "- `` odd`name.py ``: why: because\n" in text
    assert parse_report(text).created == report.created


def test_unknown_status_is_refused() -> None:
    report = sample()
    report.status = "done"  # type: ignore[assignment]
    with pytest.raises(ReportError, match="status 'done'"):
        render_report(report)
    text = render_report(sample()).replace("status: failed", "status: done")
    with pytest.raises(ReportError, match="status 'done'"):
        parse_report(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Summary\n", "starts with '---'"),
        ("---\ntitle: x\n", "never closed"),
        ("---\n- a\n---\n", "must be a mapping"),
        ("---\ntitle: x\n---\n", "lacks filename, date, plan_file, status"),
    ],
)
def test_malformed_reports(text: str, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_report(text)
