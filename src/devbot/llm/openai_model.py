"""OpenAI chat completions adapter; also serves Ollama, vLLM, llama.cpp, OpenRouter via api_base.

`openai` is imported on the first call (`make_model` starts that import in the background).
The SDK's own retries are off: devbot's retry policy (`devbot.llm.retry`) is the only one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from devbot.llm.base import FinishReason, Message, ModelError, ModelReply, ToolCall, ToolSpec, Usage
from devbot.llm.pricing import cost_usd
from devbot.llm.retry import call_with_retries, classified

PLACEHOLDER_KEY = "devbot-no-key"
INVALID_JSON = "__invalid_json__"

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


class OpenAIModel:
    """A Model on `openai.OpenAI().chat.completions.create`."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = 120.0,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.name = f"openai/{model}"
        self.api_base = api_base
        self.api_key = api_key or (PLACEHOLDER_KEY if api_base else None)
        self.timeout_s = timeout_s
        self.retries = retries
        self.sleep = sleep
        self._client: Any = None
        self._client_lock = threading.Lock()

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        request = self.request(messages, tools)
        return call_with_retries(
            classified(lambda: self._parse(self._client_once().chat.completions.create(**request))),
            retries=self.retries,
            sleep=self.sleep,
        )

    def request(self, messages: list[Message], tools: list[ToolSpec] | None) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for this conversation."""
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(message) for message in messages],
        }
        if tools:
            request["tools"] = [_tool(spec) for spec in tools]
        return request

    def _client_once(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=self.api_key,
                    base_url=self.api_base,
                    timeout=self.timeout_s,
                    max_retries=0,
                )
            return self._client

    def _parse(self, completion: Any) -> ModelReply:
        if not completion.choices:
            raise ModelError(
                f"{self.name}: reply has no choices", kind="invalid_response", retryable=True
            )
        choice = completion.choices[0]
        calls = [_tool_call(call) for call in (choice.message.tool_calls or [])]
        usage = _usage(completion.usage)
        return ModelReply(
            text=choice.message.content or "",
            tool_calls=calls,
            finish_reason=_finish_reason(choice.finish_reason, calls),
            usage=usage,
            cost_usd=cost_usd("openai", self.model, usage),
            model=completion.model or self.model,
        )


def _finish_reason(raw: str | None, calls: list[ToolCall]) -> FinishReason:
    """Map OpenAI's reason; servers that say "stop" beside tool calls (Ollama) mean tool_calls."""
    reason = _FINISH.get(raw or "", "other")
    return "tool_calls" if calls and reason == "stop" else reason


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": _arguments_json(call)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _arguments_json(call: ToolCall) -> str:
    raw = call.arguments.get(INVALID_JSON)
    if isinstance(raw, str) and len(call.arguments) == 1:
        return raw
    return json.dumps(call.arguments)


def _tool(spec: ToolSpec) -> dict[str, Any]:
    if spec.builtin is not None:
        return dict(spec.builtin)
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def _tool_call(call: Any) -> ToolCall:
    raw = call.function.arguments or ""
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        arguments = {INVALID_JSON: raw}
    if not isinstance(arguments, dict):
        arguments = {INVALID_JSON: raw}
    return ToolCall(id=call.id or "", name=call.function.name or "", arguments=arguments)


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cache_read_tokens=cached,
    )
