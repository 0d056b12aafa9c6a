"""`devbot worker`: take runs from the run queues until stopped.

With `DEVBOT_DATABASE_URL=postgresql://...` any number of workers on any number of machines
share the queues; each needs a stable `DEVBOT_WORKER_ID`, so that a restarted worker resumes
its own unfinished runs at once (other workers take them over after `worker_timeout_s`). A
worker needs no shared disk: it mirrors each repository under its state folder and gets a
run's worktree back from its checkpoint when it takes the run over. With `metrics_port` it
serves `/metrics`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from devbot.config import Settings
from devbot.runs.engine.engine import running
from devbot.triggers.console import Console
from devbot.triggers.interrupt import stop_on_interrupt
from devbot.triggers.metrics_server import MetricsServer


def run_worker(
    repo: Path | None, settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Serve the queues until Ctrl-C or `stop` is set; print each run's progress. `repo`:
    the checkout whose runs it does in the checkout itself (None: mirrors only)."""
    stop = stop or threading.Event()
    with running(settings, repo, serve_queue=True) as engine:
        stop_on_interrupt(engine.runtime, console.say, stop)
        unsubscribe = engine.runtime.progress.subscribe(console.progress)
        metrics = None
        if settings.metrics_port:
            text = engine.metrics().text
            metrics = MetricsServer(text, settings.metrics_host, settings.metrics_port).start()
        try:
            console.say(
                f"worker {engine.executor_id} takes runs from the queues "
                f"({settings.worker_concurrency} at once, {settings.repo_concurrency} per "
                f"repository; state in {engine.runtime.state_dir}"
                + (f"; metrics at {metrics.url}" if metrics else "")
                + "); Ctrl-C to stop"
            )
            while not stop.wait(0.5):
                pass
        finally:
            unsubscribe()
            if metrics is not None:
                metrics.stop()
            console.say("worker stopped")
