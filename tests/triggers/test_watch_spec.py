"""`devbot watch` and Spec Kit: the watcher reports a feature folder once its tasks.md is
written (real watchdog), and `watch` runs it once (real DBOS, git, scripted model)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devbot.config import Settings
from devbot.triggers.console import Console
from devbot.triggers.watch import watch
from devbot.triggers.watcher import PlanWatcher
from tests.fixtures.engine import PlanRunner
from tests.fixtures.speckit import FOLDER, TASKS, fixture_files, lay_out_feature
from tests.triggers.test_watch import finished_runs, wait_until
from tests.triggers.test_watcher import Recorder, write


class FolderRecorder(Recorder):
    """Records a feature folder with the text of its tasks.md."""

    def __call__(self, path: Path) -> None:
        read = path / "tasks.md" if path.is_dir() else path
        with self._cond:
            self.calls.append((path, read.read_text(), time.monotonic()))
            self._cond.notify_all()


DONE = "@@WRITE {path}\nx = 1\n@@END\n@@FINISH\nDone.\n@@END\n"


def test_a_feature_folder_is_reported_when_its_tasks_md_is_written(tmp_path: Path) -> None:
    """Each check ends on a sentinel feature written after the rest: the observer of the
    spec folders reports its events in order."""
    repo = tmp_path.resolve()
    specs = repo / "specs"
    rec = FolderRecorder()

    def sentinel(name: str) -> None:
        write(specs / name / "tasks.md", "- [ ] T001 Sentinel\n")
        assert rec.wait_for_path(specs / name), f"{name} never reported"

    watcher = PlanWatcher(repo, ("ai-plans",), rec, feature_dirs=("specs",))
    with watcher:
        feature = specs / "001-photo-albums"
        write(feature / "spec.md", "# Feature Specification: X\n")
        write(feature / "plan.md", "# Implementation Plan: X\n")
        write(feature / "notes" / "tasks.md", "- [ ] T001 Deeper down: not a feature\n")
        write(specs / "tasks.md", "- [ ] T001 In specs/ itself: not a feature\n")
        write(feature / "tasks.md", "## Phase 1\n- [ ] T001 One\n")
        sentinel("998-sentinel")
        assert rec.names == ["001-photo-albums", "998-sentinel"]
        write(feature / "spec.md", "# Feature Specification: X, edited\n")
        write(feature / "tasks.md", "## Phase 1\n- [ ] T001 One\n- [ ] T002 Two\n")
        sentinel("999-sentinel")
        assert rec.names == ["001-photo-albums", "998-sentinel", "001-photo-albums", "999-sentinel"]
        assert rec.calls[2][1] == "## Phase 1\n- [ ] T001 One\n- [ ] T002 Two\n"


def test_scan_finds_the_feature_folders_with_a_tasks_md(tmp_path: Path) -> None:
    repo = tmp_path.resolve()
    write(repo / "specs" / "002-b" / "tasks.md", "- [ ] T001 B\n")
    write(repo / "specs" / "001-a" / "tasks.md", "- [ ] T001 A\n")
    write(repo / "specs" / "003-c" / "spec.md", "# Feature Specification: C\n")
    write(repo / "ai-plans" / "261101__PLAN__x.md", "Do x.\n")
    watcher = PlanWatcher(repo, ("ai-plans",), Recorder(), feature_dirs=("specs",))
    assert watcher.scan() == [
        repo / "ai-plans" / "261101__PLAN__x.md",
        repo / "specs" / "001-a",
        repo / "specs" / "002-b",
    ]


@contextmanager
def watching(runner: PlanRunner, settings: Settings) -> Iterator[io.StringIO]:
    output = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(runner.repo.work, settings, Console(output), stop), daemon=True
    )
    thread.start()
    try:
        wait_until(lambda: "watching ai-plans, specs" in output.getvalue(), output)
        yield output
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "watch did not stop"


def test_watch_runs_a_feature_once_its_tasks_are_written_and_not_again_after_a_restart(
    plan_runner: PlanRunner,
) -> None:
    work = plan_runner.repo.work
    files = ["albums/__init__.py", "albums/models.py", "albums/album.py", "a.py", "d.md"]
    settings = plan_runner.settings([{"text": DONE.format(path=path)} for path in files])
    with watching(plan_runner, settings) as output:
        lay_out_feature(work, **{TASKS: None})  # spec, plan...: no run before tasks.md
        (work / TASKS).write_text(fixture_files()[TASKS], encoding="utf-8")
        wait_until(lambda: len(finished_runs(plan_runner)) == 1, output)
        wait_until(lambda: "pull request #1" in output.getvalue(), output)
    [record] = finished_runs(plan_runner)
    assert record.kind == "spec" and record.plan_path == FOLDER
    assert record.status == "completed", record.message

    with watching(plan_runner, settings) as output:  # the scan at start finds it: same content
        wait_until(
            lambda: f"skip {Path(FOLDER).name}: already handled" in output.getvalue(), output
        )
    assert len(plan_runner.store().recent()) == 1
