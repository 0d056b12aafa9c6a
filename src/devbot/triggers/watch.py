"""`devbot watch`: run each new or changed plan in the plan folders, once per content.

Plans already handled (same path, same content) are skipped, also across restarts; plans
added while devbot was down are found by a scan at start. Runs go one at a time, in order.
"""

from __future__ import annotations

import threading
from pathlib import Path

from devbot.config import Settings
from devbot.plans.plan import PlanError
from devbot.triggers.console import Console, print_outcome


def handle_plan(repo: Path, plan: Path, settings: Settings, console: Console) -> None:
    """Run `plan` unless this exact content already has a run; report bad plans clearly."""
    from devbot.runs import progress
    from devbot.runs.service import submit_plan, wait_for
    from devbot.runs.state import store_for

    unsubscribe = progress.subscribe(console.progress)
    try:
        submission = submit_plan(repo, plan, settings, only_if_new=True, via_queue=True)
        if not submission.is_new:
            console.say(f"skip {plan.name}: already handled by run {submission.record.id}")
            return
        if settings.workers == "external":
            console.say(f"run {submission.record.id} queued for a worker")
            return
        console.say(f"run {submission.record.id} started for {submission.record.plan_path}")
        wait_for(submission.record.id)
    except PlanError as exc:
        console.say(f"plan refused, nothing was run: {exc}")
        return
    finally:
        unsubscribe()
    print_outcome(store_for(settings, repo).get(submission.record.id), settings, repo, console)


def watch(
    repo: Path, settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Watch until Ctrl-C or `stop` is set; recovers pending runs of this repo at start.

    Plans found at start are queued like new ones. With `workers = "local"` this process is
    the worker and runs them one at a time; with `"external"` it only enqueues them.
    """
    from devbot.runs.engine import launch_engine, shutdown_engine
    from devbot.triggers.watcher import PlanWatcher

    launch_engine(settings, repo, serve_queue=settings.workers == "local")
    watcher = PlanWatcher(
        repo, settings.plan_dirs, lambda plan: handle_plan(repo, plan, settings, console)
    )
    try:
        with watcher:
            for plan in watcher.scan():
                watcher.submit(plan)
            folders = ", ".join(settings.plan_dirs)
            console.say(f"watching {folders} in {repo} (Ctrl-C to stop)")
            watcher.run_forever(stop)
    finally:
        shutdown_engine()
        console.say("stopped")
