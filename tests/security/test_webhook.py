"""The webhook server before authentication, attacked on loopback: bodies past the cap
(chunked, so no Content-Length warns of them), the shared budget of unauthenticated bytes,
clients that stall, more connections than the server keeps, and floods of malformed requests.

Memory and log figures come from a real `devbot serve` process (RSS, peak RSS and bytes read
from /proc); timeouts and the connection cap are checked on the server in this process with
short limits, so the tests wait seconds, not minutes.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devbot.config import load_settings
from devbot.triggers.webhook.limits import MIB, Limits
from devbot.triggers.webhook.signature import sign
from tests.fixtures.devbot_process import DevbotProcess, free_port, output_of
from tests.fixtures.github_double import GitHubDouble
from tests.fixtures.repo import OriginRepo
from tests.fixtures.webhook import (
    IDENTITY,
    SECRET,
    RunningServer,
    StartServer,
    post_delivery,
    review_comment,
)
from tests.security.raw_http import (
    connect,
    exchange,
    filler,
    head,
    pieces,
    proc_figure,
    read_answer,
    upload_chunked,
    wait_closed,
)

CAP = Limits().max_body_bytes
FORGED = "sha256=" + "0" * 64  # well formed, so the body is read before it is refused
KERNEL_BUFFERS = 16 * MIB  # sent but never read: loopback's socket buffers, both ends


def delivery_headers(signature: str | None = None) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "pull_request_review_comment"),
        ("X-GitHub-Delivery", str(uuid.uuid4())),
    ]
    return headers + ([("X-Hub-Signature-256", signature)] if signature else [])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture
def served(
    origin_repo: OriginRepo, devbot_process: DevbotProcess, github_double: GitHubDouble
) -> Iterator[tuple[int, int]]:
    """`devbot serve` as its own process (default limits, GitHub the double); (pid, port)."""
    github_double.add_repo("octo/hello")
    github_double.add_token("serve-token", IDENTITY)
    port = free_port()
    process = devbot_process.start(
        "serve",
        "--repo",
        str(origin_repo.work),
        "--port",
        str(port),
        cwd=origin_repo.work,
        env={
            "DEVBOT_WEBHOOK_SECRET": SECRET.decode(),
            "GITHUB_TOKEN": "serve-token",
            "DEVBOT_GITHUB_API_URL": github_double.url,
            "DEVBOT_GITHUB_REPO": "octo/hello",
        },
    )
    deadline = time.monotonic() + 60
    while not healthy(f"http://127.0.0.1:{port}"):
        assert process.poll() is None, output_of(process)
        assert time.monotonic() < deadline, "devbot serve did not start"
        time.sleep(0.05)
    yield process.pid, port
    assert process.poll() is None, output_of(process)


def in_process(origin_repo: OriginRepo, start: StartServer, limits: Limits) -> RunningServer:
    """The server in this process (dispatch off) with `limits`."""
    settings = load_settings(origin_repo.work, environ={})
    return start(origin_repo.work, settings, dispatch=False, limits=limits, identity=IDENTITY)


def test_chunked_uploads_past_the_cap_are_refused_without_being_held(
    served: tuple[int, int],
) -> None:
    pid, port = served
    url = f"http://127.0.0.1:{port}"
    assert post_delivery(url, "ping", {"zen": "warm up"})[0] == 200
    for signature, held in ((None, 0), (FORGED, CAP)):
        rss_before = proc_figure(pid, "VmRSS")
        sent, answer = upload_chunked(port, delivery_headers(signature), filler(8 * CAP))
        grown = proc_figure(pid, "VmHWM") - rss_before  # the peak since, above the RSS before
        expected = 401 if signature is None else 413
        assert answer is None or answer.status == expected, answer
        # what the server read is at most what was sent, less what loopback's buffers hold
        assert sent <= held + KERNEL_BUFFERS, f"sent {sent / MIB:.0f} MiB before the refusal"
        assert grown < held + 8 * MIB, f"RSS grew by {grown / MIB:.0f} MiB"
    body = json.dumps(review_comment("x" * (3 * MIB))).encode()
    sent, answer = upload_chunked(port, delivery_headers(sign(SECRET, body)), pieces(body))
    assert answer is not None and answer.status == 202, answer
    assert sent == len(body)


def test_unauthenticated_bodies_share_one_budget(
    origin_repo: OriginRepo, webhook_server: StartServer
) -> None:
    server = in_process(origin_repo, webhook_server, Limits(body_budget_bytes=MIB))
    body = json.dumps(review_comment("x" * (2 * MIB))).encode()
    headers = [*delivery_headers(sign(SECRET, body)), ("Content-Length", str(len(body)))]
    port = server.server.port
    with connect(port) as sock:  # refused before the body is sent
        sock.sendall(head("POST", "/webhook", headers))
        answer = read_answer(sock)
    assert answer is not None and answer.status == 503, answer
    assert answer.headers["retry-after"] == "5"
    _, answer = upload_chunked(port, delivery_headers(sign(SECRET, body)), pieces(body))
    assert answer is None or answer.status == 503, answer
    assert server.post("pull_request_review_comment", review_comment())[0] == 202


def partial_headers(port: int) -> socket.socket:
    sock = connect(port)
    sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Ev")
    return sock


def stalled_body(port: int, chunked: bool) -> socket.socket:
    sock = connect(port)
    framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", "1000")
    sock.sendall(head("POST", "/webhook", [*delivery_headers(FORGED), framing]))
    sock.sendall(b"3e8\r\n" + b"{" * 10 if chunked else b"{" * 10)
    return sock


def test_stalled_clients_are_dropped_and_others_are_answered_meanwhile(
    origin_repo: OriginRepo, webhook_server: StartServer
) -> None:
    server = in_process(origin_repo, webhook_server, Limits(header_timeout_s=4, body_timeout_s=5))
    port = server.server.port
    stalled = [partial_headers(port) for _ in range(300)]
    stalled += [stalled_body(port, chunked=n % 2 == 0) for n in range(40)]
    try:
        assert healthy(server.url)
        assert server.post("pull_request_review_comment", review_comment())[0] == 202
        assert len(wait_closed(stalled, timeout=0)) == len(stalled), "answered only after drops"
        assert wait_closed(stalled, timeout=60) == set()
        assert healthy(server.url)
    finally:
        for sock in stalled:
            sock.close()


def test_past_the_connection_cap_the_longest_waiting_connection_is_dropped(
    origin_repo: OriginRepo, webhook_server: StartServer
) -> None:
    limits = Limits(max_connections=50, header_timeout_s=120, body_timeout_s=120)
    server = in_process(origin_repo, webhook_server, limits)
    stalled = [partial_headers(server.server.port) for _ in range(200)]
    try:
        assert healthy(server.url)
        assert server.post("pull_request_review_comment", review_comment())[0] == 202
        still_open = wait_closed(stalled, timeout=60, until_open=50)
        assert len(still_open) <= 50
        assert set(stalled[-40:]) <= still_open, "the newest stalled clients were dropped first"
    finally:
        for sock in stalled:
            sock.close()


def test_a_flood_of_malformed_requests_logs_a_bounded_number_of_lines(
    served: tuple[int, int], devbot_process: DevbotProcess
) -> None:
    _, port = served
    log = Path(devbot_process.started[-1].log_path)  # type: ignore[attr-defined]
    lines_before = len(log.read_text().splitlines())
    for _ in range(300):
        answer = exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
        assert answer is None or answer.status == 400
    assert healthy(f"http://127.0.0.1:{port}")
    new_lines = log.read_text().splitlines()[lines_before:]
    invalid = [line for line in new_lines if "Invalid HTTP request" in line]
    assert 1 <= len(invalid) <= 6, invalid
    assert "similar messages suppressed" in invalid[-1]
    assert len(new_lines) <= 10, new_lines
