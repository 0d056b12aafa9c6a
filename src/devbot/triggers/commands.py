"""What each `devbot` command does; cli.py only parses arguments."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from devbot.config import CONFIG_FILE, ConfigError, load_settings
from devbot.plans.plan import PlanError, plan_filename
from devbot.runs.control import RunStateError
from devbot.runs.store import RunNotFound
from devbot.templating import render
from devbot.triggers.console import Console, print_outcome, run_plan_and_wait
from devbot.vcs.git import Git, GitError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    PlanError,
    GitError,
    RunNotFound,
    RunStateError,
)


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
    console = Console()
    if args.runs_command == "show":
        record = store.get(args.run_id)
        lines: list[str] = []
        for key, value in vars(record).items():
            if key in ("created_at", "finished_at") and value is not None:
                value = dt.datetime.fromtimestamp(value).isoformat(sep=" ", timespec="seconds")
            lines.append(f"{key:>17}: {value}")
        if record.duration_s is not None:
            lines.append(f"{'duration':>17}: {record.duration_s:.1f} s")
        lines.append("\ntrajectory:")
        for event in store.events(record.id):
            lines.append(f"--- step {event.get('step', '?')} {event.get('kind', '')}")
            lines.append(str(event.get("content", "")).rstrip())
        console.show("\n".join(lines))
        return 0
    records = store.recent(str(repo))
    if not records:
        console.show("no runs yet")
        return 0
    columns = ("id", "status", "steps", "tokens", "usd", "secs")
    table = ["{:<36} {:<10} {:>5} {:>8} {:>8} {:>7}  branch / plan".format(*columns)]
    for r in records:
        secs = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
        tokens = r.prompt_tokens + r.completion_tokens
        table.append(
            f"{r.id:<36} {r.status:<10} {r.steps:>5} {tokens:>8} {r.cost_usd:>8.4f} {secs:>7}"
            f"  {r.branch or '-'} / {r.plan_path}"
        )
    console.show("\n".join(table))
    return 0


def cmd_worker(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.worker import run_worker

    repo = _repo(args.repo)
    run_worker(repo, load_settings(repo, flags), Console())
    return 0


def cmd_sandbox(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.sandbox_cmd import run_sandbox_command

    return run_sandbox_command(args, flags)
