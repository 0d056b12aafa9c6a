"""Benchmark the sandbox hardening: devbot's memory under a flood of output, and its cost.

    .venv/bin/python bench/security_bench.py [--runs 50] [--mb 1500] [--before REF]

Per isolated backend (docker, bwrap — each when it works here):
- peak RSS: a fresh devbot process builds the sandbox, runs `true` once (imports, engine
  connection), reads `ru_maxrss`, runs a command printing `--mb` MB of lines (`yes | head`),
  and reads `ru_maxrss` again; the growth is what the output cost devbot (target < 100 MB);
- per command: the median wall time of `--runs` runs of `true`, with the code before the
  hardening (`--before`, default: the parent of the commit that added sandbox/seccomp.py,
  exported with `git archive`) and with this code, in an empty workspace and in one of
  10,000 files (1,000 folders of 10), side by side; the runs are split over 5 rounds that
  alternate before and after (one process each), so a busy machine weighs on both alike;
- the workspace walk alone on those 10,000 files: the first hand-over to the sandbox uid
  (every entry chowned), a steady-state one (nothing to chown), and a plain snapshot.
Figures go to bench/results/security_sandbox.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
FILES = 10_000
PER_FOLDER = 10
TARGET_MB = 100
ROUNDS = 5


def _fill(workspace: Path) -> None:
    for folder in range(FILES // PER_FOLDER):
        path = workspace / f"pkg{folder}"
        path.mkdir()
        for name in range(PER_FOLDER):
            (path / f"mod{name}.py").write_text("x = 1\n")


def worker(kind: str, backend: str, workspace: str, amount: int) -> dict[str, Any]:
    """Runs in a child process, with whichever devbot is on sys.path (before or after)."""
    import resource

    from devbot.config import Settings
    from devbot.sandbox.select import build_sandbox

    sandbox = build_sandbox(Settings(sandbox=backend), backend)
    ws = Path(workspace)
    first = sandbox.run("true", ws, 120)
    assert first.exit_code == 0, first.output
    if kind == "rss":
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = sandbox.run(f"yes devbot-output-line | head -c {amount}M", ws, 1800)
        took = time.perf_counter() - started
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert result.exit_code == 0, result.output[-500:]
        return {"rss_growth_mb": round(growth / 1024, 1), "seconds": round(took, 2)}
    times = []
    for _ in range(amount):
        started = time.perf_counter()
        result = sandbox.run("true", ws, 120)
        times.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output
    return {"times_s": times}


def _child(src: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _before_ref() -> str:
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "src/devbot/sandbox/seccomp.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("no commit adds src/devbot/sandbox/seccomp.py; give --before REF")
    return added[-1] + "^"


def _export(ref: str, into: Path) -> Path:
    archive = into / "before.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "before", filter="data")
    return into / "before" / "src"


def _walk_costs(tmp: Path) -> dict[str, float]:
    from devbot.sandbox.ownership import Identity, hand_over
    from devbot.sandbox.tree import scan

    tree = tmp / "walk"
    tree.mkdir()
    _fill(tree)
    costs = {}
    started = time.perf_counter()
    scan(tree)
    costs["snapshot_ms"] = (time.perf_counter() - started) * 1000
    if os.geteuid() == 0:
        identity = Identity(65534, 65534)
        started = time.perf_counter()
        hand_over(tree, identity)
        costs["first_hand_over_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        hand_over(tree, identity)
        costs["steady_hand_over_ms"] = (time.perf_counter() - started) * 1000
    return {key: round(value, 1) for key, value in costs.items()}


def _backends() -> list[str]:
    from devbot.config import Settings
    from devbot.sandbox.select import bwrap_status, docker_status

    found = []
    if docker_status(Settings().sandbox_image)[0]:
        found.append("docker")
    if bwrap_status()[0]:
        found.append("bwrap")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--mb", type=int, default=1500)
    parser.add_argument("--before", default=None, help="git ref of the code before hardening")
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "BACKEND", "WS", "N"))
    args = parser.parse_args()
    if args.worker:
        kind, backend, workspace, amount = args.worker
        print(json.dumps(worker(kind, backend, workspace, int(amount))))
        return 0
    before_ref = args.before or _before_ref()
    now_src = ROOT / "src"
    rows = []
    with tempfile.TemporaryDirectory(prefix="devbot-security-bench-") as name:
        tmp = Path(name)
        before_src = _export(before_ref, tmp)
        empty, full = tmp / "empty", tmp / "full"
        empty.mkdir()
        full.mkdir()
        _fill(full)
        walk = _walk_costs(tmp)
        for backend in _backends():
            row: dict[str, Any] = {"backend": backend}
            rss = _child(now_src, "rss", backend, str(empty), str(args.mb))
            row.update(rss)
            for label, ws in (("empty", empty), ("10k_files", full)):
                times: dict[str, list[float]] = {"before": [], "after": []}
                for _ in range(ROUNDS):
                    for variant, src in (("before", before_src), ("after", now_src)):
                        share = str(max(args.runs // ROUNDS, 1))
                        times[variant] += _child(src, "overhead", backend, str(ws), share)[
                            "times_s"
                        ]
                for variant, measured in times.items():
                    row[f"{label}_{variant}_ms"] = round(statistics.median(measured) * 1000, 1)
            rows.append(row)
            print(json.dumps(row))
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.release()}, {platform.machine()}",
        "python": sys.version.split()[0],
        "devbot_root": os.geteuid() == 0,
        "before": before_ref,
        "runs": args.runs,
        "output_mb": args.mb,
        "target_rss_growth_mb": TARGET_MB,
        "walk_10k_files": walk,
        "backends": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "security_sandbox.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Sandbox hardening ({result['date']}, {result['machine']})",
        "",
        f"devbot as root: {result['devbot_root']}. Before = `{before_ref}`.",
        "",
        f"Peak RSS growth of devbot while a command prints {args.mb} MB "
        f"(target < {TARGET_MB} MB), and the median of {args.runs} `true` (ms):",
        "",
        "| backend | RSS growth MB | print s | empty before | empty after "
        "| 10k files before | 10k files after |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['rss_growth_mb']} | {row['seconds']} "
            f"| {row['empty_before_ms']} | {row['empty_after_ms']} "
            f"| {row['10k_files_before_ms']} | {row['10k_files_after_ms']} |"
        )
    lines += [
        "",
        f"Workspace walk on {FILES:,} files (ms): "
        + ", ".join(
            f"{key.removesuffix('_ms').replace('_', ' ')} {value}" for key, value in walk.items()
        ),
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "security_sandbox.md").write_text(text, encoding="utf-8")
    print(text)
    missed = [row["backend"] for row in rows if row["rss_growth_mb"] >= TARGET_MB]
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
