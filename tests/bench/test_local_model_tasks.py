"""The local-model benchmark's hidden checks are honest: each fails on the repository as the
agent gets it and passes once the task's reference solution is applied (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.local_model.tasks import TASKS, BenchTask, write_files


def test_the_suite_has_ten_tasks_of_different_kinds() -> None:
    assert len(TASKS) >= 10
    assert len({task.kind for task in TASKS}) == len(TASKS)
    assert len({task.name for task in TASKS}) == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_check_fails_untouched_and_passes_with_the_reference_solution(
    task: BenchTask, tmp_path: Path
) -> None:
    write_files(tmp_path, dict(task.files))
    assert task.check(tmp_path) is not None, "the check passes before any work"
    write_files(tmp_path, task.solution)
    assert task.check(tmp_path) is None
