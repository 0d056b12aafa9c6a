"""`devbot run` with a Spec Kit feature folder, as a user runs it: a valid one runs, one that
is not a feature is refused with the file and line (exit 2) and nothing runs."""

from __future__ import annotations

import pytest

from devbot.triggers.cli import main
from tests.fixtures.engine import PlanRunner
from tests.fixtures.speckit import FOLDER, TASKS, fixture_files, lay_out_feature

DONE = "@@WRITE {path}\nx = 1\n@@END\n@@FINISH\nDone.\n@@END\n"
FILES = ["albums/__init__.py", "albums/models.py", "albums/album.py", "albums/grouping.py", "d.md"]


def test_run_takes_a_feature_folder_and_exits_0_when_every_task_is_done(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = plan_runner.repo.work
    lay_out_feature(work)
    script = plan_runner.script_file([{"text": DONE.format(path=path)} for path in FILES])
    monkeypatch.chdir(work)
    monkeypatch.delenv("DEVBOT_MODEL", raising=False)

    assert main(["run", f"{FOLDER}/", "--model", f"scripted/{script}"]) == 0
    out = capsys.readouterr().out
    assert f"started for {FOLDER}" in out
    assert "T003 done, ticked: Done." in out
    assert "completed (submitted)" in out and "5 of 5 tasks done" in out
    assert "git diff main...devbot/001-photo-albums" in out


TASKS_TEXT = fixture_files()[TASKS]


@pytest.mark.parametrize(
    ("replaced", "expected"),
    [
        ({TASKS: None}, f"{TASKS}: this feature folder has no tasks.md: write it with Spec Kit's"),
        ({f"{FOLDER}/plan.md": None}, f"{FOLDER}/plan.md: this feature folder has no plan.md"),
        (
            {TASKS: TASKS_TEXT.replace("- [ ] T003 [P] Define", "- [ ] [P] Define")},
            f"{TASKS}:35: the task id is missing after the checkbox",
        ),
        (
            {TASKS: TASKS_TEXT.replace("T004 [US1]", "T002 [US1]")},
            f"{TASKS}:49: task id T002 is used twice (first on line 34)",
        ),
        (
            {TASKS: TASKS_TEXT.replace("- [ ] T", "- [X] T")},
            f"{TASKS}: every task is ticked ([X]): nothing to do",
        ),
        ({TASKS: "# Tasks: X\n\x00\n"}, f"{TASKS}:2: binary file (NUL byte)"),
    ],
    ids=["no-tasks", "no-plan", "no-task-id", "duplicate-id", "all-ticked", "binary"],
)
def test_a_folder_that_is_not_a_runnable_feature_is_refused_and_nothing_runs(
    plan_runner: PlanRunner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    replaced: dict[str, str | None],
    expected: str,
) -> None:
    work = plan_runner.repo.work
    lay_out_feature(work, **replaced)
    script = plan_runner.script_file([{"text": DONE.format(path="x.py")}])
    monkeypatch.chdir(work)

    assert main(["run", FOLDER, "--model", f"scripted/{script}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"devbot: error: {expected}"), err
    assert "Traceback" not in err
    assert plan_runner.repo.git("branch", "--list", "devbot/*") == ""
    assert plan_runner.store().recent() == []


def test_a_path_that_is_neither_a_plan_nor_a_folder_is_refused(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(plan_runner.repo.work)
    assert main(["run", "specs/002-missing/"]) == 2
    assert "no such plan file or Spec Kit feature folder" in capsys.readouterr().err
