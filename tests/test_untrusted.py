"""Cleaning forge text before an agent reads it, and redacting secrets from what devbot writes."""

from __future__ import annotations

import logging

import pytest

from devbot.outward import gate_logging
from devbot.redact import REDACTED, redact
from devbot.untrusted import clean_untrusted


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("fix <!-- secret instructions --> this", "fix  this"),
        ("a<!--\nmulti\nline-->b", "ab"),
        ("unclosed <!-- runs to the end", "unclosed"),
        ("zero\u200bwidth\u200d joiner\ufeff", "zerowidth joiner"),
        ("bidi \u202eoverride\u202c and \u2066isolate\u2069", "bidi override and isolate"),
        ("tag \U000e0041\U000e0042 smuggling", "tag  smuggling"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_hidden_text_is_removed(raw: str, clean: str) -> None:
    assert clean_untrusted(raw) == clean


def test_canary_token_is_redacted_from_text_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "canary-value-4f1e9b2c7d"
    monkeypatch.setenv("GITHUB_TOKEN", canary)
    assert redact(f"token={canary}!") == f"token={REDACTED}!"
    assert redact("ghp_" + "a1" * 18) == REDACTED
    installation = "ghs_" + "Zy9" * 12
    assert installation not in redact(f"got {installation}")
    gate_logging()
    with caplog.at_level(logging.INFO):
        for name in ("devbot.test.redact", "uvicorn.error", "some.library"):
            logging.getLogger(name).info("pushing with %s \x1b]0;title\x07", canary)
        try:
            raise RuntimeError(f"failed with {canary}")
        except RuntimeError:
            logging.getLogger("devbot.webhook").exception("boom")
    assert canary not in caplog.text and REDACTED in caplog.text
    assert "\x1b" not in caplog.text and "failed with [REDACTED]" in caplog.text
