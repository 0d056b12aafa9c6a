"""Benchmark the sandbox backends: start-up, per-command overhead, one verification round.

    .venv/bin/python bench/sandbox_bench.py [--runs 50]

Per backend (docker, bwrap, local — each when it works here):
- start-up: from constructing the sandbox (docker: connecting to the engine) to the end of
  its first `true`;
- per command: the median wall time of `--runs` runs of `true`, against the median of a bare
  `subprocess.run(["true"])`; overhead = the difference;
- verification: one full round on the demo repository (`make_demo_repository`) with a
  unittest file added: `python3 -m unittest discover -q` through `Verification`, as a run
  does (stdlib only, so every backend can run it).
Figures go to bench/results/sandbox.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devbot.agent.loop import run_directly
from devbot.config import Settings
from devbot.runs.flows.verify import Verification
from devbot.sandbox.select import build_sandbox, bwrap_status, docker_status
from devbot.triggers.demo import make_demo_repository

RESULTS = Path(__file__).parent / "results"
DEMO_TEST = (
    "import unittest\nfrom pathlib import Path\n\n\nclass Demo(unittest.TestCase):\n"
    "    def test_readme(self) -> None:\n        self.assertTrue(Path('README.md').exists())\n"
)
TEST_COMMAND = "python3 -m unittest discover -q"


def _median_s(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _backends() -> list[str]:
    found = []
    if docker_status(Settings().sandbox_image)[0]:
        found.append("docker")
    if bwrap_status()[0]:
        found.append("bwrap")
    return [*found, "local"]


def measure(backend: str, runs: int, ws: Path, demo: Path) -> dict[str, Any]:
    settings = Settings(sandbox=backend, max_test_rounds=0)
    started = time.perf_counter()
    sandbox = build_sandbox(settings, backend)
    first = sandbox.run("true", ws, 60)
    startup = time.perf_counter() - started
    assert first.exit_code == 0, first.output
    per_command = _median_s(lambda: sandbox.run("true", ws, 60), runs)
    verification = Verification(settings, TEST_COMMAND, demo, sandbox, run_directly)
    started = time.perf_counter()
    verification.review_finish()
    tests = verification.final(agent_submitted=True)
    round_s = time.perf_counter() - started
    return {
        "backend": backend,
        "startup_s": round(startup, 4),
        "per_command_s": round(per_command, 4),
        "verification_round_s": round(round_s, 3),
        "verification_exit_code": tests.last.exit_code if tests.last else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="devbot-sandbox-bench-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        (Path(tmp) / "demo").mkdir()
        demo = make_demo_repository(Path(tmp) / "demo")
        (demo / "test_demo.py").write_text(DEMO_TEST, encoding="utf-8")
        bare = _median_s(lambda: subprocess.run(["true"], check=True), args.runs)
        rows = [measure(backend, args.runs, ws, demo) for backend in _backends()]
    for row in rows:
        row["overhead_s"] = round(row["per_command_s"] - bare, 4)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.release()}, {platform.machine()}",
        "python": sys.version.split()[0],
        "runs": args.runs,
        "bare_subprocess_s": round(bare, 4),
        "backends": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sandbox.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Sandbox overhead ({result['date']}, {result['machine']})",
        "",
        f"Median of {args.runs} `true`; bare `subprocess.run(['true'])`: {bare * 1000:.1f} ms.",
        "",
        "| backend | start-up ms | per command ms | overhead ms | verification round s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['startup_s'] * 1000:.0f} | "
            f"{row['per_command_s'] * 1000:.1f} | {row['overhead_s'] * 1000:.1f} | "
            f"{row['verification_round_s']:.2f} (exit {row['verification_exit_code']}) |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "sandbox.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
