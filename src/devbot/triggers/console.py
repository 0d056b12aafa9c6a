"""The console of every command: progress lines, a run's outcome, and following a run.

Everything printed passes the outward gate (`devbot.outward`).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from devbot.config import Settings
from devbot.outward import outward
from devbot.runs.store import RunRecord


class Console:
    """Prints progress lines with the time since the command started. Every line passes the
    outward gate: model replies and command output never reach the terminal as control
    sequences, and no secret is printed."""

    def __init__(self, stream: Any = None) -> None:
        self.started = time.monotonic()
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        with self._lock:
            stamp = f"[{time.monotonic() - self.started:6.2f}s]"
            print(f"{stamp} {outward(line)}", file=self.stream, flush=True)

    def progress(self, run_id: str, line: str) -> None:
        self.say(line)

    def show(self, text: str) -> None:
        """Print `text` without a time stamp (results, tables)."""
        with self._lock:
            print(outward(text), file=self.stream, flush=True)


def run_plan_and_wait(repo: Path, plan: Path, settings: Settings, console: Console) -> RunRecord:
    """Start a run for `plan`, print its progress, and return its final record."""
    from devbot.runs import progress
    from devbot.runs.service import submit_plan, wait_for
    from devbot.runs.state import store_for

    unsubscribe = progress.subscribe(console.progress)
    try:
        submission = submit_plan(repo, plan, settings)
        console.say(f"run {submission.record.id} started for {submission.record.plan_path}")
        wait_for(submission.record.id)
    finally:
        unsubscribe()
    return store_for(settings, repo).get(submission.record.id)


def print_outcome(record: RunRecord, settings: Settings, repo: Path, console: Console) -> None:
    from devbot.runs.state import forge_for

    lines = [
        f"\nrun {record.id}: {record.status} ({record.exit_status}) - {record.message}",
        f"  branch: {record.branch}  (pushed to {settings.remote} at {record.head_sha[:10]})",
        f"  report: {record.report_path}",
        f"  usage:  {record.steps} steps, {record.model_calls} model calls, "
        f"{record.prompt_tokens + record.completion_tokens:,} tokens, ${record.cost_usd:.4f}",
    ]
    pr = forge_for(settings, repo).find_pull_request(record.branch) if record.branch else None
    if pr is not None:
        lines += [
            f"  pull request #{pr.number} ({pr.url}): {pr.title}",
            f"    {pr.head} -> {pr.base}",
            f"  review: git diff {pr.base}...{pr.head}",
        ]
    console.show("\n".join(lines))
