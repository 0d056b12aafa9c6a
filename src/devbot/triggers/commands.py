"""What each `devbot` command does; cli.py only parses arguments."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devbot.config import CONFIG_FILE, ConfigError, Settings, load_settings
from devbot.plans.plan import PlanError, plan_filename
from devbot.runs.control import RunStateError
from devbot.runs.store import RunNotFound, RunRecord
from devbot.templating import render
from devbot.vcs.git import Git, GitError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    PlanError,
    GitError,
    RunNotFound,
    RunStateError,
)


class Console:
    """Prints progress lines with the time since the command started."""

    def __init__(self, stream: Any = None) -> None:
        self.started = time.monotonic()
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.started:6.2f}s] {line}", file=self.stream, flush=True)

    def progress(self, run_id: str, line: str) -> None:
        self.say(line)

    def show(self, text: str) -> None:
        """Print `text` as is (results, tables)."""
        with self._lock:
            print(text, file=self.stream, flush=True)


def _repo(path: Path) -> Path:
    from devbot.runs.service import repo_root

    return repo_root(path)


def cmd_init(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    repo = _repo(args.repo)
    config = repo / CONFIG_FILE
    plan = repo / "ai-plans" / plan_filename(dt.date.today(), "example")
    for path, template in ((config, "devbot.toml"), (plan, "example_plan.md")):
        if path.exists():
            print(f"kept {path.relative_to(repo)} (exists)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render("devbot.triggers", template, date=dt.date.today()), "utf-8")
        print(f"wrote {path.relative_to(repo)}")
    print("Edit the plan, then: devbot run " + str(plan.relative_to(repo)))
    return 0


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


def cmd_run(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.runs.engine import shutdown_engine

    plan = args.plan.resolve()
    if not plan.is_file():
        raise PlanError(f"{args.plan}: no such plan file")
    repo = _repo(args.repo or plan.parent)
    settings = load_settings(repo, flags)
    console = Console()
    try:
        record = run_plan_and_wait(repo, plan, settings, console)
    finally:
        shutdown_engine()
    print_outcome(record, settings, repo, console)
    return 0 if record.status == "completed" else 1


def cmd_watch(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.watch import watch

    if args.dirs:
        flags = {**flags, "plan_dirs": args.dirs}
    repo = _repo(args.repo)
    watch(repo, load_settings(repo, flags), Console())
    return 0


def cmd_serve(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    """Settings come from the base branch's devbot.toml, as in every webhook-started run."""
    from devbot.runs.base_config import settings_from_branch
    from devbot.triggers.webhook.server import serve, webhook_secret

    webhook_secret()
    repo = _repo(args.repo)
    settings = load_settings(repo, flags)
    settings = settings_from_branch(
        Git.repository(repo), settings.base_branch, flags, remote=settings.remote
    )
    passed = {key: value for key, value in flags.items() if value is not None}
    return serve(repo, settings, passed, args.host, args.port, Console().say)


def cmd_demo(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.demo import run_demo

    return run_demo(args.dir, Console())


def cmd_runs(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.runs.state import store_for

    repo = _repo(args.repo)
    if args.runs_command in ("resume", "cancel", "retry"):
        from devbot.triggers.operate import operate

        wait = not getattr(args, "no_wait", False)
        return operate(args.runs_command, args.run_id, repo, flags, wait)
    store = store_for(load_settings(repo), repo)
    if args.runs_command == "show":
        record = store.get(args.run_id)
        for key, value in vars(record).items():
            if key in ("created_at", "finished_at") and value is not None:
                value = dt.datetime.fromtimestamp(value).isoformat(sep=" ", timespec="seconds")
            print(f"{key:>17}: {value}")
        if record.duration_s is not None:
            print(f"{'duration':>17}: {record.duration_s:.1f} s")
        print("\ntrajectory:")
        for event in store.events(record.id):
            print(f"--- step {event.get('step', '?')} {event.get('kind', '')}")
            print(str(event.get("content", "")).rstrip())
        return 0
    records = store.recent(str(repo))
    if not records:
        print("no runs yet")
        return 0
    columns = ("id", "status", "steps", "tokens", "usd", "secs")
    print("{:<36} {:<10} {:>5} {:>8} {:>8} {:>7}  branch / plan".format(*columns))
    for r in records:
        secs = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
        tokens = r.prompt_tokens + r.completion_tokens
        print(
            f"{r.id:<36} {r.status:<10} {r.steps:>5} {tokens:>8} {r.cost_usd:>8.4f} {secs:>7}"
            f"  {r.branch or '-'} / {r.plan_path}"
        )
    return 0


def cmd_worker(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.worker import run_worker

    repo = _repo(args.repo)
    run_worker(repo, load_settings(repo, flags), Console())
    return 0


def cmd_sandbox(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.sandbox_cmd import run_sandbox_command

    return run_sandbox_command(args, flags)
