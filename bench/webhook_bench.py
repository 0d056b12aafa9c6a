"""Webhook ingestion benchmark: signed deliveries per second accepted on loopback, p50/p99
time to answer, and a check that every accepted delivery is in the database.

The server (`devbot serve`'s app under uvicorn, SQLite run database) runs in a child process;
this process drives it for --seconds with --concurrency keep-alive connections, each posting
a signed `pull_request_review_comment` delivery with a fresh `X-GitHub-Delivery` and waiting
for the answer (bounded concurrency). The dispatcher is off: this measures the HTTP edge
(verify, parse, store, answer), not the workflows behind it.

    .venv/bin/python bench/webhook_bench.py [--seconds 30] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SECRET = b"bench-webhook-secret"
RESULTS = Path(__file__).parent / "results"
PAYLOAD = {
    "action": "created",
    "comment": {
        "id": 1,
        "body": "Please rename `x` to `count`.",
        "user": {"login": "alice", "type": "User"},
        "path": "utils.py",
        "line": 3,
        "diff_hunk": "@@ -1,3 +1,3 @@\n-x = 1\n+count = 1",
        "created_at": "2026-11-24T10:00:00Z",
        "updated_at": "2026-11-24T10:00:00Z",
    },
    "pull_request": {
        "number": 1,
        "body": "",
        "user": {"login": "devbot-bench", "type": "User"},
        "head": {"ref": "devbot/x"},
    },
    "repository": {"full_name": "octo/hello"},
    "sender": {"login": "alice", "type": "User"},
}


def serve(repo: Path, port_file: Path) -> None:
    """Child process: the webhook server on a free port, dispatcher off. Older revisions
    (measured side by side by webhook_attack_bench.py) had another constructor."""
    import inspect

    from devbot.config import load_settings
    from devbot.triggers.webhook.server import WebhookServer

    settings = load_settings(repo, environ={})
    parameters = inspect.signature(WebhookServer).parameters
    if "runtime" in parameters:
        from devbot.runs.runtime import Runtime

        runtime = Runtime.open(settings, repo)
        server = WebhookServer(runtime, SECRET, identity="devbot-bench", port=0)
    else:
        extra = {"identity": "devbot-bench"} if "identity" in parameters else {}
        server = WebhookServer(repo, settings, {}, SECRET, port=0, dispatch=False, **extra)
    port_file.write_text(str(server.port))
    server.serve_forever()


async def client(
    port: int, body: bytes, signature: str, until: float, latencies: list[float], ids: list[str]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    while time.perf_counter() < until:
        delivery = str(uuid.uuid4())
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: pull_request_review_comment\r\nX-GitHub-Delivery: {delivery}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if status_line.split()[1] == b"202":
            ids.append(delivery)
        else:
            errors += 1
    writer.close()
    return errors


async def drive(port: int, seconds: float, concurrency: int) -> tuple[list[float], list[str], int]:
    from devbot.triggers.webhook.signature import sign

    body = json.dumps(PAYLOAD).encode()
    signature = sign(SECRET, body)
    latencies: list[float] = []
    ids: list[str] = []
    until = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(client(port, body, signature, until, latencies, ids) for _ in range(concurrency))
    )
    return latencies, ids, sum(errors)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]))
        return 0

    from devbot.config import load_settings
    from devbot.runs.runtime import Runtime

    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        port_file = Path(folder) / "port"
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(repo), str(port_file)],
            env={**os.environ, "DEVBOT_WEBHOOK_SECRET": SECRET.decode()},
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("the webhook server did not start")
                time.sleep(0.05)
            time.sleep(0.5)
            port = int(port_file.read_text())
            asyncio.run(drive(port, 2.0, args.concurrency))  # warm-up
            latencies, ids, errors = asyncio.run(drive(port, args.seconds, args.concurrency))
        finally:
            child.terminate()
            child.wait(timeout=30)
        runtime = Runtime.open(load_settings(repo, environ={}), repo)
        stored = runtime.inbox.ids()
        runtime.close()
        lost = [delivery for delivery in ids if delivery not in stored]

    figures = {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "accepted": len(ids),
        "non_202": errors,
        "accepted_per_s": round(len(ids) / args.seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "lost": len(lost),
        "database": "SQLite (.devbot/runs.sqlite)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "target": ">= 500/s accepted, p99 < 100 ms, nothing lost",
    }
    passed = figures["accepted_per_s"] >= 500 and figures["p99_ms"] < 100 and not lost
    figures["meets_target"] = passed
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webhook.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    rows = "\n".join(f"| {key} | {value} |" for key, value in figures.items())
    (RESULTS / "webhook.md").write_text(
        "# Webhook ingestion (bench/webhook_bench.py)\n\n| figure | value |\n| --- | --- |\n"
        + rows
        + "\n",
        encoding="utf-8",
    )
    print(json.dumps(figures, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
