"""The dashboard in a real browser (Debian's chromium under Playwright), over real runs.

Runs are real: the engine, DBOS on SQLite, git with a bare origin and the scripted model,
whose replies take a set time so that a run is still working while the page watches it.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from playwright.sync_api import expect

from devbot.runs.state.store import RunRecord
from tests.fixtures.dashboard import TOKEN, StartDashboard, off_loop
from tests.fixtures.engine import PlanRunner, plan_text


def slow_replies(count: int, delay: float) -> list[dict[str, Any]]:
    """`count` model turns of `delay` seconds each: a write per turn, then a finish."""
    replies: list[dict[str, Any]] = [
        {"text": f"@@WRITE notes/{n}.txt\nnote {n}\n@@END\n", "delay": delay}
        for n in range(count - 1)
    ]
    replies.append({"text": "@@FINISH\nWrote the notes.\n@@END\n", "delay": delay})
    return replies


def start_run(plan_runner: PlanRunner, replies: list[dict[str, Any]], slug: str) -> RunRecord:
    """Submit a plan run and return at once (it works in this process's DBOS threads)."""
    settings = plan_runner.settings(replies, sandbox="local")
    plan = plan_runner.write_plan(plan_text("Write the notes.", title="Notes"), slug)
    return off_loop(lambda: plan_runner.launch(settings).submit_plan(plan, settings).record)


def test_the_list_shows_the_runs_of_a_populated_database(
    plan_runner: PlanRunner, dashboard: StartDashboard, page: Any
) -> None:
    store = plan_runner.open().store
    for n in range(60):
        store.create(
            RunRecord(
                id=f"261124-seeded-{n:02d}",
                kind="feedback" if n % 3 == 0 else "plan",
                repo=f"/srv/repo-{n % 2}",
                plan_path=f"ai-plans/p{n}.md",
                plan_sha="s",
                title=f"Seeded run {n:02d}",
                status="failed" if n % 4 == 0 else "completed",
                branch=f"devbot/seeded-{n}",
                cost_usd=0.01 * n,
                created_at=1_700_000_000.0 + n,
                finished_at=1_700_000_030.0 + n,
            )
        )
    served = dashboard()
    page.goto(served.url + "/")
    rows = page.locator("tr.run")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Seeded run 59")
    expect(page.locator("h1 .count")).to_have_text("60")
    page.get_by_role("link", name="older").click()
    expect(rows).to_have_count(10)
    expect(rows.last).to_contain_text("Seeded run 00")
    page.goto(served.url + "/")
    page.select_option("select[name=kind]", "feedback")
    page.select_option("select[name=repo]", "/srv/repo-1")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(10)
    for text in rows.all_inner_texts():
        assert "feedback" in text and "/srv/repo-1" in text


def test_a_running_run_shows_each_new_step_within_a_second(
    plan_runner: PlanRunner, dashboard: StartDashboard, page: Any
) -> None:
    served = dashboard()
    steps: queue.Queue[tuple[float, str]] = queue.Queue()
    unsubscribe = served.runtime.progress.subscribe(
        lambda run_id, line: steps.put((time.monotonic(), line))
    )
    try:
        record = start_run(plan_runner, slow_replies(4, 0.8), "live")
        page.goto(f"{served.url}/runs/{record.id}")
        seen = 0
        while seen < 8:  # 4 model turns, 3 writes, the exit
            recorded_at, line = steps.get(timeout=60)
            if not line.startswith("step "):
                continue  # progress that is no trajectory event (sandbox, branch, push)
            left_ms = max(1000 - (time.monotonic() - recorded_at) * 1000, 1)
            expect(page.locator(f"#ev-{seen}")).to_be_attached(timeout=left_ms)
            seen += 1
    finally:
        unsubscribe()
    expect(page.locator("[data-field=status]")).to_have_text("completed", timeout=30_000)
    expect(page.locator("pre.diff")).to_contain_text("+note 0")


def test_cancel_on_the_page_stops_the_run(
    plan_runner: PlanRunner, dashboard: StartDashboard, page: Any
) -> None:
    served = dashboard()
    record = start_run(plan_runner, slow_replies(8, 1.0), "cancelled")
    page.goto(f"{served.url}/runs/{record.id}")
    expect(page.locator("#ev-0")).to_be_attached(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".notice")).to_contain_text("Cancel requested")
    expect(page.locator("[data-field=status]")).to_have_text("cancelled", timeout=30_000)
    final = plan_runner.store().get(record.id)
    assert final.status == "cancelled"
    assert final.steps < 8
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()


def test_off_the_loopback_a_visitor_without_login_gets_401_and_may_log_in(
    plan_runner: PlanRunner, dashboard: StartDashboard, page: Any
) -> None:
    plan_runner.open().store.create(
        RunRecord(id="r-1", kind="plan", repo="/r", plan_path="p.md", plan_sha="s", title="One")
    )
    served = dashboard(host="0.0.0.0", token=TOKEN)
    answer = page.goto(served.url + "/")
    assert answer is not None and answer.status == 401
    expect(page.locator("tr.run")).to_have_count(0)
    page.fill("input[name=token]", "not the token at all")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_have_text("Wrong token.")
    page.fill("input[name=token]", TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("tr.run")).to_have_count(1)
    page.get_by_role("button", name="Log out").click()
    assert page.goto(served.url + "/runs/r-1").status == 401
