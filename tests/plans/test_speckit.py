"""Spec Kit feature folders: tasks.md as Spec Kit writes it, what is refused and where,
ticking, keeping an earlier run's ticks, and the documents within a budget."""

from __future__ import annotations

import pytest

from devbot.plans.plan import PlanError
from devbot.plans.speckit import (
    documents_context,
    merge_ticks,
    parse_feature,
    parse_tasks,
    progress_markdown,
    tick,
)
from tests.fixtures.speckit import FOLDER, TASKS, fixture_files

SHOWN = "specs/001-x/tasks.md"


def feature_with(**replaced: str | None) -> dict[str, str]:
    files = {**fixture_files(), **replaced}
    return {path: text for path, text in files.items() if text is not None}


def test_the_fixture_feature_reads_as_spec_kit_lays_it_out() -> None:
    feature = parse_feature(f"{FOLDER}/", feature_with())
    assert feature.folder == FOLDER and feature.name == "001-photo-albums"
    assert feature.title == "Photo Albums"
    assert [t.id for t in feature.tasks] == ["T001", "T002", "T003", "T004", "T005"]
    t001, t002, t003, t004, t005 = feature.tasks
    assert t001.phase == "Phase 1: Setup (Shared Infrastructure)" and not t001.parallel
    assert (t002.parallel, t003.parallel, t002.group == t003.group) == (True, True, True)
    assert (
        t004.story == "US1" and t004.description == "Implement group_by_day in albums/grouping.py"
    )
    assert t005.parallel and t005.group != t003.group
    assert t002.line == 34 and not any(t.done for t in feature.tasks)
    assert feature.paths[:3] == (TASKS, f"{FOLDER}/spec.md", f"{FOLDER}/plan.md")
    assert ".specify/memory/constitution.md" in feature.paths
    assert f"{FOLDER}/contracts/grouping.md" in feature.paths


def test_the_same_content_has_the_same_hash_and_any_change_a_new_one() -> None:
    one = parse_feature(FOLDER, feature_with())
    assert one.sha == parse_feature(FOLDER, feature_with()).sha
    edited = feature_with(**{f"{FOLDER}/spec.md": "# Feature Specification: Other\n"})
    assert parse_feature(FOLDER, edited).sha != one.sha


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("tasks.md", "no tasks.md: write it with Spec Kit's /speckit.tasks first"),
        ("plan.md", "no plan.md: write it with Spec Kit's /speckit.plan first"),
    ],
)
def test_a_folder_without_its_required_documents_is_refused(missing: str, message: str) -> None:
    with pytest.raises(PlanError) as error:
        parse_feature(FOLDER, feature_with(**{f"{FOLDER}/{missing}": None}))
    assert str(error.value) == f"{FOLDER}/{missing}: this feature folder has {message}"


TASKS_HEAD = "# Tasks: X\n\n## Phase 1: Setup\n\n- [ ] T001 Create the project\n"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("- [ ] Create User model", "the task id is missing after the checkbox"),
        ("- [ ] [US1] Create User model", "the task id is missing after the checkbox"),
        ("- [ ] TXXX [P] Documentation updates", "'TXXX' is not a task id (T followed by"),
        ("- [ ] T01a Create", "'T01a' is not a task id"),
        ("- [ ] T002 [Q] Create", "task T002: [Q] is not a marker Spec Kit uses"),
        ("- [ ] T002 [P] [P] Create", "task T002: [P] is not a marker Spec Kit uses"),
        ("- [ ] T002 [Story] Create", "task T002: [Story] is not a marker"),
        ("- [ ] T002 [P]", "task T002 has no description"),
        ("- [] T002 Create", "malformed checkbox [] before T002"),
        ("-[ ]T002 Create", "malformed checkbox [ ] before T002"),
        ("- [~] T002 Create", "malformed checkbox [~] before T002"),
        ("T002 [US1] Create model", "a task line without its checkbox"),
        ("- T002 Create model", "a task line without its checkbox"),
        ("- [ ] T001 Again", "task id T001 is used twice (first on line 5)"),
    ],
)
def test_a_malformed_task_line_is_refused_with_its_line(line: str, reason: str) -> None:
    with pytest.raises(PlanError) as error:
        parse_tasks(f"{TASKS_HEAD}{line}\n", SHOWN)
    assert str(error.value).startswith(f"{SHOWN}:6: {reason}"), str(error.value)


def test_a_tasks_file_without_tasks_is_refused() -> None:
    with pytest.raises(PlanError, match=r"^specs/001-x/tasks.md: no task lines: Spec Kit"):
        parse_tasks("# Tasks: X\n\n## Phase 1: Setup\n\nNothing yet.\n", SHOWN)


def test_what_is_not_a_task_line_is_left_alone() -> None:
    text = (
        "---\ndescription: x\n---\n# Tasks: X\n\n## Format: `[ID] [P?] [Story] Description`\n\n"
        "- **[P]**: Can run in parallel\n\n<!--\n- [ ] Sample task in a comment\n-->\n"
        "## Phase 1: Setup\n\n- [X] T001 Done already\n  - [ ] a sub-item of T001\n"
        "  with more words\n- [x] T002 [US1] Done too\n\n"
        "## Dependencies\n\n- T002 depends on T001\n\n```bash\n- [ ] T009 in a fence\n```\n"
        "## Notes\n\n- [P] tasks = different files\n"
    )
    t001, t002 = parse_tasks(text, SHOWN)
    assert (t001.done, t002.done) == (True, True)
    assert t001.details == "- [ ] a sub-item of T001\nwith more words"
    assert t002.story == "US1" and t002.phase == "Phase 1: Setup"


def test_tick_changes_only_the_checkbox_and_keeps_line_endings() -> None:
    text = "## Phase 1\r\n- [ ] T001 One\r\n  - [ ] T002 [P] Two\r\n"
    t001, t002 = parse_tasks(text, SHOWN)
    assert tick(text, t002) == "## Phase 1\r\n- [ ] T001 One\r\n  - [X] T002 [P] Two\r\n"
    assert (
        tick(tick(text, t001), t001) == "## Phase 1\r\n- [X] T001 One\r\n  - [ ] T002 [P] Two\r\n"
    )
    with pytest.raises(ValueError):
        tick("## Phase 1\n- [ ] T003 Other\n", t001)


def test_an_earlier_runs_ticks_are_kept_by_task_id() -> None:
    ours = "## Phase 1\n- [ ] T001 One (edited since)\n- [ ] T002 Two\n- [ ] T003 Three\n"
    branch = "## Phase 1\n- [X] T001 One\n- [ ] T002 Two\n- [x] T004 Gone\n"
    merged = merge_ticks(ours, branch, SHOWN)
    assert merged == "## Phase 1\n- [X] T001 One (edited since)\n- [ ] T002 Two\n- [ ] T003 Three\n"
    assert merge_ticks(ours, "not a task list", SHOWN) == ours


def test_documents_go_in_order_within_the_budget_and_say_what_was_left_out() -> None:
    feature = parse_feature(FOLDER, feature_with())
    whole = documents_context(feature, 100_000)
    assert whole.index(f"=== {TASKS} ===") < whole.index(f"=== {FOLDER}/spec.md ===")
    assert whole.index("constitution.md ===") < whole.index("data-model.md ===")
    assert "[... " not in whole and "Not shown" not in whole
    small = documents_context(feature, 700)
    assert len(small) < 700 * 4 + 600
    assert f"=== {TASKS} ===" in small
    assert "more lines left out: READ the file for the rest]" in small
    assert "Not shown (over the budget), READ them when you need them:" in small
    assert f"{FOLDER}/quickstart.md" in small.rsplit("Not shown", 1)[1]


def test_progress_shows_the_tasks_by_phase_with_notes() -> None:
    tasks = parse_tasks("## Phase 1: Setup\n- [X] T001 One\n- [ ] T002 [P] Two\n", SHOWN)
    shown = progress_markdown(tasks, {"T002": "not done: why"})
    assert shown == ("#### Phase 1: Setup\n- [x] T001 One\n- [ ] T002 [P] Two — not done: why")
