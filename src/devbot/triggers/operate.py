"""`devbot runs resume|cancel|retry ID`: operate a run, and wait for it where that makes sense.

Without external workers (`workers = "local"`) resume and retry run the run in this process
(this process is a worker until it ends); with them, they put it back on the queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devbot.config import load_settings
from devbot.triggers.console import Console, print_outcome


def operate(command: str, run_id: str, repo: Path, flags: dict[str, Any], wait: bool) -> int:
    from devbot.runs import progress
    from devbot.runs.control import cancel_run, resume_run, retry_run
    from devbot.runs.engine import QUEUE_NAME, launch_engine, shutdown_engine
    from devbot.runs.service import wait_for
    from devbot.runs.state import store_for

    settings = load_settings(repo, flags)
    store = store_for(settings, repo)
    console = Console()
    if command == "cancel":
        console.say(cancel_run(store, run_id).message)
        return 0
    local = settings.workers == "local"
    launch_engine(settings, repo, serve_queue=local)
    unsubscribe = progress.subscribe(console.progress)
    try:
        if command == "resume":
            outcome = resume_run(store, run_id, queue_name=QUEUE_NAME)
            record, go_on = outcome.record, outcome.wait
            console.say(outcome.message)
        else:
            record = retry_run(store, run_id, repo, settings)
            go_on = True
            console.say(f"run {record.id} started for {record.plan_path} (retry of {run_id})")
        if not (go_on and wait and local):
            return 0
        wait_for(record.id)
    finally:
        unsubscribe()
        shutdown_engine()
    final = store.get(record.id)
    print_outcome(final, settings, repo, console)
    return 0 if final.status == "completed" else 1
