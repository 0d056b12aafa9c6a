"""AnthropicModel through the real anthropic SDK over HTTP to a local server."""

from __future__ import annotations

import pytest

from devbot.llm.anthropic_model import AnthropicModel
from devbot.llm.base import Message, ModelError, ToolCall, ToolSpec, Usage
from tests.fixtures.model_servers import AnthropicServer

READ = ToolSpec(
    name="read_file",
    description="Read a file",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)
EPHEMERAL = {"type": "ephemeral"}


def model_for(server: AnthropicServer, sleeps: list[float], retries: int = 4) -> AnthropicModel:
    return AnthropicModel(
        "claude-haiku-4-5",
        "sk-ant-test",
        server.url,
        timeout_s=5,
        retries=retries,
        max_tokens=1024,
        sleep=sleeps.append,
    )


def test_plain_text_reply_system_separated_and_cached(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_reply(
        text="hello",
        input_tokens=100,
        output_tokens=20,
        cache_read_input_tokens=10_000,
        cache_creation_input_tokens=2_000,
        model="claude-haiku-4-5",
    )
    reply = model_for(anthropic_server, []).complete(
        [Message("system", "be brief"), Message("user", "hi")]
    )
    assert reply.text == "hello"
    assert reply.finish_reason == "stop"
    assert reply.usage == Usage(
        prompt_tokens=12_100,
        completion_tokens=20,
        cache_read_tokens=10_000,
        cache_write_tokens=2_000,
    )
    expected = (100 * 1.0 + 10_000 * 0.1 + 2_000 * 1.25 + 20 * 5.0) / 1e6
    assert reply.cost_usd == pytest.approx(expected)
    (request,) = anthropic_server.requests
    assert request.path == "/v1/messages"
    sent_key = request.headers.get("x-api-key") or request.headers["authorization"]
    assert sent_key.removeprefix("Bearer ") == "sk-ant-test"
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["model"] == "claude-haiku-4-5"
    assert body["max_tokens"] == 1024
    assert body["system"] == [{"type": "text", "text": "be brief", "cache_control": EPHEMERAL}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}
    ]


def test_tool_use_round_trip(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_reply(
        text="Reading it.",
        tool_calls=[
            {"id": "toolu_a", "name": "read_file", "arguments": {"path": "a.py"}},
            {"id": "toolu_b", "name": "read_file", "arguments": {"path": "b.py"}},
        ],
    )
    anthropic_server.queue_reply(text="done")
    model = model_for(anthropic_server, [])
    messages = [Message("system", "sys"), Message("user", "read both")]
    first = model.complete(messages, [READ])
    assert first.finish_reason == "tool_calls"
    assert first.text == "Reading it."
    assert first.tool_calls == [
        ToolCall("toolu_a", "read_file", {"path": "a.py"}),
        ToolCall("toolu_b", "read_file", {"path": "b.py"}),
    ]
    messages += [
        Message("assistant", first.text, first.tool_calls),
        Message("tool", "A", tool_call_id="toolu_a"),
        Message("tool", "B", tool_call_id="toolu_b"),
        Message("user", "anything else?"),
    ]
    assert model.complete(messages, [READ]).text == "done"
    body = anthropic_server.requests[1].body
    assert body["tools"] == [
        {"name": "read_file", "description": "Read a file", "input_schema": READ.parameters}
    ]
    user, assistant, results = body["messages"]
    assert user == {"role": "user", "content": [{"type": "text", "text": "read both"}]}
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Reading it."},
            {"type": "tool_use", "id": "toolu_a", "name": "read_file", "input": {"path": "a.py"}},
            {"type": "tool_use", "id": "toolu_b", "name": "read_file", "input": {"path": "b.py"}},
        ],
    }
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "A"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "B"},
            {"type": "text", "text": "anything else?", "cache_control": EPHEMERAL},
        ],
    }


def test_max_tokens_is_length(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_reply(text="trunc", stop_reason="max_tokens")
    assert (
        model_for(anthropic_server, []).complete([Message("user", "x")]).finish_reason == "length"
    )


def test_retries_429_then_overloaded_then_succeeds(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_error(429, "rate limited", retry_after=2)
    anthropic_server.queue_error(529, "Overloaded")
    anthropic_server.queue_error(500, "Internal server error")
    anthropic_server.queue_reply(text="finally")
    sleeps: list[float] = []
    reply = model_for(anthropic_server, sleeps).complete([Message("user", "x")])
    assert reply.text == "finally"
    assert len(anthropic_server.requests) == 4
    assert sleeps[0] == 2.0
    assert len(sleeps) == 3


def test_no_retry_on_401(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_error(401, "invalid x-api-key")
    sleeps: list[float] = []
    with pytest.raises(ModelError) as caught:
        model_for(anthropic_server, sleeps).complete([Message("user", "x")])
    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert len(anthropic_server.requests) == 1
    assert sleeps == []


def test_prompt_too_long_is_context_length(anthropic_server: AnthropicServer) -> None:
    anthropic_server.queue_error(400, "prompt is too long: 201234 tokens > 200000 maximum")
    with pytest.raises(ModelError) as caught:
        model_for(anthropic_server, []).complete([Message("user", "x")])
    assert (caught.value.kind, caught.value.retryable) == ("context_length", False)
