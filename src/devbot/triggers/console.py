"""The console of every command: progress lines, a run's outcome, and following a run.

Everything printed passes the outward gate (`devbot.outward`).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devbot.config import Settings
from devbot.outward import outward
from devbot.runs.state.store import RunRecord

if TYPE_CHECKING:  # the engine imports DBOS: only commands that run runs pay for it
    from devbot.runs.engine.engine import Engine


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


def follow(engine: Engine, record: RunRecord, console: Console, started: str) -> RunRecord:
    """Print `started`, then the run's progress until it ends; its final record."""
    unsubscribe = engine.runtime.progress.subscribe(console.progress)
    try:
        console.say(started)
        engine.wait(record.id)
    finally:
        unsubscribe()
    return engine.runtime.store.get(record.id)


def run_plan_and_wait(
    engine: Engine, plan: Path, settings: Settings, console: Console
) -> RunRecord:
    """Start a run for `plan`, print its progress, and return its final record."""
    record = engine.submit_plan(plan, settings).record
    return follow(engine, record, console, f"run {record.id} started for {record.plan_path}")


def exit_code(status: str) -> int:
    """0 for a completed run, 130 for one stopped at a step boundary (Ctrl-C), else 1."""
    return {"completed": 0, "interrupted": 130}.get(status, 1)


def print_outcome(record: RunRecord, settings: Settings, console: Console) -> None:
    """The run's end, from its record: status, branch (pushed or not), report, usage, PR."""
    where = (
        f"pushed to {settings.remote} at {record.head_sha[:10]}"
        if record.head_sha
        else "not pushed"
    )
    lines = [
        f"\nrun {record.id}: {record.status} ({record.exit_status}) - {record.message}",
        f"  branch: {record.branch or '-'}  ({where})",
        f"  report: {record.report_path if record.head_sha else '-'}",
        f"  usage:  {record.steps} steps, {record.model_calls} model calls, "
        f"{record.prompt_tokens + record.completion_tokens:,} tokens, ${record.cost_usd:.4f}",
    ]
    if record.pr_url and record.head_sha:
        lines += [
            f"  pull request {record.pr_url}: {record.title}",
            f"    {record.branch} -> {record.base_branch}",
            f"  review: git diff {record.base_branch}...{record.branch}",
        ]
    console.show("\n".join(lines))
