"""Shared-nothing workers: throughput and takeover time.

Every `devbot worker` here has its own HOME, state folder and working folder (its own copy
of the scripted model's replies, its own mirrors); they share only PostgreSQL and the bare
remotes, fetched over `file://` from a folder none of them owns. The bench process only
submits runs by URL.

- throughput: runs completed per minute with 1, 2 and 4 workers (one run at a time each),
  8 runs in 8 repositories, 3 model turns of 1 s each (scripted delay) — the setup of
  bench/durability_bench.py, whose shared-path figures (16.1 / 27.1 / 33.3) are shown
  beside; here every worker also clones each repository it meets into its mirror;
- takeover: a worker killed with SIGKILL in the middle of a run whose worktree it changed;
  time from the kill to the run's next recorded step on another worker (which first waits
  `worker_timeout_s` to call the killed one dead, then restores the worktree from its
  checkpoint). Target: under `worker_timeout_s` + 5 s.

Needs DEVBOT_TEST_POSTGRES_URL (scripts/ci/postgres.sh). Writes bench/results/fleet.json
and .md.

    .venv/bin/python bench/fleet_bench.py
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TURN_S = 1.0
RUNS = 8
TAKEOVER_TIMEOUT_S = 10.0
SHARED_PATH = {"1": 16.1, "2": 27.1, "4": 33.3}
"""Runs per minute of bench/results/durability.md: workers on one shared checkout path."""
REPLIES = [
    {"text": "@@WRITE a.txt\na\n@@END\n", "delay": TURN_S},
    {"text": "@@WRITE b.txt\nb\n@@END\n", "delay": TURN_S},
    {"text": "@@FINISH\nWrote a and b.\n@@END\n", "delay": TURN_S},
]
SCRIPT = "replies.yaml"


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_remote(root: Path) -> str:
    """A bare repository with one commit on main; its `file://` URL."""
    bare, work = root / "origin.git", root / "seed"
    root.mkdir(parents=True)
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=root)
    git("init", "-q", "--initial-branch=main", str(work), cwd=root)
    (work / "README.md").write_text("# bench\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return f"file://{bare}"


def fresh_database() -> str:
    base = os.environ.get("DEVBOT_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("set DEVBOT_TEST_POSTGRES_URL (scripts/ci/postgres.sh)")
    name = f"devbot_f_{secrets.token_hex(4)}"
    admin = sa.create_engine(
        sa.make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(base).set(database=name).render_as_string(hide_password=False)


def home(root: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A process's own folder (its cwd, with its copy of the replies), HOME and state."""
    folder = root / name
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / SCRIPT).write_text(yaml.safe_dump(REPLIES))
    (folder / ".gitconfig").write_text("")
    env = {
        "HOME": str(folder),
        "DEVBOT_STATE_DIR": str(folder / "state"),
        "GIT_CONFIG_GLOBAL": str(folder / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return folder, env


class Fleet:
    """Workers (subprocesses) on one database; runs submitted from this process by URL."""

    def __init__(self, root: Path, url: str, timeout_s: float = 20.0) -> None:
        self.root, self.url = root, url
        self.common = {
            "DEVBOT_DATABASE_URL": url,
            "DEVBOT_WORKERS": "external",
            "DEVBOT_SANDBOX": "local",
            "DEVBOT_QUEUE_POLL_S": "0.1",
            "DEVBOT_WORKER_TIMEOUT_S": str(timeout_s),
        }
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.engine: Any = None
        self.settings: Any = None

    def start_workers(self, count: int) -> None:
        for index in range(count):
            worker_id = f"bench-{index}"
            folder, own = home(self.root, worker_id)
            base = {k: v for k, v in os.environ.items() if not k.startswith("DEVBOT_")}
            env = {**base, **self.common, **own, "DEVBOT_WORKER_ID": worker_id}
            env["DEVBOT_WORKER_CONCURRENCY"] = "1"
            log = (folder / "worker.log").open("w")
            self.workers[worker_id] = subprocess.Popen(
                [sys.executable, "-m", "devbot", "worker"],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def launch(self) -> None:
        from devbot.config import load_settings
        from devbot.runs.engine.engine import Engine
        from devbot.runs.runtime import Runtime

        folder, own = home(self.root, "submitter")
        os.chdir(folder)
        os.environ.update({**self.common, **own})
        self.settings = load_settings(None, {"model": f"scripted/{SCRIPT}"})
        self.engine = Engine.launch(Runtime.open(self.settings))

    def submit(self, remote: str, slug: str) -> str:
        from devbot.vcs.repository import Repository

        text = f"# {slug}\n\nWrite a and b.\n"
        plan = f"ai-plans/261124__PLAN__{slug}.md"
        flows = self.engine.flows
        return str(flows.submit(Repository(remote), plan, text, self.settings).record.id)

    def wait(self, ids: list[str]) -> None:
        store = self.engine.runtime.store
        while True:
            records = [store.get(run_id) for run_id in ids]
            if all(r.finished_at is not None for r in records):
                break
            time.sleep(0.1)
        bad = [r.message for r in records if r.status != "completed"]
        if bad:
            raise SystemExit(f"runs failed: {bad[:3]}")

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        for worker in self.workers.values():
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if self.engine is not None:
            self.engine.shutdown()
            self.engine.runtime.close()
            self.engine = None
        os.chdir(ROOT)


def throughput(root: Path, workers: int) -> dict[str, float]:
    remotes = [make_remote(root / f"remote-{i}") for i in range(RUNS)]
    fleet = Fleet(root / "fleet", fresh_database())
    fleet.start_workers(workers)
    fleet.launch()
    try:
        started = time.monotonic()
        ids = [fleet.submit(remote, f"r{i:02d}") for i, remote in enumerate(remotes)]
        fleet.wait(ids)
        elapsed = time.monotonic() - started
    finally:
        fleet.stop()
    return {
        "runs": RUNS,
        "seconds": round(elapsed, 2),
        "runs_per_minute": round(RUNS * 60 / elapsed, 1),
    }


def steps(url: str, run_id: str) -> list[dict[str, Any]]:
    from dbos import DBOSClient

    client = DBOSClient(system_database_url=url)
    try:
        return list(client.list_workflow_steps(run_id, load_output=False))
    finally:
        client.destroy()


def executor(url: str, run_id: str) -> str:
    from dbos import DBOSClient

    client = DBOSClient(system_database_url=url)
    try:
        (found,) = client.list_workflows(workflow_ids=[run_id], load_input=False)
        return str(found.executor_id or "")
    finally:
        client.destroy()


def takeover(root: Path) -> dict[str, Any]:
    remote = make_remote(root / "remote")
    fleet = Fleet(root / "fleet", fresh_database(), timeout_s=TAKEOVER_TIMEOUT_S)
    fleet.start_workers(2)
    fleet.launch()
    try:
        run_id = fleet.submit(remote, "takeover")
        while not any(s["function_name"] == "action" for s in steps(fleet.url, run_id)):
            time.sleep(0.02)
        owner = executor(fleet.url, run_id)
        recorded = len(steps(fleet.url, run_id))
        os.kill(fleet.workers[owner].pid, signal.SIGKILL)
        killed_at = time.time()
        while len(steps(fleet.url, run_id)) <= recorded:
            time.sleep(0.02)
        after = steps(fleet.url, run_id)[recorded]
        next_step_s = (after["completed_at_epoch_ms"] or after["started_at_epoch_ms"]) / 1000
        fleet.wait([run_id])
        survivor = next(name for name in fleet.workers if name != owner)
        log = (fleet.root / survivor / "worker.log").read_text()
    finally:
        fleet.stop()
    return {
        "worker_timeout_s": TAKEOVER_TIMEOUT_S,
        "kill_to_next_step_s": round(next_step_s - killed_at, 2),
        "target_s": TAKEOVER_TIMEOUT_S + 5,
        "worktree_restored": "worktree restored from its checkpoint" in log,
        "finished_on": executor(fleet.url, run_id),
        "killed": owner,
    }


def measure(root: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"turn_s": TURN_S, "turns_per_run": 3, "database": "postgresql"}
    rows = {}
    for workers in (1, 2, 4):
        row = throughput(root / f"tp-{workers}", workers)
        row["shared_path_runs_per_minute"] = SHARED_PATH[str(workers)]
        rows[str(workers)] = row
        print(f"{workers} worker(s): {row}", flush=True)
    figures["throughput_one_run_at_a_time_per_worker"] = rows
    figures["takeover"] = takeover(root / "takeover")
    print(f"takeover: {figures['takeover']}", flush=True)
    return figures


def write_results(figures: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fleet.json").write_text(json.dumps(figures, indent=2) + "\n")
    take = figures["takeover"]
    lines = [
        "# Shared-nothing workers",
        "",
        f"PostgreSQL; each model turn {TURN_S:g} s (scripted), 3 turns per run; every worker",
        "has its own HOME, state folder and mirrors; remotes over `file://`.",
        "",
        "| workers (1 run at a time each) | runs | seconds | runs/minute "
        "| shared path (durability.md) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for workers, row in figures["throughput_one_run_at_a_time_per_worker"].items():
        lines.append(
            f"| {workers} | {row['runs']} | {row['seconds']} | {row['runs_per_minute']} "
            f"| {row['shared_path_runs_per_minute']} |"
        )
    lines += [
        "",
        f"Takeover: a worker killed (SIGKILL) mid-run after its worktree changed; the run's next "
        f"step was recorded by another worker {take['kill_to_next_step_s']} s later "
        f"(worker_timeout_s = {take['worker_timeout_s']:g}; target < {take['target_s']:g} s); "
        f"worktree restored from its checkpoint: {'yes' if take['worktree_restored'] else 'no'}.",
    ]
    (RESULTS / "fleet.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="devbot-fleet-") as name:
        write_results(measure(Path(name)))


if __name__ == "__main__":
    main()
