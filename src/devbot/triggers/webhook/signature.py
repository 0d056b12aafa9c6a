"""GitHub's delivery signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def is_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of the raw `body`; compared in constant time."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(
        sign(secret, body).encode("ascii"), header.encode("ascii", "replace")
    )
