"""`devbot watch` end to end: real watchdog, real DBOS on SQLite, real git, scripted model."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from devbot.runs.state.store import RunRecord
from devbot.triggers.cli import main
from devbot.triggers.console import Console
from devbot.triggers.watch import watch
from tests.fixtures.engine import PlanRunner, plan_text

HELLO = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"


@contextmanager
def watching(runner: PlanRunner) -> Iterator[io.StringIO]:
    settings = runner.settings([{"text": HELLO}])
    output = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(runner.repo.work, settings, Console(output), stop), daemon=True
    )
    thread.start()
    try:
        wait_until(lambda: "watching ai-plans" in output.getvalue(), output)
        yield output
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "watch did not stop"


def wait_until(condition: Callable[[], bool], output: io.StringIO, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; watcher said:\n{output.getvalue()}"
        time.sleep(0.05)


def finished_runs(runner: PlanRunner) -> list[RunRecord]:
    return [r for r in runner.store().recent() if r.finished_at is not None]


def test_watch_runs_a_new_plan_and_does_not_rerun_it_after_a_restart(
    plan_runner: PlanRunner,
) -> None:
    with watching(plan_runner) as output:
        plan_runner.write_plan(plan_text("Create hello.txt.", title="Hello"), slug="hello")
        wait_until(lambda: len(finished_runs(plan_runner)) == 1, output)
        wait_until(lambda: "pull request #1" in output.getvalue(), output)

    [record] = finished_runs(plan_runner)
    assert record.status == "completed"
    assert plan_runner.repo.remote_file("devbot/hello", "hello.txt") == "world\n"

    plan_runner.write_plan(plan_text("Create hello.txt too.", title="Later"), slug="later")
    with watching(plan_runner) as output:
        wait_until(lambda: len(finished_runs(plan_runner)) == 2, output)
        wait_until(lambda: "already handled" in output.getvalue(), output)

    plans = sorted(r.plan_path for r in plan_runner.store().recent())
    assert plans == ["ai-plans/261124__PLAN__hello.md", "ai-plans/261124__PLAN__later.md"]
    assert plan_runner.repo.remote_file("devbot/later", "hello.txt") == "world\n"


def test_watch_refuses_a_malformed_plan_and_keeps_watching(plan_runner: PlanRunner) -> None:
    with watching(plan_runner) as output:
        plan_runner.write_plan("---\nowner: me\n---\n\nBody.\n", slug="bad")
        wait_until(lambda: "plan refused" in output.getvalue(), output)
        plan_runner.write_plan(plan_text("Create hello.txt.", title="Good"), slug="good")
        wait_until(lambda: len(finished_runs(plan_runner)) == 1, output)

    assert "261124__PLAN__bad.md:2: unknown frontmatter key 'owner'" in output.getvalue()
    assert [r.plan_path for r in plan_runner.store().recent()] == ["ai-plans/261124__PLAN__good.md"]


def test_watch_ignores_reports_and_temp_files(plan_runner: PlanRunner) -> None:
    with watching(plan_runner) as output:
        folder = plan_runner.repo.work / "ai-plans"
        (folder / "261124__REPORT__x.md").write_text("---\nstatus: completed\n---\n")
        (folder / ".261124__PLAN__x.md.swp").write_text("junk")
        (folder / "261124__PLAN__x.md~").write_text("junk")
        plan_runner.write_plan(plan_text("Create hello.txt.", title="Real"), slug="real")
        wait_until(lambda: len(finished_runs(plan_runner)) == 1, output)

    assert [r.plan_path for r in plan_runner.store().recent()] == ["ai-plans/261124__PLAN__real.md"]


def test_the_example_plan_of_init_is_left_alone_until_it_is_edited(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--repo", str(plan_runner.repo.work)]) == 0
    (example,) = (plan_runner.repo.work / "ai-plans").glob("*__PLAN__example.md")
    with watching(plan_runner) as output:
        wait_until(lambda: f"skip {example.name}: the example" in output.getvalue(), output)
        assert plan_runner.store().recent() == []
        example.write_text(example.read_text() + "\nAlso create hello.txt.\n", encoding="utf-8")
        wait_until(lambda: len(finished_runs(plan_runner)) == 1, output)
    assert finished_runs(plan_runner)[0].plan_path.endswith("__PLAN__example.md")
