"""Costs from genai-prices' bundled table."""

from __future__ import annotations

import socket

import pytest

from devbot.llm.base import Usage
from devbot.llm.pricing import cost_usd


def test_known_openai_model_costs_its_list_price() -> None:
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert cost_usd("openai", "gpt-4o-mini", usage) == pytest.approx(0.15 + 0.60)


def test_anthropic_cache_reads_are_cheaper_than_fresh_input() -> None:
    fresh = cost_usd("anthropic", "claude-haiku-4-5", Usage(prompt_tokens=100_000))
    cached = cost_usd(
        "anthropic", "claude-haiku-4-5", Usage(prompt_tokens=100_000, cache_read_tokens=100_000)
    )
    written = cost_usd(
        "anthropic", "claude-haiku-4-5", Usage(prompt_tokens=100_000, cache_write_tokens=100_000)
    )
    assert fresh == pytest.approx(0.10)
    assert cached == pytest.approx(fresh / 10)
    assert written == pytest.approx(fresh * 1.25)


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "llama3.2:1b"), ("nobody", "gpt-4o-mini"), ("scripted", "inline")],
)
def test_unknown_model_or_provider_costs_nothing(provider: str, model: str) -> None:
    assert cost_usd(provider, model, Usage(prompt_tokens=1000, completion_tokens=10)) == 0.0


def test_inconsistent_usage_does_not_crash() -> None:
    assert cost_usd("openai", "gpt-4o-mini", Usage(prompt_tokens=1, cache_read_tokens=50)) >= 0.0


def test_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert cost_usd("openai", "gpt-4o-mini", Usage(prompt_tokens=1000)) > 0
