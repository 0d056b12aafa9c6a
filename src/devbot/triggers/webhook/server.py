"""`devbot serve`: the webhook app under uvicorn, plus the dispatcher that starts workflows.

The HTTP side only stores accepted deliveries; a dispatcher thread, woken by each accepted
delivery (and every second, for deliveries stored before a crash), starts their durable
workflows. DBOS runs those workflows and the feedback runs in this process. Before a request
is authenticated the server spends bounded memory and time on it (`limits.py`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn

from devbot.config import ConfigError, Settings
from devbot.runs.engine.engine import Engine, running
from devbot.runs.engine.metrics import WebhookCounts
from devbot.runs.runtime import ForgeUnavailable, Runtime
from devbot.triggers.dashboard.server import dashboard_for
from devbot.triggers.interrupt import stop_on_interrupt
from devbot.triggers.webhook.app import create_app
from devbot.triggers.webhook.connections import (
    ConnectionGuard,
    connection_cap,
    protocol_class,
    raise_fd_limit,
)
from devbot.triggers.webhook.limits import Limits
from devbot.triggers.webhook.log_limit import RateLimitFilter, limit_logging
from devbot.vcs.repository import Repository

SECRET_ENV = "DEVBOT_WEBHOOK_SECRET"
log = logging.getLogger("devbot.webhook")


def webhook_secret(environ: dict[str, str] | None = None) -> bytes:
    """The secret from the environment; refuses to go on without one (fail closed)."""
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    if not value.strip():
        raise ConfigError(
            f"{SECRET_ENV} is not set: devbot serve refuses to start without the webhook "
            "secret (the one configured in GitHub's webhook settings), since it could not "
            "tell GitHub's deliveries from anyone else's"
        )
    return value.encode("utf-8")


class Dispatcher:
    """Starts the workflows of stored deliveries, one pass per wake-up."""

    def __init__(self, work: Callable[[], int], interval_s: float = 1.0) -> None:
        self.work, self.interval_s = work, interval_s
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="devbot-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.work()
            except Exception:
                log.exception("dispatching webhook deliveries failed; retrying")


class WebhookServer:
    """The app on `host:port` (0 = any free port) in a thread, or in the foreground."""

    def __init__(
        self,
        runtime: Runtime,
        secret: bytes,
        *,
        identity: str,
        engine: Engine | None = None,
        flags: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        limits: Limits | None = None,
        dashboard: Any = None,
    ) -> None:
        """`identity`: devbot's own login on the forge (`forge_identity`). With `engine`,
        accepted deliveries are dispatched to their workflows (with the server's `flags`);
        without, they are only stored. `dashboard`: an app served at every other path."""
        settings = runtime.settings
        self.runtime, self.settings = runtime, settings
        limits = limits or Limits.from_settings(settings)
        self.limits = replace(
            limits, max_connections=connection_cap(limits.max_connections, raise_fd_limit())
        )
        self.guard = ConnectionGuard(self.limits)
        self.inbox = runtime.inbox
        self.webhooks = WebhookCounts()
        metrics = engine.metrics(self.webhooks) if engine is not None else None
        passed = dict(flags or {})
        self.dispatcher = Dispatcher(
            lambda: engine.dispatch_deliveries(passed) if engine is not None else 0
        )
        self.dispatch = engine is not None
        wake = self.dispatcher.wake if self.dispatch else (lambda: None)
        self.app = create_app(
            secret=secret,
            settings=settings,
            inbox=self.inbox,
            on_accepted=wake,
            identity=identity,
            limits=self.limits,
            counts=self.webhooks,
            metrics=metrics.text if metrics is not None else None,
        )
        if dashboard is not None:
            self.app.mount("/", dashboard)
        self.socket = socket.create_server((host, port), reuse_port=False)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on accept
        self.host, self.port = self.socket.getsockname()[:2]
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _uvicorn(self) -> Any:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http=protocol_class(self.guard),
            h11_max_incomplete_event_size=self.limits.max_header_bytes,
            timeout_graceful_shutdown=5,
        )
        limit_logging(RateLimitFilter())  # after Config, which reconfigures uvicorn's logging
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> None:
        """Serve in a background thread; returns once the server accepts connections."""
        server = self._uvicorn()
        if self.dispatch:
            self.dispatcher.start()
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[self.socket]), name="devbot-webhooks", daemon=True
        )
        self._thread.start()
        started = threading.Event()
        while not started.wait(0.01):
            if server.started or not self._thread.is_alive():
                started.set()
        if not server.started:
            raise RuntimeError("the webhook server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.dispatch:
            self.dispatcher.stop()
        self.socket.close()

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM."""
        server = self._uvicorn()
        if self.dispatch:
            self.dispatcher.start()
            self.dispatcher.wake()
        try:
            server.run(sockets=[self.socket])
        finally:
            if self.dispatch:
                self.dispatcher.stop()
            self.socket.close()


def forge_identity(runtime: Runtime) -> str:
    """devbot's own login on the forge, which tells its PRs and comments from anyone's."""
    from devbot.vcs.github.client import GitHubError  # lazy: httpx only with GitHub

    try:
        return runtime.feedback_forge().identity()
    except (ForgeUnavailable, GitHubError) as exc:
        raise ConfigError(f"devbot serve cannot learn its own login on the forge: {exc}") from None


def serve(
    repo: Path | None,
    repository: Repository | None,
    settings: Settings,
    flags: dict[str, Any],
    host: str,
    port: int,
    say: Any,
) -> int:
    """Serve webhooks for the checkout `repo`, or for `repository` by URL. With external
    workers (`workers = "external"`) this process only dispatches: runs go to the queues."""
    secret = webhook_secret()
    local = settings.workers == "local"
    with running(
        settings, repo, repository=repository, serve_queue=local, serve_feedback=True
    ) as engine:
        identity = forge_identity(engine.runtime)
        server = WebhookServer(
            engine.runtime,
            secret,
            identity=identity,
            engine=engine,
            flags=flags,
            host=host,
            port=port,
            dashboard=dashboard_for(engine, settings, host),
        )
        where = repo or engine.runtime.served.url
        runs = "runs here" if local else "runs go to the workers"
        say(
            f"devbot serve: POST {server.url}/webhook, GET {server.url}/healthz and /metrics "
            f"(repo {where}; {runs})"
        )
        say(f"dashboard: {server.url}/")
        stop_on_interrupt(engine.runtime, say)  # uvicorn passes the signal on when it stops
        server.serve_forever()
    return 0
