"""`devbot worker`: take runs from the run queue until stopped.

With `DEVBOT_DATABASE_URL=postgresql://...` any number of workers on any number of machines
share one queue; each needs a stable `DEVBOT_WORKER_ID`, so that a restarted worker resumes
its own unfinished runs at once (other workers take them over after `worker_timeout_s`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from devbot.config import Settings
from devbot.runs.engine.engine import running
from devbot.triggers.console import Console
from devbot.triggers.interrupt import stop_on_interrupt


def run_worker(
    repo: Path, settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Serve the queue until Ctrl-C or `stop` is set; print each run's progress."""
    stop = stop or threading.Event()
    with running(settings, repo, serve_queue=True) as engine:
        stop_on_interrupt(engine.runtime, console.say, stop)
        unsubscribe = engine.runtime.progress.subscribe(console.progress)
        try:
            console.say(
                f"worker {engine.executor_id} takes runs from the queue "
                f"({settings.worker_concurrency} at once, {settings.repo_concurrency} per "
                "repository); Ctrl-C to stop"
            )
            while not stop.wait(0.5):
                pass
        finally:
            unsubscribe()
            console.say("worker stopped")
