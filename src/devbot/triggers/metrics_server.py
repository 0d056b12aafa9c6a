"""`GET /metrics` of a `devbot worker`: a small HTTP server on `metrics_host:metrics_port`.

It answers `/metrics` (the Prometheus text format, from `runs.engine.metrics`, cached for a
few seconds) and `/healthz`, 404 to anything else, and reads no request body. `devbot serve`
answers `/metrics` on its webhook port instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devbot.runs.engine.metrics import CONTENT_TYPE


class MetricsServer:
    """Serves `text()` at `/metrics` from a daemon thread until `stop`."""

    def __init__(self, text: Callable[[], str], host: str, port: int) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(text))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="devbot-metrics", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host!s}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(text: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, text(), CONTENT_TYPE)
            elif path == "/healthz":
                self._send(200, "ok\n", "text/plain; charset=utf-8")
            else:
                self._send(404, "not found\n", "text/plain; charset=utf-8")

        def _send(self, status: int, body: str, kind: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
