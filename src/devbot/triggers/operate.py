"""`devbot runs resume|cancel|retry ID`: operate a run, and wait for it where that makes sense.

Without external workers (`workers = "local"`) resume and retry run the run in this process
(this process is a worker until it ends); with them, they put it back on the queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devbot.config import load_settings
from devbot.runs.engine.control import cancel_run, resume_run, retry_run
from devbot.runs.engine.engine import running
from devbot.runs.runtime import Runtime
from devbot.triggers.console import Console, exit_code, follow, print_outcome
from devbot.triggers.interrupt import stop_on_interrupt


def operate(command: str, run_id: str, repo: Path, flags: dict[str, Any], wait: bool) -> int:
    settings = load_settings(repo, flags)
    console = Console()
    if command == "cancel":  # a request recorded for the run; no engine needed
        runtime = Runtime.open(settings, repo)
        try:
            console.say(cancel_run(runtime.store, run_id).message)
        finally:
            runtime.close()
        return 0
    local = settings.workers == "local"
    with running(settings, repo, serve_queue=local) as engine:
        stop_on_interrupt(engine.runtime, console.say)
        if command == "resume":
            outcome = resume_run(engine, run_id)
            record, go_on, started = outcome.record, outcome.wait, outcome.message
        else:
            record = retry_run(engine, run_id, settings)
            go_on, started = (
                True,
                f"run {record.id} started for {record.plan_path} (retry of {run_id})",
            )
        if not (go_on and wait and local):
            console.say(started)
            return 0
        final = follow(engine, record, console, started)
    print_outcome(final, settings, console)
    return exit_code(final.status)
