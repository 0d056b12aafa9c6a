"""Benchmark devbot the way its peers were measured: scripted tasks, one fresh process per run.

    .venv/bin/python bench/run_bench.py [--repeats 3] [--warmup 1]

Two tasks ("hello": create hello.txt; "slugify": add `slugify(text)` to utils.py with a test),
each in a fresh temporary repository with a bare origin, each run a fresh `devbot run PLAN`
subprocess, in two variants:

- scripted: `DEVBOT_MODEL=scripted/<yaml>` (devbot's in-process scripted model, no delay);
- http: `DEVBOT_MODEL=openai/replay DEVBOT_API_BASE=http://127.0.0.1:PORT/v1`, the real
  OpenAI SDK talking to a replay server started here that answers with the same script.

Per run: wall time of the process, time from process start to the first model request, peak
RSS, model requests, prompt tokens. Medians go to bench/results/agent_tasks.{json,md}.
See bench/README.md for how each figure is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devbot.llm.base import Message, ModelError, ToolCall
from devbot.llm.scripted import ScriptedModel
from devbot.plans.plan import plan_filename
from devbot.triggers.demo import make_demo_repository

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
MARK_ENV = "DEVBOT_BENCH_FIRST_CALL_FILE"

# Targets (bench brief) and the peers' figures (shared/ANCHORS.md, medians of 3).
FIRST_REQUEST_TARGET_S = 1.0
PROMPT_TOKEN_TARGETS = {"hello": 1_000, "slugify": 1_500}
MODEL_REQUEST_TARGETS = {"hello": 1}
PEERS = [
    ("mini-swe-agent 2.4.6", "hello", 4.10, 3.14, 171, 3, 2_687),
    ("mini-swe-agent 2.4.6", "slugify", 4.99, 3.16, 171, 6, 7_504),
    ("aider 0.86.2", "hello", 6.17, 4.85, 269, 2, 1_021),
    ("aider 0.86.2", "slugify", 5.84, 4.39, 269, 2, 1_463),
]

# ---------------------------------------------------------------------------------------------
# Tasks

UTILS_PY = '''\
"""Small helpers."""


def clamp(value: float, low: float, high: float) -> float:
    """`value` limited to the range [low, high]."""
    return max(low, min(high, value))
'''

HELLO_SCRIPT = """\
- text: |
    I will create hello.txt with the requested content.
    @@WRITE hello.txt
    world
    @@END
    @@FINISH
    Created hello.txt containing "world", as the plan asks.
    @@END
"""

SLUGIFY_SCRIPT = r'''
- text: |
    Let me read utils.py first.
    @@READ utils.py
- text: |
    I will add slugify to utils.py, a test for it, and run the test.
    @@EDIT utils.py
    @@OLD
    """Small helpers."""
    @@NEW
    """Small helpers."""

    import re
    @@OLD
        return max(low, min(high, value))
    @@NEW
        return max(low, min(high, value))


    def slugify(text: str) -> str:
        """`text` in lower case, runs of other characters turned into single hyphens."""
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    @@END
    @@WRITE tests/test_slugify.py
    from utils import slugify


    def test_slugify() -> None:
        assert slugify("Hello, World!") == "hello-world"
        assert slugify("  Already-slugged  ") == "already-slugged"
        assert slugify("") == ""
    @@END
    @@RUN python3 -c "from tests.test_slugify import test_slugify; test_slugify(); print('ok')"
- text: |
    The test passes.
    @@FINISH
    Added `slugify(text)` to utils.py and tests/test_slugify.py covering punctuation,
    surrounding spaces and the empty string.
    @@END
'''


@dataclass(frozen=True)
class TaskSpec:
    name: str
    slug: str
    title: str
    body: str
    script: str
    extra_files: dict[str, str] = field(default_factory=dict)


TASKS = {
    "hello": TaskSpec(
        "hello",
        "hello-world",
        "Create hello.txt",
        "Create a file named hello.txt with content 'world'",
        HELLO_SCRIPT,
    ),
    "slugify": TaskSpec(
        "slugify",
        "slugify",
        "Add slugify",
        "add `slugify(text)` to utils.py with a test",
        SLUGIFY_SCRIPT,
        {"utils.py": UTILS_PY},
    ),
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def prepare(task: TaskSpec, root: Path) -> tuple[Path, Path, Path]:
    """A fresh project with a bare origin, the plan dropped in, the model script written."""
    project = make_demo_repository(root)
    if task.extra_files:
        for rel, text in task.extra_files.items():
            (project / rel).write_text(text, encoding="utf-8")
        _git(project, "add", *task.extra_files)
        _git(project, "commit", "--quiet", "-m", "Add starting files")
        _git(project, "push", "--quiet", "origin", "main")
    plan = project / "ai-plans" / plan_filename(dt.date.today(), task.slug)
    plan.parent.mkdir(parents=True)
    plan.write_text(f"---\ntitle: {task.title}\n---\n\n{task.body}\n", encoding="utf-8")
    script = root / f"{task.name}-script.yaml"
    script.write_text(task.script, encoding="utf-8")
    return project, plan, script


def check_result(task: TaskSpec, root: Path, branch: str) -> None:
    """Fail loudly unless origin's branch holds the task's result."""
    bare = root / "origin.git"

    def show(path: str) -> str:
        done = subprocess.run(
            ["git", "show", f"{branch}:{path}"], cwd=bare, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise BenchError(f"{task.name}: origin {branch} has no {path}: {done.stderr.strip()}")
        return done.stdout

    if task.name == "hello":
        content = show("hello.txt")
        if content != "world\n":
            raise BenchError(f"hello: origin {branch}:hello.txt is {content!r}, not 'world\\n'")
        return
    check = root / "check"
    (check / "tests").mkdir(parents=True)
    (check / "utils.py").write_text(show("utils.py"), encoding="utf-8")
    (check / "tests" / "test_slugify.py").write_text(
        show("tests/test_slugify.py"), encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_slugify import test_slugify; test_slugify()"],
        cwd=check,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"slugify: the pushed test fails:\n{done.stderr}")


# ---------------------------------------------------------------------------------------------
# The replay server (OpenAI chat completions) and the first-call hook of the scripted model


class ReplayServer:
    """Answers POST /v1/chat/completions with a ScriptedModel's reply; records every request."""

    def __init__(self) -> None:
        self.model: ScriptedModel | None = None
        self.arrivals: list[float] = []  # time.time() when each request's headers were read
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def reset(self, model: ScriptedModel) -> None:
        with self._lock:
            self.model, self.arrivals, self.bodies = model, [], []

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path.split("?")[0] != "/v1/chat/completions" or self.model is None:
            return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}
        messages = [
            Message(
                role=item["role"],
                content=item.get("content") or "",
                tool_calls=[
                    ToolCall(
                        call["id"],
                        call["function"]["name"],
                        json.loads(call["function"]["arguments"] or "{}"),
                    )
                    for call in item.get("tool_calls") or []
                ],
                tool_call_id=item.get("tool_call_id"),
            )
            for item in body["messages"]
        ]
        try:
            reply = self.model.complete(messages)
        except ModelError as error:
            return 400, {"error": {"message": str(error), "type": "invalid_request_error"}}
        n = len(self.bodies)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in reply.tool_calls
            ]
        usage = reply.usage
        return 200, {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "replay"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.time()
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw or b"{}")
                with server._lock:
                    server.arrivals.append(arrived)
                    server.bodies.append(body)
                status, answer = server._answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# Put on PYTHONPATH of the scripted runs only: when devbot imports devbot.llm.scripted, wrap
# ScriptedModel.complete so its first call writes time.time() to $DEVBOT_BENCH_FIRST_CALL_FILE.
# devbot's own code is untouched; the hook costs an import of importlib.abc (~1 ms).
SITECUSTOMIZE = textwrap.dedent(
    """\
    import os
    import sys
    import time

    _MARK = os.environ.get("DEVBOT_BENCH_FIRST_CALL_FILE")
    if _MARK:
        import importlib.abc
        import importlib.machinery

        class _FirstCall(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name != "devbot.llm.scripted":
                    return None
                sys.meta_path.remove(self)
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                load = spec.loader.exec_module

                def exec_module(module):
                    load(module)
                    complete = module.ScriptedModel.complete

                    def timed(self, *args, **kwargs):
                        if not os.path.exists(_MARK):
                            with open(_MARK, "w") as out:
                                out.write(repr(time.time()))
                        return complete(self, *args, **kwargs)

                    module.ScriptedModel.complete = timed

                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, _FirstCall())
    """
)


# ---------------------------------------------------------------------------------------------
# One run


class BenchError(RuntimeError):
    """A run did not do what the task asks: the bench stops."""


@dataclass
class RunResult:
    task: str
    variant: str
    wall_s: float
    first_request_s: float
    max_rss_mb: float
    model_requests: int
    prompt_tokens: int
    recorded_model_calls: int
    recorded_prompt_tokens: int
    completed_to_exit_s: float | None
    exit_code: int
    run_id: str


def devbot_command() -> list[str]:
    script = Path(sys.executable).parent / "devbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "devbot"]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DEVBOT_") and key not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def spawn(
    argv: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, int, float, list[tuple[float, str]]]:
    """Run argv; (start time.time, wall s, exit code, max RSS MB, [(time.time, stdout line)])."""
    lines: list[tuple[float, str]] = []
    started_wall = time.time()
    started = time.monotonic()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.time(), line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    return started_wall, wall, process.returncode, usage.ru_maxrss / 1024, lines


def run_record(project: Path, run_id: str) -> dict[str, str]:
    """`devbot runs show RUN_ID` as key -> value (the record part, not the trajectory)."""
    done = subprocess.run(
        [*devbot_command(), "runs", "--repo", str(project), "show", run_id],
        capture_output=True,
        text=True,
        env=child_env({}),
    )
    if done.returncode != 0:
        raise BenchError(f"devbot runs show {run_id} failed:\n{done.stdout}{done.stderr}")
    record: dict[str, str] = {}
    for line in done.stdout.split("\ntrajectory:")[0].splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            record[key.strip()] = value.strip()
    return record


def prompt_chars_tokens(bodies: list[dict[str, Any]]) -> int:
    """Prompt tokens by devbot's scripted rule: ceil(chars of the messages' content / 4)."""
    total = 0
    for body in bodies:
        chars = 0
        for message in body.get("messages", []):
            chars += len(message.get("content") or "")
            for call in message.get("tool_calls") or []:
                chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
        total += math.ceil(chars / 4)
    return total


def run_once(task: TaskSpec, variant: str, server: ReplayServer, hook_dir: Path) -> RunResult:
    root = Path(tempfile.mkdtemp(prefix=f"devbot-bench-{task.name}-"))
    try:
        project, plan, script = prepare(task, root)
        mark = root / "first-call"
        if variant == "scripted":
            env = child_env(
                {
                    "DEVBOT_MODEL": f"scripted/{script}",
                    MARK_ENV: str(mark),
                    "PYTHONPATH": str(hook_dir),
                }
            )
        else:
            server.reset(ScriptedModel.from_file(script))
            env = child_env({"DEVBOT_MODEL": "openai/replay", "DEVBOT_API_BASE": server.url})
        start, wall, code, rss, lines = spawn([*devbot_command(), "run", str(plan)], env, project)
        output = "\n".join(line for _, line in lines)
        found = re.search(r"^run (\S+): (\w+) \((\w+)\)", output, re.MULTILINE)
        if code != 0 or found is None or found.group(2) != "completed":
            raise BenchError(f"{task.name}/{variant}: devbot run exited {code}:\n{output}")
        run_id = found.group(1)
        record = run_record(project, run_id)
        if record.get("status") != "completed" or record.get("exit_status") != "submitted":
            raise BenchError(f"{task.name}/{variant}: run record says {record}")
        check_result(task, root, record["branch"])

        recorded_calls = int(record["model_calls"])
        recorded_prompt = int(record["prompt_tokens"])
        if variant == "scripted":
            if not mark.exists():
                raise BenchError(f"{task.name}/scripted: the first-call hook never fired")
            first = float(mark.read_text()) - start
            requests, prompt = recorded_calls, recorded_prompt
        else:
            if not server.arrivals:
                raise BenchError(f"{task.name}/http: the replay server got no request")
            first = server.arrivals[0] - start
            requests, prompt = len(server.bodies), prompt_chars_tokens(server.bodies)
        done_at = next((t for t, line in lines if "] run completed" in line), None)
        return RunResult(
            task=task.name,
            variant=variant,
            wall_s=wall,
            first_request_s=first,
            max_rss_mb=rss,
            model_requests=requests,
            prompt_tokens=prompt,
            recorded_model_calls=recorded_calls,
            recorded_prompt_tokens=recorded_prompt,
            completed_to_exit_s=None if done_at is None else start + wall - done_at,
            exit_code=code,
            run_id=run_id,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Summary

METRICS = (
    "wall_s",
    "first_request_s",
    "max_rss_mb",
    "model_requests",
    "prompt_tokens",
    "recorded_prompt_tokens",
    "completed_to_exit_s",
)


def medians(results: list[RunResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for metric in METRICS:
        values = [getattr(r, metric) for r in results if getattr(r, metric) is not None]
        out[metric] = statistics.median(values) if values else None
    return out


def targets(task: str, variant: str, med: dict[str, float | None]) -> list[dict[str, Any]]:
    checks: list[tuple[str, float | None, float, Callable[[float, float], bool]]] = [
        ("first request < 1.0 s", med["first_request_s"], FIRST_REQUEST_TARGET_S, float.__lt__)
    ]
    if task in MODEL_REQUEST_TARGETS:
        checks.append(
            (
                f"model requests == {MODEL_REQUEST_TARGETS[task]}",
                med["model_requests"],
                MODEL_REQUEST_TARGETS[task],
                lambda a, b: a == b,
            )
        )
    limit = PROMPT_TOKEN_TARGETS[task]
    checks.append((f"prompt tokens <= {limit:,}", med["prompt_tokens"], limit, float.__le__))
    return [
        {
            "task": task,
            "variant": variant,
            "target": name,
            "value": round(value, 3) if isinstance(value, float) else value,
            "verdict": "PASS" if value is not None and ok(float(value), float(goal)) else "MISS",
        }
        for name, value, goal, ok in checks
    ]


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if digits else f"{value:,.0f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| agent | task | wall s | start to first request s | max RSS MB | model requests"
        " | prompt tokens | run end to exit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        med = row["median"]
        lines.append(
            f"| devbot ({row['variant']}) | {row['task']} | {fmt(med['wall_s'])}"
            f" | {fmt(med['first_request_s'])} | {fmt(med['max_rss_mb'], 0)}"
            f" | {fmt(med['model_requests'], 0)} | {fmt(med['prompt_tokens'], 0)}"
            f" | {fmt(med['completed_to_exit_s'])} |"
        )
    for agent, task, wall, start, rss, requests, prompt in PEERS:
        lines.append(
            f"| {agent} | {task} | {wall:.2f} | {start:.2f} | {rss} | {requests} | {prompt:,} | - |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (pyc, caches)")
    parser.add_argument("--tasks", default="hello,slugify")
    parser.add_argument("--variants", default="scripted,http")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    tasks = [TASKS[name] for name in args.tasks.split(",")]
    variants = args.variants.split(",")
    server = ReplayServer()
    hook_dir = Path(tempfile.mkdtemp(prefix="devbot-bench-hook-"))
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    runs: list[RunResult] = []
    try:
        for _ in range(args.warmup):
            for variant in variants:
                run_once(tasks[0], variant, server, hook_dir)
        for task in tasks:
            for variant in variants:
                for i in range(args.repeats):
                    result = run_once(task, variant, server, hook_dir)
                    runs.append(result)
                    print(
                        f"{task.name:<8} {variant:<8} #{i + 1}: wall {result.wall_s:.2f}s,"
                        f" first request {result.first_request_s:.2f}s,"
                        f" rss {result.max_rss_mb:.0f} MB, {result.model_requests} requests,"
                        f" {result.prompt_tokens} prompt tokens"
                        f" (recorded {result.recorded_prompt_tokens}),"
                        f" run end to exit {fmt(result.completed_to_exit_s)}s",
                        flush=True,
                    )
    finally:
        server.stop()
        shutil.rmtree(hook_dir, ignore_errors=True)

    rows = []
    verdicts: list[dict[str, Any]] = []
    for task in tasks:
        for variant in variants:
            mine = [r for r in runs if r.task == task.name and r.variant == variant]
            med = medians(mine)
            rows.append({"task": task.name, "variant": variant, "median": med})
            verdicts.extend(targets(task.name, variant, med))

    rendered = table(rows)
    print("\n" + rendered + "\n")
    for v in verdicts:
        print(f"{v['verdict']}  {v['task']:<8} {v['variant']:<8} {v['target']}: {v['value']}")

    info = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agent_tasks.json").write_text(
        json.dumps(
            {
                "machine": info,
                "repeats": args.repeats,
                "warmup": args.warmup,
                "medians": rows,
                "targets": verdicts,
                "runs": [asdict(r) for r in runs],
                "peers": [
                    dict(
                        zip(
                            (
                                "agent",
                                "task",
                                "wall_s",
                                "startup_s",
                                "max_rss_mb",
                                "model_requests",
                                "prompt_tokens",
                            ),
                            peer,
                            strict=True,
                        )
                    )
                    for peer in PEERS
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    verdict_lines = "\n".join(
        f"- {v['verdict']} {v['task']} ({v['variant']}): {v['target']} — {v['value']}"
        for v in verdicts
    )
    (args.out / "agent_tasks.md").write_text(
        f"# devbot agent tasks benchmark\n\n"
        f"{info['date']}, {info['cpu_count']} CPUs, Python {info['python']},"
        f" {info['platform']}; medians of {args.repeats} fresh `devbot run` processes"
        f" after {args.warmup} warm-up run(s). Produced by `bench/run_bench.py`;"
        f" how each figure is measured: `bench/README.md`.\n\n"
        f"{rendered}\n\n## Targets\n\n{verdict_lines}\n",
        encoding="utf-8",
    )
    return 0 if all(v["verdict"] == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
