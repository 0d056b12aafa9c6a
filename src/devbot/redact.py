"""Keep secrets out of everything devbot writes: logs, progress lines, comments, reports.

Secrets are the values of secret-looking environment variables (tokens, keys, passwords)
and anything shaped like a well-known token even when devbot never saw its value (a GitHub
App's installation tokens are `ghs_…`; the GitHub client also redacts its own credentials
from its errors).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 8
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|_KEY)$", re.I)
_TOKEN_SHAPES = re.compile(
    # GitHub's and Slack's prefixes are distinctive wherever they stand; `sk-` must start a
    # word, or follow an escape such as the `\n` of JSON or a shell's printf
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[baprs]-[A-Za-z0-9-]{10,}"
    r"|(?:(?<=\\[nrt])|(?<![A-Za-z0-9]))sk-[A-Za-z0-9_-]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    re.DOTALL,
)


def secrets_from_env(environ: Mapping[str, str] | None = None) -> set[str]:
    env = os.environ if environ is None else environ
    return {
        value
        for name, value in env.items()
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LEN
    }


def _known_secrets() -> list[str]:
    return sorted(secrets_from_env(), key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret, and every token-shaped string, replaced."""
    if not text:
        return text
    for secret in [*extra, *_known_secrets()]:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return _TOKEN_SHAPES.sub(REDACTED, text)
