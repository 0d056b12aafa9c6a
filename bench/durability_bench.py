"""Durability and worker figures for devbot's durable runs.

- recovery: a `devbot run` killed with SIGKILL after its first model turn; time from the
  start of `devbot runs resume` to the first step it records (target: < 10 s);
- throughput: runs completed per minute with 1, 2 and 4 `devbot worker` processes (one run
  at a time each) when every model turn takes 1 s (scripted delay), 3 turns per run;
- concurrency: 20 runs of 3 turns on one worker at once vs one run alone (target: within
  twice one run's time), and the worker's memory per concurrent run.

Uses PostgreSQL when DEVBOT_TEST_POSTGRES_URL is set (scripts/ci/postgres.sh), else one
shared SQLite file. Writes bench/results/durability.json and .md.

    .venv/bin/python bench/durability_bench.py
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TURN_S = 1.0
REPLIES = [
    {"text": "@@WRITE a.txt\na\n@@END\n", "delay": TURN_S},
    {"text": "@@WRITE b.txt\nb\n@@END\n", "delay": TURN_S},
    {"text": "@@FINISH\nWrote a and b.\n@@END\n", "delay": TURN_S},
]


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    bare, work = root / "origin.git", root / "work"
    root.mkdir(parents=True)
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=root)
    git("init", "-q", "--initial-branch=main", str(work), cwd=root)
    (work / "README.md").write_text("# bench\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    git("push", "-q", "-u", "origin", "main", cwd=work)
    git("remote", "set-head", "origin", "main", cwd=work)
    return work


def write_plan(work: Path, slug: str) -> Path:
    plan = work / "ai-plans" / f"261124__PLAN__{slug}.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(f"# {slug}\n\nWrite a and b.\n")
    return plan


class Database:
    """A fresh database per measurement: PostgreSQL when available, else a SQLite file."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg = os.environ.get("DEVBOT_TEST_POSTGRES_URL")
        self.kind = "postgresql" if self.pg else "sqlite"

    def fresh(self) -> str:
        if not self.pg:
            return f"sqlite:///{self.tmp / f'db-{secrets.token_hex(3)}.sqlite'}"
        name = f"devbot_b_{secrets.token_hex(4)}"
        admin = sa.create_engine(
            sa.make_url(self.pg).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return sa.make_url(self.pg).set(database=name).render_as_string(hide_password=False)


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVBOT_")}
    return {**base, "DEVBOT_SANDBOX": "local", **extra}


def steps_of(url: str, run_id: str) -> int:
    from dbos import DBOSClient

    try:
        client = DBOSClient(system_database_url=url, retry_connection_errors=False)
    except Exception:
        return 0
    try:
        return len(client.list_workflow_steps(run_id, load_output=False))
    except Exception:
        return 0
    finally:
        client.destroy()


def workflow_ids(url: str) -> list[str]:
    from dbos import DBOSClient

    try:
        client = DBOSClient(system_database_url=url, retry_connection_errors=False)
    except Exception:
        return []
    try:
        return [w.workflow_id for w in client.list_workflows(load_input=False)]
    except Exception:
        return []
    finally:
        client.destroy()


def measure_recovery(tmp: Path, script: Path) -> dict[str, float]:
    work = make_repo(tmp / "recovery")
    url = f"sqlite:///{work / '.devbot' / 'dbos.sqlite'}"
    plan = write_plan(work, "recover")
    model = f"scripted/{script}"
    run = subprocess.Popen(
        [sys.executable, "-m", "devbot", "run", str(plan), "--model", model],
        cwd=work,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (work / ".devbot" / "dbos.sqlite").exists() or not workflow_ids(url):
        time.sleep(0.05)
    (run_id,) = workflow_ids(url)
    while steps_of(url, run_id) < 4:  # prepare, sandbox choice, check, first model turn
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    before = steps_of(url, run_id)
    started = time.monotonic()
    resume = subprocess.Popen(
        [sys.executable, "-m", "devbot", "runs", "resume", run_id],
        cwd=work,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while steps_of(url, run_id) <= before:
        time.sleep(0.02)
    first_step = time.monotonic() - started
    resume.wait(timeout=120)
    return {"restart_to_first_resumed_step_s": round(first_step, 2), "exit_code": resume.returncode}


class Fleet:
    """Workers (subprocesses) on one database; runs submitted from this process."""

    def __init__(self, url: str, script: Path, repos: list[Path]) -> None:
        self.url, self.script, self.repos = url, script, repos
        self.workers: list[subprocess.Popen[bytes]] = []
        self.engine: Any = None

    def settings(self) -> Any:
        from devbot.config import load_settings

        os.environ["DEVBOT_DATABASE_URL"] = self.url
        os.environ["DEVBOT_WORKERS"] = "external"
        return load_settings(self.repos[0], {"model": f"scripted/{self.script}"})

    def start_workers(self, count: int, concurrency: int) -> None:
        for i in range(count):
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "devbot", "worker", "--repo", str(self.repos[0])],
                    cwd=self.repos[0],
                    env=env(
                        DEVBOT_DATABASE_URL=self.url,
                        DEVBOT_WORKER_ID=f"bench-{i}",
                        DEVBOT_WORKER_CONCURRENCY=str(concurrency),
                        DEVBOT_QUEUE_POLL_S="0.1",
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def run_all(self, runs: int) -> float:
        """Submit `runs` runs (one per repository, round robin) and wait for all; seconds."""
        from devbot.runs.engine.engine import Engine
        from devbot.runs.runtime import Runtime

        settings = self.settings()
        if self.engine is None:
            self.engine = Engine.launch(Runtime.open(settings, self.repos[0]))
        started = time.monotonic()
        ids = []
        for i in range(runs):
            repo = self.repos[i % len(self.repos)]
            plan = write_plan(repo, f"r{i:03d}-{secrets.token_hex(2)}")
            ids.append(self.engine.submit_plan(plan, settings, repo=repo).record.id)
        store = self.engine.runtime.store
        while True:
            records = [store.get(run_id) for run_id in ids]
            if all(r.status not in ("queued", "running") for r in records):
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        bad = [r.message for r in records if r.status != "completed"]
        if bad:
            raise SystemExit(f"runs failed: {bad[:3]}")
        return elapsed

    def stop(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGINT)
        for worker in self.workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        if self.engine is not None:
            self.engine.shutdown()
            self.engine.runtime.close()
            self.engine = None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(db: Database, tmp: Path, script: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"database": db.kind, "turn_s": TURN_S, "turns_per_run": 3}
    figures["recovery"] = measure_recovery(tmp, script)

    runs = 8
    throughput = {}
    for workers in (1, 2, 4):
        repos = [make_repo(tmp / f"tp{workers}-{i}") for i in range(runs)]
        fleet = Fleet(db.fresh(), script, repos)
        fleet.start_workers(workers, concurrency=1)
        try:
            elapsed = fleet.run_all(runs)
        finally:
            fleet.stop()
        throughput[str(workers)] = {
            "runs": runs,
            "seconds": round(elapsed, 2),
            "runs_per_minute": round(runs * 60 / elapsed, 1),
        }
    figures["throughput_one_run_at_a_time_per_worker"] = throughput

    repos = [make_repo(tmp / f"cc-{i}") for i in range(20)]
    fleet = Fleet(db.fresh(), script, repos)
    fleet.start_workers(1, concurrency=20)
    try:
        one = fleet.run_all(1)
        idle = rss_mb(fleet.workers[0].pid)
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak.append(rss_mb(fleet.workers[0].pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        twenty = fleet.run_all(20)
        done.set()
        sampler.join()
    finally:
        fleet.stop()
    figures["concurrency"] = {
        "one_run_s": round(one, 2),
        "twenty_concurrent_runs_s": round(twenty, 2),
        "ratio": round(twenty / one, 2),
        "target_ratio": 2.0,
        "worker_rss_idle_mb": round(idle, 1),
        "worker_rss_peak_mb": round(max(peak), 1),
        "memory_per_concurrent_run_mb": round((max(peak) - idle) / 20, 2),
    }
    return figures


def write_results(figures: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "durability.json").write_text(json.dumps(figures, indent=2) + "\n")
    rec, cc = figures["recovery"], figures["concurrency"]
    lines = [
        "# Durability figures",
        "",
        f"Database: {figures['database']}; each model turn {TURN_S:g} s (scripted), 3 turns/run.",
        "",
        f"- restart to first resumed step: {rec['restart_to_first_resumed_step_s']} s "
        "(target < 10 s)",
        f"- one run alone: {cc['one_run_s']} s; 20 concurrent runs on one worker: "
        f"{cc['twenty_concurrent_runs_s']} s (ratio {cc['ratio']}, target <= 2)",
        f"- worker RSS idle {cc['worker_rss_idle_mb']} MB, peak {cc['worker_rss_peak_mb']} MB: "
        f"{cc['memory_per_concurrent_run_mb']} MB per concurrent run",
        "",
        "| workers (1 run at a time each) | runs | seconds | runs/minute |",
        "| --- | --- | --- | --- |",
    ]
    for workers, row in figures["throughput_one_run_at_a_time_per_worker"].items():
        lines.append(f"| {workers} | {row['runs']} | {row['seconds']} | {row['runs_per_minute']} |")
    (RESULTS / "durability.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="devbot-durability-") as name:
        tmp = Path(name)
        script = tmp / "replies.yaml"
        script.write_text(yaml.safe_dump(REPLIES))
        gitconfig = tmp / "gitconfig"
        gitconfig.write_text("[user]\n\tname = bench\n\temail = bench@localhost\n")
        os.environ["GIT_CONFIG_GLOBAL"] = str(gitconfig)
        write_results(measure(Database(tmp), tmp, script))


if __name__ == "__main__":
    main()
