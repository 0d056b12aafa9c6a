"""A counting proxy in front of the model server: every agent talks to it, so requests and
tokens are measured the same way for devbot and its peers.

It forwards each request as it came, except that it pins `temperature` to 0 (the benchmark's
rule for everyone), and adds up `usage` from each answer (JSON, or the last SSE chunk that
carries one).
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 8 * 1024 * 1024


@dataclass
class Tally:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        """`upstream`: the model server's base URL, e.g. http://127.0.0.1:8088/v1."""
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.tally = Tally()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> Tally:
        """The tally since the last take (one agent run)."""
        with self.lock:
            tally, self.tally = self.tally, Tally()
        return tally

    def _count(self, usage: object, counted_request: bool) -> None:
        with self.lock:
            if counted_request:
                self.tally.requests += 1
            if isinstance(usage, dict):
                self.tally.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                self.tally.completion_tokens += int(usage.get("completion_tokens") or 0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if isinstance(body, dict) and "messages" in body:
                    body["temperature"] = 0
                    if body.get("stream"):
                        body["stream_options"] = {"include_usage": True}
                    raw = json.dumps(body).encode()
                self._forward(raw, chat=isinstance(body, dict) and "messages" in body)

            def _forward(self, raw: bytes, chat: bool = False) -> None:
                upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=900)
                headers = {"content-type": "application/json", "content-length": str(len(raw))}
                upstream.request(self.command, self.path, raw or None, headers)
                answer = upstream.getresponse()
                data = answer.read()
                if chat:
                    proxy._count(_usage_of(data), counted_request=True)
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _usage_of(data: bytes) -> object:
    try:
        return json.loads(data).get("usage")
    except (ValueError, AttributeError):
        pass
    usage: object = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("data: {"):
            try:
                usage = json.loads(line[6:]).get("usage") or usage
            except ValueError:
                continue
    return usage
