"""Operating runs: cancel, retry, stalled runs, recorded state that no longer fits the code.

Real DBOS on SQLite, real git with a bare origin, the scripted model.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from devbot.runs.engine.control import cancel_run, retry_run
from devbot.runs.runtime import default_forge
from devbot.runs.state.store import RunStateError
from tests.fixtures.devbot_process import DevbotProcess, StepReader, dbos_url
from tests.fixtures.engine import PlanRunner, plan_text


def slow(turns: int) -> list[dict[str, object]]:
    """Turns that each change notes.txt (the same reply again would end the run stuck)."""
    return [
        {"text": f"@@WRITE notes.txt\nstill working ({n})\n@@END\n", "delay": 0.4}
        for n in range(turns)
    ]


FINISH = {"text": "@@FINISH\nDone.\n@@END\n"}


def _front(runner: PlanRunner, branch: str, path: str) -> str:
    text = runner.repo.remote_file(branch, path)
    assert text is not None
    return text.split("---\n")[1]


def test_cancel_stops_at_the_next_step_and_pushes_a_cancelled_report_then_retry_finishes(
    plan_runner: PlanRunner,
) -> None:
    settings = plan_runner.settings([*slow(6), FINISH])
    plan = plan_runner.write_plan(plan_text("Work slowly.", title="Task"))
    run_id = plan_runner.launch(settings).submit_plan(plan, settings).record.id
    store = plan_runner.store()
    deadline = time.monotonic() + 30
    while not store.events(run_id):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancel_run(store, run_id)
    plan_runner.engine.wait(run_id)

    record = store.get(run_id)
    assert record.status == "cancelled", record.message
    assert record.exit_status == "cancelled"
    assert record.model_calls < 6
    assert "status: cancelled" in _front(plan_runner, record.branch, record.report_path)
    prs = default_forge(settings, plan_runner.repo.work).find_pull_request(record.branch)
    assert prs is not None and prs.title == "[cancelled] Task"
    with pytest.raises(RunStateError, match="already ended"):
        cancel_run(store, run_id)

    again = retry_run(plan_runner.engine, run_id, settings)
    plan_runner.engine.wait(again.id)
    retried = store.get(again.id)
    assert retried.status == "completed", retried.message
    assert retried.branch == record.branch  # the plan's branch and PR go on
    assert (
        default_forge(settings, plan_runner.repo.work).find_pull_request(record.branch) is not None
    )


def test_a_run_without_progress_past_the_deadline_is_failed_with_the_reason(
    plan_runner: PlanRunner,
) -> None:
    stuck = {"text": "@@WRITE a.txt\na\n@@END\n", "delay": 6}
    settings = plan_runner.settings([stuck, FINISH], stall_timeout_s=1, worker_timeout_s=2)
    plan = plan_runner.write_plan(plan_text("Hang.", title="Task"))
    run_id = plan_runner.launch(settings).submit_plan(plan, settings).record.id
    started = time.monotonic()
    plan_runner.engine.wait(run_id)

    record = plan_runner.store().get(run_id)
    assert record.status == "failed"
    assert "no progress for" in record.message and "stall_timeout_s" in record.message
    assert time.monotonic() - started < 5


def test_recorded_steps_that_do_not_fit_the_code_fail_the_run_with_a_clear_reason(
    plan_runner: PlanRunner, devbot_process: DevbotProcess, tmp_path: Path
) -> None:
    repo = plan_runner.repo.work
    settings_file = plan_runner.script_file([*slow(3), FINISH])
    plan = plan_runner.write_plan(plan_text("Work.", title="Task"))
    process = devbot_process.start(
        "run", str(plan), "--model", f"scripted/{settings_file}", cwd=repo
    )
    reader = StepReader(dbos_url(repo))
    try:
        reader.wait_for(lambda: len(reader.workflow_ids()) == 1)
        (run_id,) = reader.workflow_ids()
        reader.wait_for(lambda: "model" in reader.steps(run_id))
        devbot_process.kill(process)
    finally:
        reader.close()
    with sqlite3.connect(repo / ".devbot" / "dbos.sqlite") as db:  # as an older devbot did it
        db.execute(
            "UPDATE operation_outputs SET function_name = 'agent_turn' "
            "WHERE workflow_uuid = ? AND function_name = 'model'",
            (run_id,),
        )
    code, output = devbot_process.run("runs", "resume", run_id, cwd=repo)

    assert code == 1, output
    record = plan_runner.store().get(run_id)
    assert record.status == "failed"
    assert "recorded steps do not fit this version of devbot" in record.message
    assert "devbot runs retry" in record.message
