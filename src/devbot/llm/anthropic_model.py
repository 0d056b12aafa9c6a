"""Anthropic Messages adapter with prompt caching.

Cache breakpoints sit on the system block (covering tools + system) and on the last user
message, so each agent turn reads the previous turns from the cache. `anthropic` is imported
on the first call; the SDK's own retries are off (devbot's retry policy is the only one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from devbot.llm.base import FinishReason, Message, ModelReply, ToolCall, ToolSpec, Usage
from devbot.llm.pricing import cost_usd
from devbot.llm.retry import call_with_retries, classified

EPHEMERAL = {"type": "ephemeral"}

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
}


class AnthropicModel:
    """A Model on `anthropic.Anthropic().messages.create`."""

    def __init__(
        self,
        model: str,
        api_key: str,
        api_base: str | None = None,
        *,
        timeout_s: float = 120.0,
        retries: int = 4,
        max_tokens: int = 8192,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.name = f"anthropic/{model}"
        self.api_key = api_key
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_tokens = max_tokens
        self.sleep = sleep
        self._client: Any = None
        self._client_lock = threading.Lock()

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        request = self.request(messages, tools)
        return call_with_retries(
            classified(lambda: self._parse(self._client_once().messages.create(**request))),
            retries=self.retries,
            sleep=self.sleep,
        )

    def request(self, messages: list[Message], tools: list[ToolSpec] | None) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for this conversation."""
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": _conversation(messages),
        }
        system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
        if system:
            request["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        if tools:
            request["tools"] = [_tool(spec) for spec in tools]
        return request

    def _client_once(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import anthropic

                self._client = anthropic.Anthropic(
                    api_key=self.api_key,
                    base_url=self.api_base,
                    timeout=self.timeout_s,
                    max_retries=0,
                )
            return self._client

    def _parse(self, message: Any) -> ModelReply:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content or []:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = block.input if isinstance(block.input, dict) else {}
                calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        usage = _usage(message.usage)
        return ModelReply(
            text="".join(texts),
            tool_calls=calls,
            finish_reason=_FINISH.get(message.stop_reason or "", "other"),
            usage=usage,
            cost_usd=cost_usd("anthropic", self.model, usage),
            model=message.model or self.model,
        )


def _tool(spec: ToolSpec) -> dict[str, Any]:
    if spec.builtin is not None:
        return dict(spec.builtin)
    return {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}


def _conversation(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as Anthropic wants them: alternating roles, tool results inside user turns."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in reversed(turns):
        if turn["role"] == "user":
            turn["content"][-1] = {**turn["content"][-1], "cache_control": EPHEMERAL}
            break
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    cache_read = getattr(usage, "cache_read_input_tokens", None) or 0
    cache_write = getattr(usage, "cache_creation_input_tokens", None) or 0
    return Usage(
        prompt_tokens=(usage.input_tokens or 0) + cache_read + cache_write,
        completion_tokens=usage.output_tokens or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
