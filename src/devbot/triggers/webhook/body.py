"""Read a delivery's body as it streams in, before it is authenticated.

Chunked or not, the body is counted, hashed and held chunk by chunk: past the cap the
request is refused without keeping the chunk that crossed it, and every byte held counts
against the server-wide budget, so anonymous uploads never hold more than the budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from devbot.triggers.webhook.limits import Hold
from devbot.triggers.webhook.signature import Verifier


class Refused(Exception):
    """The body cannot be read within the limits: answer `status` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


TOO_LARGE = 413
BUSY = 503


def check_declared(declared: str | None, max_bytes: int, hold: Hold) -> None:
    """Refuse a declared Content-Length over the cap, or over what the budget has left,
    before any byte of the body is read."""
    if declared is None or not (declared.isascii() and declared.isdigit()):
        return
    if int(declared) > max_bytes:
        raise Refused(TOO_LARGE, "too large")
    if not hold.ensure(int(declared)):
        raise Refused(BUSY, "busy")


async def read_body(
    chunks: AsyncIterator[bytes], verifier: Verifier, max_bytes: int, hold: Hold
) -> list[bytes]:
    """The body's chunks, fed to `verifier` as they arrive; raises Refused past the cap or
    the budget (the crossing chunk is never kept). Joined only once the signature matched,
    so an unauthenticated body is held once, never twice."""
    parts: list[bytes] = []
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise Refused(TOO_LARGE, "too large")
        if not hold.ensure(total):
            raise Refused(BUSY, "busy")
        verifier.update(chunk)
        parts.append(chunk)
    return parts
