"""`devbot watch`: run each new or changed plan in the plan folders, and each Spec Kit
feature folder of the spec folders whose tasks.md is written, once per content.

Plans already handled (same path, same content) are skipped, also across restarts; plans
added while devbot was down are found by a scan at start. Runs go one at a time, in order.
"""

from __future__ import annotations

import threading
from pathlib import Path

from devbot.config import Settings
from devbot.plans.plan import PlanError
from devbot.runs.engine.engine import Engine, running
from devbot.triggers.console import Console, follow, print_outcome
from devbot.triggers.example import untouched_example
from devbot.triggers.interrupt import stop_on_interrupt
from devbot.triggers.watcher import PlanWatcher


def handle_plan(engine: Engine, plan: Path, settings: Settings, console: Console) -> None:
    """Run `plan` unless this exact content already has a run; report bad plans clearly."""
    if untouched_example(plan):
        console.say(f"skip {plan.name}: the example `devbot init` wrote (edit or rename it)")
        return
    try:
        submission = engine.submit_plan(plan, settings, only_if_new=True, via_queue=True)
    except PlanError as exc:
        console.say(f"plan refused, nothing was run: {exc}")
        return
    record = submission.record
    if not submission.is_new:
        console.say(f"skip {plan.name}: already handled by run {record.id}")
        return
    if settings.workers == "external":
        console.say(f"run {record.id} queued for a worker")
        return
    final = follow(engine, record, console, f"run {record.id} started for {record.plan_path}")
    print_outcome(final, settings, console)


def watch(
    repo: Path, settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Watch until Ctrl-C or `stop` is set; recovers pending runs of this repo at start.

    Plans found at start are queued like new ones. With `workers = "local"` this process is
    the worker and runs them one at a time; with `"external"` it only enqueues them.
    """
    stop = stop or threading.Event()
    with running(settings, repo, serve_queue=settings.workers == "local") as engine:
        stop_on_interrupt(engine.runtime, console.say, stop)
        watcher = PlanWatcher(
            repo,
            settings.plan_dirs,
            lambda plan: handle_plan(engine, plan, settings, console),
            feature_dirs=settings.spec_dirs,
        )
        try:
            with watcher:
                for plan in watcher.scan():
                    watcher.submit(plan)
                folders = ", ".join((*settings.plan_dirs, *settings.spec_dirs))
                console.say(f"watching {folders} in {repo} (Ctrl-C to stop)")
                watcher.run_forever(stop)
        finally:
            console.say("stopped")
