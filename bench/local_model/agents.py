"""How each agent configuration is run on a task directory, as its users run it."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.local_model.tasks import BenchTask, write_files

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("DEVBOT_BENCH_PEERS", Path.home() / ".cache" / "devbot-bench"))
STEP_LIMIT = 10
RUN_TIMEOUT_S = 480
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # litellm: no fetch of a price list


@dataclass(frozen=True)
class Attempt:
    """Where the agent's result is, to be checked, and how the run ended."""

    result_dir: Path | None
    wall_s: float
    note: str


Runner = Callable[[BenchTask, Path, str, str], Attempt]


def task_text(task: BenchTask) -> str:
    return f"{task.title}\n\n{task.body}"


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout


def _repository(task: BenchTask, where: Path) -> Path:
    where.mkdir(parents=True)
    write_files(where, dict(task.files))
    _git(where, "init", "-q", "-b", "main")
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "start")
    return where


def _timed(
    command: list[str], cwd: Path, env: dict[str, str], stdin: str = ""
) -> tuple[float, str]:
    start = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        note = f"exit {done.returncode}: {tail[0][:160]}"
    except subprocess.TimeoutExpired:
        note = f"killed after {RUN_TIMEOUT_S} s"
    return time.monotonic() - start, note


def run_devbot(task: BenchTask, scratch: Path, base_url: str, model: str) -> Attempt:
    """`devbot run PLAN` in a clone with a bare origin; the result is the branch it pushed."""
    origin = scratch / "origin.git"
    work = _repository(task, scratch / "work")
    _git(scratch, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(work, "remote", "add", "origin", str(origin))
    _git(work, "push", "-q", "-u", "origin", "main")
    plan = work / "ai-plans" / f"{dt.date.today():%y%m%d}__PLAN__{task.name}.md"
    plan.parent.mkdir()
    plan.write_text(f"---\ntitle: {task.title}\n---\n\n{task.body}\n", encoding="utf-8")
    env = {
        **os.environ,
        "DEVBOT_MODEL": f"openai/{model}",
        "DEVBOT_API_BASE": base_url,
        "OPENAI_API_KEY": "x",
        "DEVBOT_MAX_STEPS": str(STEP_LIMIT),
        "DEVBOT_MODEL_TIMEOUT_S": "600",
    }
    devbot = str(ROOT / ".venv" / "bin" / "devbot")
    wall, note = _timed([devbot, "run", str(plan), "--sandbox", "local"], work, env)
    note = f"{_exit_status(devbot, work, env)}; {note}"
    branches = _git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/devbot")
    if not branches.split():
        return Attempt(None, wall, note + " (nothing pushed)")
    result = scratch / "result"
    _git(scratch, "clone", "-q", "-b", branches.split()[0], str(origin), str(result))
    return Attempt(result, wall, note)


def _exit_status(devbot: str, work: Path, env: dict[str, str]) -> str:
    """How devbot's run ended, from its run record (`devbot runs show`)."""
    listed = subprocess.run(
        [devbot, "runs", "list"], cwd=work, env=env, capture_output=True, text=True
    ).stdout.splitlines()
    if len(listed) < 2:
        return "no run recorded"
    shown = subprocess.run(
        [devbot, "runs", "show", listed[1].split()[0]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    fields = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in shown.splitlines()[:24])
    }
    return f"exit_status {fields.get('exit_status', '?')}"


def aider_runner(edit_format: str) -> Runner:
    def run(task: BenchTask, scratch: Path, base_url: str, model: str) -> Attempt:
        work = _repository(task, scratch / "work")
        command = [
            str(PEERS / "aider-venv" / "bin" / "aider"),
            "--model",
            f"openai/{model}",
            "--openai-api-base",
            base_url,
            "--openai-api-key",
            "x",
            "--edit-format",
            edit_format,
            "--yes-always",
            "--no-auto-commits",
            "--no-check-update",
            "--no-analytics",
            "--no-show-model-warnings",
            "--no-pretty",
            "--no-stream",
            "--no-fancy-input",
            "--no-gitignore",
            "--timeout",
            "600",
            "--message",
            task_text(task),
        ]
        env = {**os.environ, **OFFLINE, "HOME": str(scratch), "AIDER_ANALYTICS": "false"}
        wall, note = _timed(command, work, env)
        return Attempt(work, wall, note)

    return run


def mini_runner(config: str) -> Runner:
    def run(task: BenchTask, scratch: Path, base_url: str, model: str) -> Attempt:
        work = _repository(task, scratch / "work")
        command = [
            str(PEERS / "mini-venv" / "bin" / "python"),
            str(Path(__file__).with_name("mini_runner.py")),
            config,
            f"openai/{model}",
            base_url,
            str(STEP_LIMIT),
        ]
        env = {
            **os.environ,
            **OFFLINE,
            "MSWEA_COST_TRACKING": "ignore_errors",
            "HOME": str(scratch),
        }
        wall, note = _timed(command, work, env, stdin=task_text(task))
        return Attempt(work, wall, note)

    return run


AGENTS: dict[str, Runner] = {
    "devbot": run_devbot,
    "aider-whole": aider_runner("whole"),
    "aider-diff": aider_runner("diff"),
    "mini-default": mini_runner("default"),
    "mini-text": mini_runner("mini_textbased"),
}


def peers_installed() -> list[str]:
    """The peer configurations whose interpreter is there (bench/local_model/setup-peers.sh)."""
    present = {
        "aider": (PEERS / "aider-venv" / "bin" / "aider").exists(),
        "mini": (PEERS / "mini-venv" / "bin" / "python").exists(),
    }
    return [name for name in AGENTS if name == "devbot" or present[name.split("-")[0]]]


def cleanup(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
