"""Webhook server under attack, before and after its pre-authentication limits: memory during
a 300 MB chunked upload, `/healthz` latency while 2,000 connections stall, how many stalled
connections the server still holds, log lines for a flood of malformed requests, and signed
deliveries per second (as bench/webhook_bench.py measures them), side by side.

"before" is the server of a git revision (default: where this branch left main), extracted
with `git archive` into a temporary folder; "after" is this checkout's. Each runs in a child
process (`webhook_bench.py --serve`: dispatcher off, SQLite) with that revision's `src` first
on PYTHONPATH; this process drives it over loopback and reads its memory from /proc.

    .venv/bin/python bench/webhook_attack_bench.py [--before REV] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from webhook_bench import SECRET, drive, percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
SERVE_SCRIPT = Path(__file__).parent / "webhook_bench.py"
MIB = 1024 * 1024
CHUNK = 64 * 1024
UPLOAD = 300 * 1000 * 1000
STALLERS = 2000
HEALTHZ_SAMPLES = 200
FORGED = "sha256=" + "0" * 64


def status_figure(pid: int, name: str) -> int:
    """`VmRSS`, `VmHWM`, ... of process `pid`, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer_status(sock: socket.socket) -> int | None:
    """The status of the server's answer, or None when it closed without one."""
    data = b""
    try:
        while b"\r\n" not in data:
            more = sock.recv(CHUNK)
            if not more:
                return None
            data += more
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        return None
    return int(data.split()[1])


def readable(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def upload(port: int, pid: int, signature: str | None) -> dict[str, Any]:
    """A chunked POST of UPLOAD bytes, stopped when the server answers or closes; the server's
    RSS sampled every 5 ms meanwhile."""
    rss_before = status_figure(pid, "VmRSS")
    peak = [rss_before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], status_figure(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    headers = "X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: bench\r\n"
    if signature:
        headers += f"X-Hub-Signature-256: {signature}\r\n"
    frame = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    sent, status = 0, None
    started = time.perf_counter()
    with connect(port) as sock:
        request = f"POST /webhook HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\n"
        sock.sendall(request.encode() + b"\r\n")
        try:
            while sent < UPLOAD:
                sock.sendall(frame)
                sent += CHUNK
                if readable(sock):
                    break
            else:
                sock.sendall(b"0\r\n\r\n")
            status = answer_status(sock)
        except (ConnectionResetError, BrokenPipeError):
            status = None
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], status_figure(pid, "VmRSS"))
    return {
        "signature": "forged (well formed)" if signature else "none",
        "sent_mb": round(sent / 1e6, 1),
        "answer": status if status is not None else "closed",
        "seconds": round(seconds, 2),
        "rss_before_mb": round(rss_before / MIB, 1),
        "rss_peak_mb": round(peak[0] / MIB, 1),
        "rss_growth_mb": round((peak[0] - rss_before) / MIB, 1),
        "rss_after_mb": round(status_figure(pid, "VmRSS") / MIB, 1),
    }


def stallers(port: int, count: int) -> list[socket.socket]:
    """Half of them send part of the request headers, half full headers and 10 bytes of a
    1,000-byte body (with a well-formed signature, so the body is waited for)."""
    opened = []
    for n in range(count):
        sock = connect(port)
        if n % 2:
            sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Ev")
        else:
            sock.sendall(
                f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: {FORGED}\r\n"
                "X-GitHub-Event: ping\r\nX-GitHub-Delivery: s\r\nContent-Length: 1000\r\n\r\n"
                "{{{{{{{{{{".encode()
            )
        opened.append(sock)
    return opened


def still_open(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the server has not closed (a readable socket reads EOF/reset)."""
    poller = select.poll()
    by_fd = {sock.fileno(): sock for sock in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    closed = 0
    for fd, _ in poller.poll(0):
        try:
            closed += not by_fd[fd].recv(CHUNK, socket.MSG_PEEK)
        except ConnectionResetError:
            closed += 1
    return len(sockets) - closed


def healthz_latencies(port: int, samples: int) -> tuple[list[float], int]:
    latencies, failures = [], 0
    for _ in range(samples):
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                status = answer_status(sock)
        except OSError:
            status = None
        if status == 200:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
    return latencies, failures


def stall(port: int, log: Path, wait_s: float) -> dict[str, Any]:
    baseline, _ = healthz_latencies(port, 50)
    log_before = log.stat().st_size
    opened = stallers(port, STALLERS)
    try:
        latencies, failures = healthz_latencies(port, HEALTHZ_SAMPLES)
        held = still_open(opened)
        deadline = time.monotonic() + wait_s
        while still_open(opened) and time.monotonic() < deadline:
            time.sleep(0.5)
        remaining = still_open(opened)
    finally:
        for sock in opened:
            sock.close()
    time.sleep(2)  # what the server logs about the closed connections
    logged = log.read_bytes()[log_before:]
    ms = [1000 * value for value in latencies]
    return {
        "stalled_connections_opened": STALLERS,
        "held_by_server_after_healthz_samples": held,
        "healthz_idle_p50_ms": round(statistics.median(baseline) * 1000, 2),
        "healthz_p50_ms": round(statistics.median(ms), 2) if ms else None,
        "healthz_p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
        "healthz_max_ms": round(max(ms), 2) if ms else None,
        "healthz_failures": failures,
        f"still_open_after_{wait_s:g}_s": remaining,
        "log_lines": logged.count(b"\n"),
    }


def flood(port: int, log: Path, count: int) -> dict[str, Any]:
    before = log.stat().st_size
    for _ in range(count):
        with connect(port) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            answer_status(sock)
    added = log.read_bytes()[before:]
    return {
        "malformed_requests": count,
        "log_lines": added.count(b"\n"),
        "log_bytes": len(added),
    }


def start_server(src: Path, folder: Path, name: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    repo = folder / f"repo-{name}"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    port_file, log = folder / f"port-{name}", folder / f"server-{name}.log"
    child = subprocess.Popen(
        [sys.executable, str(SERVE_SCRIPT), "--serve", str(repo), str(port_file)],
        env={**os.environ, "DEVBOT_WEBHOOK_SECRET": SECRET.decode(), "PYTHONPATH": str(src)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or child.poll() is not None:
            raise SystemExit(f"the {name} server did not start:\n{log.read_text()}")
        time.sleep(0.05)
    port = int(port_file.read_text())
    while not healthz_latencies(port, 1)[0]:
        time.sleep(0.05)
    return child, port, log


def measure(src: Path, folder: Path, name: str, seconds: float, wait_s: float) -> dict[str, Any]:
    child, port, log = start_server(src, folder, name)
    try:
        asyncio.run(drive(port, 2.0, 16))  # warm-up
        latencies, ids, errors = asyncio.run(drive(port, seconds, 16))
        figures: dict[str, Any] = {
            "deliveries_per_s": round(len(ids) / seconds, 1),
            "delivery_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "delivery_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "delivery_non_202": errors,
        }
        figures["upload_unsigned"] = upload(port, child.pid, None)
        figures["upload_forged_signature"] = upload(port, child.pid, FORGED)
        figures["stall"] = stall(port, log, wait_s)
        figures["flood"] = flood(port, log, 2000)
        figures["server_alive"] = child.poll() is None and bool(healthz_latencies(port, 1)[0])
    finally:
        child.terminate()
        child.wait(timeout=30)
    return figures


def extract(revision: str, folder: Path) -> Path:
    """The `src` folder of `revision`, from `git archive` (no worktree, no checkout)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    target = folder / "before"
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=None, help="revision to compare (merge base)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stall-wait", type=float, default=45.0)
    args = parser.parse_args()
    before = (
        args.before
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        variants = {"before": extract(before, folder), "after": ROOT / "src"}
        results = {
            label: measure(src, folder, label, args.seconds, args.stall_wait)
            for label, src in variants.items()
        }
    after = results["after"]
    checks = {
        "rss_growth_under_100_mb": all(
            after[key]["rss_growth_mb"] < 100
            for key in ("upload_unsigned", "upload_forged_signature")
        ),
        "healthz_p99_under_1_s": (after["stall"]["healthz_p99_ms"] or 1e9) < 1000,
        "no_healthz_failures": after["stall"]["healthz_failures"] == 0,
        "stalled_all_dropped": after["stall"][f"still_open_after_{args.stall_wait:g}_s"] == 0,
        "throughput_within_10_percent": after["deliveries_per_s"]
        >= 0.9 * results["before"]["deliveries_per_s"],
    }
    figures = {
        "before": {"revision": before[:12], **results["before"]},
        "after": {"revision": "this checkout", **after},
        "checks": checks,
        "meets_target": all(checks.values()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, RLIMIT_NOFILE {hard}",
        "target": "RSS growth < 100 MB during a 300 MB upload, /healthz p99 < 1 s while "
        "2,000 connections stall, deliveries/s within 10% of before",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webhook_attack.json").write_text(json.dumps(figures, indent=2) + "\n")
    (RESULTS / "webhook_attack.md").write_text(markdown(figures))
    print(json.dumps(figures, indent=2))
    return 0 if figures["meets_target"] else 1


def flat(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}: "))
        else:
            out[prefix + key] = value
    return out


def markdown(figures: dict[str, Any]) -> str:
    before, after = flat(figures["before"]), flat(figures["after"])
    rows = "\n".join(f"| {key} | {before.get(key)} | {after[key]} |" for key in after)
    checks = "\n".join(f"| {key} | {value} |" for key, value in figures["checks"].items())
    return (
        "# Webhook server under attack (bench/webhook_attack_bench.py)\n\n"
        f"{figures['machine']}. Target: {figures['target']}.\n\n"
        "| figure | before | after |\n| --- | --- | --- |\n"
        f"{rows}\n\n| check | passed |\n| --- | --- |\n{checks}\n\n"
        f"meets target: {figures['meets_target']}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
