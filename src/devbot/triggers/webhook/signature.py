"""GitHub's delivery signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "sha256="
_SHAPE = re.compile(r"sha256=[0-9a-f]{64}")


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def well_formed(header: str | None) -> bool:
    """True when `header` has the shape of GitHub's signature, so a request without one is
    refused before its body is read."""
    return header is not None and _SHAPE.fullmatch(header) is not None


class Verifier:
    """The HMAC of a body fed in chunks as it arrives, checked once the body is complete."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)

    def update(self, chunk: bytes) -> None:
        self._mac.update(chunk)

    def matches(self, header: str | None) -> bool:
        """True when `header` signs everything fed so far; compared in constant time."""
        if header is None or not well_formed(header):
            return False
        expected = PREFIX + self._mac.hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), header.encode("ascii"))
