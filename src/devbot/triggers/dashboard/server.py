"""`devbot ui`: the dashboard alone (a laptop, SQLite), and the dashboard `devbot serve` mounts.

Both launch the engine on the runtime's database: the dashboard reads DBOS's records and
its resume and retry buttons start runs (in this process when `workers = "local"`, as
`devbot runs resume` does). The server is uvicorn with the webhook server's connection
guard (a deadline on each phase that waits on the client, a connection cap).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from devbot.config import ConfigError, Settings
from devbot.runs.engine.engine import Engine, running
from devbot.triggers.dashboard.access import TOKEN_ENV, Access, dashboard_token, is_loopback
from devbot.triggers.dashboard.app import create_dashboard
from devbot.triggers.interrupt import stop_on_interrupt
from devbot.triggers.webhook.connections import (
    ConnectionGuard,
    connection_cap,
    protocol_class,
    raise_fd_limit,
)
from devbot.triggers.webhook.limits import Limits

DEFAULT_PORT = 8080


def dashboard_for(engine: Engine, settings: Settings, host: str) -> FastAPI:
    """The dashboard of a server bound to `host`, its access from the environment and
    settings; its event streams end when the runtime stops."""
    access = Access.build(dashboard_token(), host, settings.dashboard_login)
    return create_dashboard(engine, settings, access, engine.runtime.stopping)


class DashboardServer:
    """An ASGI app on `host:port` (0 = any free port), in a thread or in the foreground."""

    def __init__(self, app: Any, settings: Settings, host: str, port: int) -> None:
        limits = Limits.from_settings(settings)
        cap = connection_cap(limits.max_connections, raise_fd_limit())
        self.guard = ConnectionGuard(Limits(max_connections=cap))
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                loop="asyncio",
                http=protocol_class(self.guard),
                timeout_graceful_shutdown=2,
            )
        )
        self.socket = _listen(host, port)
        self.host, self.port = self.socket.getsockname()[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a background thread; returns once connections are accepted."""
        self._thread = threading.Thread(
            target=lambda: self.server.run(sockets=[self.socket]),
            name="devbot-dashboard",
            daemon=True,
        )
        self._thread.start()
        started = threading.Event()
        while not started.wait(0.01):
            if self.server.started or not self._thread.is_alive():
                started.set()
        if not self.server.started:
            raise RuntimeError("the dashboard server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    def serve_forever(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, reuse_port=False)


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve the dashboard off the loopback with no way to log in."""
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"devbot ui --host {host} would serve runs beyond this machine with no login: set "
            f"{TOKEN_ENV} (16 characters or more), or keep the default 127.0.0.1"
        )


def serve_ui(repo: Path, settings: Settings, host: str, port: int, say: Any) -> int:
    check_exposure(host, dashboard_token())
    local = settings.workers == "local"
    with running(settings, repo, serve_queue=local) as engine:
        server = DashboardServer(dashboard_for(engine, settings, host), settings, host, port)
        say(f"devbot ui: {server.url}/ (repo {repo}; Ctrl-C to stop)")
        stop_on_interrupt(engine.runtime, say)
        server.serve_forever()
    return 0
