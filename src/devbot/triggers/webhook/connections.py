"""Bound what clients that stall cost the server: time per request phase, and connections.

uvicorn's h11 protocol has no timeout while it waits for a request (its keep-alive timer
starts only after an answer, and any byte cancels it), so a client sending headers or a body
a byte at a time, or not at all, held its connection forever. Here each connection waiting on
its client has a deadline for its phase (request headers, then the body), and past
`max_connections` a new connection closes the one that has waited on its client the longest:
stalled clients go first, a delivery still gets in, and `/healthz` still answers.

There is no per-client cap: GitHub delivers from a few addresses (one, behind a proxy), which
such a cap would throttle first, while an attacker with many addresses would not feel it.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Any, ClassVar, Literal

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from devbot.triggers.webhook.limits import Limits

FD_RESERVE = 256  # descriptors kept for the database, git, the sandbox and logs
log = logging.getLogger("devbot.webhook")

Phase = Literal["headers", "body", "server"]


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, hard)
    return soft


def connection_cap(wanted: int, fd_limit: int) -> int:
    """`wanted`, lowered to leave FD_RESERVE descriptors free under the open-file limit."""
    if fd_limit == resource.RLIM_INFINITY:
        return wanted
    cap = max(1, min(wanted, fd_limit - FD_RESERVE))
    if cap < wanted:
        log.warning(
            "webhook_max_connections lowered from %d to %d (open-file limit %d)",
            wanted,
            cap,
            fd_limit,
        )
    return cap


class ConnectionGuard:
    """The server's open connections; those waiting on their client in order of waiting."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._open: set[GuardedH11Protocol] = set()
        self._waiting: OrderedDict[GuardedH11Protocol, None] = OrderedDict()

    def admit(self, connection: GuardedH11Protocol) -> bool:
        """Count a new connection in; at the cap, first drop the connection that has waited
        on its client the longest. False when every open connection is busy in the server."""
        if len(self._open) >= self.limits.max_connections:
            if not self._waiting:
                log.warning("connection limit (%d) reached", self.limits.max_connections)
                return False
            log.warning(
                "connection limit (%d) reached: dropped the connection waiting longest",
                self.limits.max_connections,
            )
            next(iter(self._waiting)).drop()
        self._open.add(connection)
        return True

    def waiting(self, connection: GuardedH11Protocol) -> None:
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def not_waiting(self, connection: GuardedH11Protocol) -> None:
        self._waiting.pop(connection, None)

    def forget(self, connection: GuardedH11Protocol) -> None:
        self._open.discard(connection)
        self._waiting.pop(connection, None)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each phase that waits on the client and a
    place in its server's ConnectionGuard. Bound to one guard by `protocol_class`."""

    guard: ClassVar[ConnectionGuard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase: Phase | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.abort()
            return
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self.guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def drop(self) -> None:
        """Close at once: nothing is owed to a client that stalls."""
        self._cancel_deadline()
        self.guard.forget(self)
        if not self.transport.is_closing():
            self.transport.abort()

    def _follow(self) -> None:
        """Track the request's phase; a new phase that waits on the client gets a deadline."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        phase: Phase = (
            "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else "server"
        )
        if phase == self._phase:
            return
        self._phase = phase
        self._cancel_deadline()
        if phase == "server":
            self.guard.not_waiting(self)
            return
        self.guard.waiting(self)
        limits = self.guard.limits
        timeout = limits.header_timeout_s if phase == "headers" else limits.body_timeout_s
        self._deadline = self.loop.call_later(timeout, self._expire, phase, timeout)

    def _expire(self, phase: Phase, timeout: float) -> None:
        self._deadline = None
        what = "request headers" if phase == "headers" else "request body"
        log.warning("dropped a connection: its %s took longer than %g s", what, timeout)
        self.drop()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def protocol_class(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol bound to `guard` (uvicorn builds protocols from a class)."""

    class Bound(GuardedH11Protocol):
        pass

    Bound.guard = guard
    return Bound
