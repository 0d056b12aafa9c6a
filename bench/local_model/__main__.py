"""The local-model benchmark: devbot and its peers on the same small tasks, same model, same run.

    .venv/bin/python -m bench.local_model [--runs 3] [--tasks hello,rename]
        [--agents devbot,aider-whole] [--base-url http://127.0.0.1:8088/v1] [--fresh]
        [--out local_model] [--redo devbot] [--merge local_model_devbot]

Needs the local model (`../shared/tools/local-llm serve`) and the peers
(`bench/local_model/setup-peers.sh`). Every request of every agent goes through a counting
proxy that pins temperature 0. Each (agent, task, run) result is kept in
bench/results/local_model.json as soon as it is known, so an interrupted bench resumes where it
stopped (`--fresh` starts over, `--redo AGENT` drops one agent's results);
bench/results/local_model.md is rewritten from it (`--out NAME` for another pair of files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench.local_model.agents import AGENTS, STEP_LIMIT, cleanup, peers_installed
from bench.local_model.proxy import CountingProxy
from bench.local_model.tasks import TASKS

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _model_name(base_url: str) -> str:
    with urllib.request.urlopen(f"{base_url}/models", timeout=10) as answer:
        return str(json.load(answer)["data"][0]["id"])


def _load(path: Path, fresh: bool) -> dict[str, Any]:
    if fresh or not path.exists():
        return {"runs": []}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _summary(runs: list[dict[str, Any]], agents: list[str]) -> list[dict[str, Any]]:
    rows = []
    for agent in agents:
        mine = [run for run in runs if run["agent"] == agent]
        if not mine:
            continue
        solved = [run for run in mine if run["solved"]]
        prompt = sum(run["prompt_tokens"] for run in mine)
        rows.append(
            {
                "agent": agent,
                "runs": len(mine),
                "solved": len(solved),
                "solve_rate": len(solved) / len(mine),
                "median_requests": statistics.median(run["requests"] for run in mine),
                "prompt_tokens_per_solved": round(prompt / len(solved)) if solved else None,
                "median_wall_s": round(statistics.median(run["wall_s"] for run in mine), 1),
            }
        )
    return rows


def _markdown(data: dict[str, Any], agents: list[str]) -> str:
    rows = _summary(data["runs"], agents)
    tasks = sorted({run["task"] for run in data["runs"]})
    lines = [
        "# Local model: devbot and its peers on the same tasks",
        "",
        f"{data['date']} · model `{data['model']}` (llama.cpp, 1 thread, temperature 0 pinned by"
        f" the proxy) · {data['machine']} · step limit {STEP_LIMIT} · {len(tasks)} tasks",
        "",
        "| agent | runs | solved | solve rate | median requests | prompt tokens per solved task"
        " | median wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        per_solved = (
            f"{row['prompt_tokens_per_solved']:,}" if row["prompt_tokens_per_solved"] else "—"
        )
        lines.append(
            f"| {row['agent']} | {row['runs']} | {row['solved']} | {row['solve_rate']:.0%} |"
            f" {row['median_requests']:g} | {per_solved} | {row['median_wall_s']} |"
        )
    lines += [
        "",
        "Per task (solved/runs):",
        "",
        "| task | " + " | ".join(r["agent"] for r in rows) + " |",
    ]
    lines.append("| --- |" + " --- |" * len(rows))
    for task in tasks:
        cells = []
        for row in rows:
            mine = [r for r in data["runs"] if r["task"] == task and r["agent"] == row["agent"]]
            cells.append(f"{sum(r['solved'] for r in mine)}/{len(mine)}" if mine else "—")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Prompt tokens per solved task = all prompt tokens of the agent's runs / tasks solved.",
        "Requests and tokens are counted by the proxy every agent talks to",
        "(bench/local_model/proxy.py); a task is solved when its hidden check passes",
        "(bench/local_model/tasks.py; tests/bench/test_local_model_tasks.py proves the checks).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(task.name for task in TASKS))
    parser.add_argument("--agents", default=",".join(peers_installed()))
    parser.add_argument(
        "--base-url", default=os.environ.get("LOCAL_LLM_URL", "http://127.0.0.1:8088/v1")
    )
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--out", default="local_model", help="name of the results in bench/results/ (.json, .md)"
    )
    parser.add_argument(
        "--redo", default="", help="agents whose kept results are dropped first (comma-separated)"
    )
    parser.add_argument(
        "--merge",
        default="",
        help="fold in the runs of bench/results/NAME.json (a bench run beside this one)",
    )
    args = parser.parse_args()
    agents = [a for a in args.agents.split(",") if a]
    unknown = [a for a in agents if a not in AGENTS]
    if unknown:
        print(f"unknown agents: {', '.join(unknown)}; known: {', '.join(AGENTS)}", file=sys.stderr)
        return 2
    tasks = [task for task in TASKS if task.name in args.tasks.split(",")]
    try:
        model = _model_name(args.base_url)
    except OSError as exc:
        print(
            f"no model server at {args.base_url} ({exc}); start ../shared/tools/local-llm serve",
            file=sys.stderr,
        )
        return 2
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / f"{args.out}.json"
    data = _load(store, args.fresh)
    redo = set(args.redo.split(","))
    data["runs"] = [run for run in data["runs"] if run["agent"] not in redo]
    if args.merge:
        kept = {(r["agent"], r["task"], r["run"]) for r in data["runs"]}
        other = _load(RESULTS / f"{args.merge}.json", fresh=False)["runs"]
        data["runs"] += [r for r in other if (r["agent"], r["task"], r["run"]) not in kept]
    data |= {
        "date": dt.date.today().isoformat(),
        "model": model,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}",
    }
    done = {(r["agent"], r["task"], r["run"]) for r in data["runs"]}
    with CountingProxy(args.base_url) as proxy:
        for run in range(1, args.runs + 1):  # runs outermost: a cut-short bench stays balanced
            for task in tasks:
                for agent in agents:
                    if (agent, task.name, run) in done:
                        continue
                    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{agent}-{task.name}-"))
                    proxy.take()
                    try:
                        attempt = AGENTS[agent](task, scratch, proxy.url, model)
                        problem = (
                            task.check(attempt.result_dir) if attempt.result_dir else attempt.note
                        )
                    finally:
                        cleanup(scratch)
                    tally = proxy.take()
                    record = {
                        "agent": agent,
                        "task": task.name,
                        "run": run,
                        "solved": problem is None,
                        "problem": problem,
                        "note": attempt.note,
                        "wall_s": round(attempt.wall_s, 1),
                        "requests": tally.requests,
                        "prompt_tokens": tally.prompt_tokens,
                        "completion_tokens": tally.completion_tokens,
                    }
                    data["runs"].append(record)
                    verdict = "solved" if problem is None else f"FAILED - {problem}"
                    print(
                        f"{agent:13} {task.name:11} run {run}: {tally.requests} req"
                        f" {tally.prompt_tokens} prompt tok {attempt.wall_s:.0f} s {verdict}",
                        flush=True,
                    )
                    store.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
                    (RESULTS / f"{args.out}.md").write_text(
                        _markdown(data, list(AGENTS)), encoding="utf-8"
                    )
    store.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (RESULTS / f"{args.out}.md").write_text(_markdown(data, list(AGENTS)), encoding="utf-8")
    print(_markdown(data, list(AGENTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
