"""OpenAIModel through the real openai SDK over HTTP to a local server."""

from __future__ import annotations

import pytest

from devbot.llm.base import Message, ModelError, ToolCall, ToolSpec
from devbot.llm.openai_model import INVALID_JSON, OpenAIModel
from devbot.llm.scripted import ScriptedModel
from tests.fixtures.model_servers import OpenAIServer

READ = ToolSpec(
    name="read_file",
    description="Read a file",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)


def model_for(server: OpenAIServer, sleeps: list[float], retries: int = 4) -> OpenAIModel:
    return OpenAIModel(
        "gpt-4o-mini", server.url, "sk-test", timeout_s=5, retries=retries, sleep=sleeps.append
    )


def test_plain_text_reply_with_usage_and_cost(openai_server: OpenAIServer) -> None:
    openai_server.queue_reply(text="hello there", prompt_tokens=1000, completion_tokens=200)
    model = model_for(openai_server, [])
    reply = model.complete([Message("system", "be brief"), Message("user", "hi")])
    assert reply.text == "hello there"
    assert reply.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1000, 200)
    assert reply.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    assert reply.model == "gpt-4o-mini"
    (request,) = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert "tools" not in request.body


def test_tool_calls_round_trip(openai_server: OpenAIServer) -> None:
    openai_server.queue_reply(
        text=None,
        tool_calls=[
            {"id": "call_a", "name": "read_file", "arguments": {"path": "a.py"}},
            {"id": "call_b", "name": "read_file", "arguments": '{"path": '},
        ],
    )
    openai_server.queue_reply(text="done")
    model = model_for(openai_server, [])
    messages = [Message("user", "read a.py")]
    first = model.complete(messages, [READ])
    assert first.finish_reason == "tool_calls"
    assert first.text == ""
    assert first.tool_calls == [
        ToolCall("call_a", "read_file", {"path": "a.py"}),
        ToolCall("call_b", "read_file", {INVALID_JSON: '{"path": '}),
    ]
    messages += [
        Message("assistant", first.text, first.tool_calls),
        Message("tool", "print('a')", tool_call_id="call_a"),
        Message("tool", "invalid JSON arguments", tool_call_id="call_b"),
    ]
    assert model.complete(messages, [READ]).text == "done"
    sent = openai_server.requests[1].body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file",
                "parameters": READ.parameters,
            },
        }
    ]
    assistant, tool_a, tool_b = sent["messages"][1:]
    assert assistant["role"] == "assistant"
    assert [c["function"]["arguments"] for c in assistant["tool_calls"]] == [
        '{"path": "a.py"}',
        '{"path": ',
    ]
    assert tool_a == {"role": "tool", "tool_call_id": "call_a", "content": "print('a')"}
    assert tool_b["tool_call_id"] == "call_b"


def test_finish_reason_length(openai_server: OpenAIServer) -> None:
    openai_server.queue_reply(text="truncat", finish_reason="length")
    assert model_for(openai_server, []).complete([Message("user", "x")]).finish_reason == "length"


def test_unusual_finish_reason_is_other(openai_server: OpenAIServer) -> None:
    openai_server.queue_reply(text="", finish_reason="content_filter")
    assert model_for(openai_server, []).complete([Message("user", "x")]).finish_reason == "other"


def test_tool_calls_with_stop_reason_count_as_tool_calls(openai_server: OpenAIServer) -> None:
    openai_server.queue_reply(
        text="", tool_calls=[{"name": "read_file", "arguments": {}}], finish_reason="stop"
    )
    reply = model_for(openai_server, []).complete([Message("user", "x")], [READ])
    assert reply.finish_reason == "tool_calls"


def test_retries_429_with_retry_after_then_500_then_succeeds(openai_server: OpenAIServer) -> None:
    openai_server.queue_error(429, "Rate limit reached", retry_after=3)
    openai_server.queue_error(500, "The server had an error")
    openai_server.queue_reply(text="finally")
    sleeps: list[float] = []
    reply = model_for(openai_server, sleeps).complete([Message("user", "x")])
    assert reply.text == "finally"
    assert len(openai_server.requests) == 3
    assert sleeps[0] == 3.0
    assert 0.75 <= sleeps[1] <= 2.0


def test_no_retry_on_401(openai_server: OpenAIServer) -> None:
    openai_server.queue_error(401, "Incorrect API key provided")
    sleeps: list[float] = []
    with pytest.raises(ModelError) as caught:
        model_for(openai_server, sleeps).complete([Message("user", "x")])
    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert "Incorrect API key" in str(caught.value)
    assert len(openai_server.requests) == 1
    assert sleeps == []


def test_retries_exhausted_raise_the_classified_error(openai_server: OpenAIServer) -> None:
    for _ in range(3):
        openai_server.queue_error(503, "overloaded")
    sleeps: list[float] = []
    with pytest.raises(ModelError) as caught:
        model_for(openai_server, sleeps, retries=2).complete([Message("user", "x")])
    assert (caught.value.kind, caught.value.retryable) == ("server", True)
    assert len(openai_server.requests) == 3
    assert len(sleeps) == 2


def test_connection_refused_is_a_retryable_connection_error() -> None:
    server = OpenAIServer()
    url = server.url
    server.stop()
    sleeps: list[float] = []
    model = OpenAIModel("m", url, timeout_s=2, retries=1, sleep=sleeps.append)
    with pytest.raises(ModelError) as caught:
        model.complete([Message("user", "x")])
    assert (caught.value.kind, caught.value.retryable) == ("connection", True)
    assert len(sleeps) == 1


def test_local_server_without_key_sends_a_placeholder(openai_server: OpenAIServer) -> None:
    model = OpenAIModel("llama3.2:1b", openai_server.url, timeout_s=5, retries=0)
    reply = model.complete([Message("user", "x")])
    assert reply.text == "ok"
    assert reply.cost_usd == 0.0 or reply.model != "llama3.2:1b"
    assert openai_server.requests[0].headers["authorization"].startswith("Bearer ")


def test_server_can_replay_a_scripted_model(openai_server: OpenAIServer) -> None:
    openai_server.serve_model(
        ScriptedModel.from_replies(
            [
                {"text": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "a"}}]},
                {"text": "done", "usage": {"prompt_tokens": 50, "completion_tokens": 2}},
            ]
        )
    )
    model = model_for(openai_server, [])
    messages = [Message("user", "go")]
    first = model.complete(messages, [READ])
    assert first.tool_calls[0].arguments == {"path": "a"}
    messages += [Message("assistant", "", first.tool_calls), Message("tool", "A", [], "call_0_0")]
    second = model.complete(messages, [READ])
    assert (second.text, second.usage.prompt_tokens) == ("done", 50)
