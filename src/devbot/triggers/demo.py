"""`devbot demo`: a throwaway repository with a bare origin, the hello plan, one real run.

Uses the scripted model unless `DEVBOT_MODEL` names a real one, and leaves the directory in
place so the result can be inspected.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
from pathlib import Path

from devbot.config import ConfigError, load_settings
from devbot.plans.plan import plan_filename
from devbot.runs.engine.engine import running
from devbot.templating import render
from devbot.triggers.console import Console, print_outcome, run_plan_and_wait
from devbot.triggers.interrupt import stop_on_interrupt

HELLO_PLAN = "Create a file named hello.txt with content 'world'"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_demo_repository(root: Path) -> Path:
    """Create `root/origin.git` (bare) and `root/project` (a clone with one commit on main)."""
    bare, project = root / "origin.git", root / "project"
    _git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    _git(root, "init", "--quiet", "--initial-branch=main", str(project))
    _git(project, "config", "user.name", "Demo User")
    _git(project, "config", "user.email", "demo@example.com")
    (project / "README.md").write_text("# Demo project\n\nA repository for devbot's demo.\n")
    _git(project, "add", "README.md")
    _git(project, "commit", "--quiet", "-m", "Initial commit")
    _git(project, "remote", "add", "origin", str(bare))
    _git(project, "push", "--quiet", "-u", "origin", "main")
    _git(project, "remote", "set-head", "origin", "main")
    return project


def _pick_directory(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="devbot-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ConfigError(f"{directory} is not empty; give an empty or new directory")
    return directory.resolve()


def run_demo(directory: Path | None, console: Console) -> int:
    root = _pick_directory(directory)
    console.say(f"demo directory: {root}")
    project = make_demo_repository(root)
    console.say(f"created {project} with a bare origin at {root / 'origin.git'}")

    plan = project / "ai-plans" / plan_filename(dt.date.today(), "hello-world")
    plan.parent.mkdir(parents=True)
    plan.write_text(render("devbot.triggers", "demo_plan.md", task=HELLO_PLAN), encoding="utf-8")
    console.say(f"dropped plan {plan.relative_to(project)}: {HELLO_PLAN}")

    flags = {}
    if "DEVBOT_MODEL" not in os.environ:
        script = root / "scripted-model.yaml"
        script.write_text(render("devbot.triggers", "demo_script.yaml"), encoding="utf-8")
        flags["model"] = f"scripted/{script}"
    settings = load_settings(project, flags)
    console.say(f"model: {settings.model}")
    with running(settings, project) as engine:
        stop_on_interrupt(engine.runtime, console.say)
        record = run_plan_and_wait(engine, plan, settings, console)
    print_outcome(record, settings, console)

    bare = root / "origin.git"
    hello = _show(bare, record.branch, "hello.txt")
    report = _show(bare, record.branch, record.report_path) or ""
    print(f"\norigin {record.branch}:hello.txt = {hello!r}")
    print(f"origin {record.branch}:{record.report_path} status line: {_status_line(report)}")
    print(f"\nInspect: git -C {project} log --stat {record.branch}")
    return 0 if record.status == "completed" and hello is not None else 1


def _show(bare: Path, branch: str, path: str) -> str | None:
    done = subprocess.run(
        ["git", "show", f"{branch}:{path}"], cwd=bare, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None


def _status_line(report: str) -> str:
    return next((line for line in report.splitlines() if line.startswith("status:")), "(none)")
