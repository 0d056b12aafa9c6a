"""What the webhook server spends on a request before it is authenticated, and the shared
budget of bytes that unauthenticated bodies may hold at once.

A delivery is authenticated only once its whole body has been read (the signature covers
the body), so until then each request costs memory and a connection; these bounds keep an
anonymous client from turning that into an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from devbot.config import Settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on one request and on the whole server, before authentication."""

    max_body_bytes: int = 25 * MIB  # GitHub caps payloads at 25 MB
    body_budget_bytes: int = 64 * MIB  # unauthenticated bodies held at once, server-wide
    max_header_bytes: int = 16 * 1024  # request line and headers (h11's own default)
    header_timeout_s: float = 10.0  # from the connection (or the last answer) to full headers
    body_timeout_s: float = 30.0  # from the headers to the body's last byte
    max_connections: int = 1000
    retry_after_s: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(max_connections=settings.webhook_max_connections)


class ByteBudget:
    """Bytes that unauthenticated bodies may hold at once; used from the event loop only."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0

    def hold(self) -> Hold:
        return Hold(self)


class Hold:
    """One request's share of the budget, grown as its body arrives, returned on exit."""

    def __init__(self, budget: ByteBudget) -> None:
        self.budget = budget
        self.held = 0

    def ensure(self, total: int) -> bool:
        """Hold `total` bytes in all; False (and nothing more held) when the budget is short."""
        more = total - self.held
        if more <= 0:
            return True
        if self.budget.used + more > self.budget.capacity:
            return False
        self.budget.used += more
        self.held = total
        return True

    def __enter__(self) -> Hold:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.budget.used -= self.held
        self.held = 0
