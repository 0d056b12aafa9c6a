"""What each `devbot` command does; cli.py only parses arguments.

Commands that run runs import the engine (and with it DBOS) when they start, not when this
module is imported: `devbot init` and `devbot runs` stay quick.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from devbot.config import CONFIG_FILE, ConfigError, load_settings
from devbot.plans.plan import PlanError
from devbot.runs.flows.base_config import settings_from_branch
from devbot.runs.runtime import Runtime, served_mirror
from devbot.runs.state.store import RunNotFound, RunStateError
from devbot.templating import render
from devbot.triggers.console import Console, exit_code, print_outcome, run_plan_and_wait
from devbot.triggers.example import example_plan
from devbot.triggers.interrupt import stop_on_interrupt
from devbot.triggers.workers_table import list_workers
from devbot.vcs.git import Git, GitError
from devbot.vcs.github.repo import web_host
from devbot.vcs.repository import RepositoryError, parse_repository

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    PlanError,
    GitError,
    RunNotFound,
    RunStateError,
    RepositoryError,
)


def _repo(args: argparse.Namespace, default: Path | None = None) -> Path:
    """The repository `--repo` names (or `default`, or the current directory's): its top."""
    path = getattr(args, "repo", None) or default or Path(".")
    try:
        return Git.repository(path).toplevel()
    except GitError:
        raise ConfigError(
            f"{path.resolve()} is not inside a git repository: run devbot in your repository, "
            "or give it with --repo PATH"
        ) from None


def cmd_init(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    repo = _repo(args)
    name, text = example_plan(dt.date.today())
    plan = repo / "ai-plans" / name
    config_text = render("devbot.triggers", "devbot.toml", date=dt.date.today())
    for path, content in ((repo / CONFIG_FILE, config_text), (plan, text)):
        if path.exists():
            print(f"kept {path.relative_to(repo)} (exists)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, "utf-8")
        print(f"wrote {path.relative_to(repo)}")
    print(render("devbot.triggers", "init_next_steps.txt", plan=plan.relative_to(repo)), end="")
    return 0


def cmd_run(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.runs.engine.engine import running  # lazy: DBOS

    plan = args.plan.resolve()
    if not (plan.is_file() or plan.is_dir()):
        raise PlanError(f"{args.plan}: no such plan file or Spec Kit feature folder")
    repo = _repo(args, plan.parent)
    settings = load_settings(repo, flags)
    console = Console()
    with running(settings, repo) as engine:
        stop_on_interrupt(engine.runtime, console.say)
        record = run_plan_and_wait(engine, plan, settings, console)
    print_outcome(record, settings, console)
    return exit_code(record.status)


def cmd_watch(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.watch import watch  # lazy: DBOS, watchdog

    if args.dirs:
        flags = {**flags, "plan_dirs": args.dirs}
    repo = _repo(args)
    watch(repo, load_settings(repo, flags), Console())
    return 0


def cmd_serve(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    """Settings come from the base branch's devbot.toml, as in every webhook-started run.
    `--repo` names a checkout, or the repository by URL: then a mirror of it is read."""
    from devbot.triggers.webhook.server import serve, webhook_secret  # lazy: FastAPI, uvicorn

    webhook_secret()
    named = getattr(args, "repo", None)
    passed = {key: value for key, value in flags.items() if value is not None}
    if named is not None and not Path(named).is_dir():
        settings = load_settings(None, flags)
        repository = parse_repository(named, web_host(settings.github_api_url))
        local = served_mirror(settings, repository)
        with local.synced() as git:
            settings = settings_from_branch(git, settings.base_branch, flags, remote=local.remote)
        return serve(None, repository, settings, passed, args.host, args.port, Console().say)
    repo = _repo(args, Path(named) if named else None)
    settings = load_settings(repo, flags)
    settings = settings_from_branch(
        Git.repository(repo), settings.base_branch, flags, remote=settings.remote
    )
    return serve(repo, None, settings, passed, args.host, args.port, Console().say)


def cmd_ui(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.dashboard.server import serve_ui  # lazy: FastAPI, Jinja2, uvicorn

    repo = _repo(args)
    return serve_ui(repo, load_settings(repo, flags), args.host, args.port, Console().say)


def cmd_demo(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.demo import run_demo  # lazy: DBOS

    return run_demo(args.dir, Console())


def cmd_runs(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    repo = _repo(args)
    if args.runs_command in ("resume", "cancel", "retry"):
        from devbot.triggers.operate import operate  # lazy: DBOS

        wait = not getattr(args, "no_wait", False)
        return operate(args.runs_command, args.run_id, repo, flags, wait)
    runtime = Runtime.open(load_settings(repo), repo)
    try:
        return _show_runs(args, runtime, repo)
    finally:
        runtime.close()


def _show_runs(args: argparse.Namespace, runtime: Runtime, repo: Path) -> int:
    store = runtime.store
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
    records = store.recent((runtime.served.key, str(repo)))
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
    """A worker serves the checkout `--repo` names, else the one the current directory is in
    (unless `state_dir` is set), else none: a fleet worker with its own mirrors."""
    from devbot.triggers.worker import run_worker  # lazy: DBOS

    repo = _optional_checkout(args, flags)
    run_worker(repo, load_settings(repo, flags), Console())
    return 0


def cmd_workers(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    repo = _optional_checkout(args, flags)
    settings = load_settings(repo, flags)
    console = Console()
    table = list_workers(settings, repo)
    console.show(table or "no workers have run on this database")
    return 0


def _optional_checkout(args: argparse.Namespace, flags: dict[str, Any]) -> Path | None:
    if getattr(args, "repo", None) is not None:
        return _repo(args)
    if flags.get("state_dir") or os.environ.get("DEVBOT_STATE_DIR"):
        return None
    try:
        return Git.repository(Path(".")).toplevel()
    except GitError:
        return None


def cmd_sandbox(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from devbot.triggers.sandbox_cmd import run_sandbox_command  # lazy: the docker SDK

    return run_sandbox_command(args, flags)
