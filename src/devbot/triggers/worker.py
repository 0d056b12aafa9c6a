"""`devbot worker`: take runs from the run queue until stopped.

With `DEVBOT_DATABASE_URL=postgresql://...` any number of workers on any number of machines
share one queue; each needs a stable `DEVBOT_WORKER_ID`, so that a restarted worker resumes
its own unfinished runs at once (other workers take them over after `worker_timeout_s`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from devbot.config import Settings
from devbot.triggers.console import Console


def run_worker(
    repo: Path, settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Serve the queue until Ctrl-C or `stop` is set; print each run's progress."""
    from devbot.runs import progress
    from devbot.runs.engine import executor_id, launch_engine, shutdown_engine

    stop = stop or threading.Event()
    unsubscribe = progress.subscribe(console.progress)
    launch_engine(settings, repo, serve_queue=True)
    try:
        console.say(
            f"worker {executor_id()} takes runs from the queue "
            f"({settings.worker_concurrency} at once, {settings.repo_concurrency} per repository);"
            " Ctrl-C to stop"
        )
        while not stop.wait(0.5):
            pass
    finally:
        unsubscribe()
        shutdown_engine()
        console.say("worker stopped")
