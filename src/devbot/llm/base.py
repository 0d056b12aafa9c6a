"""The Model protocol and the plain data that crosses it.

Everything here is plain data (dataclasses of str/int/float/list/dict) so that a model turn
can be recorded as a durable step and replayed after a crash without re-paying for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "error", "other"]


@dataclass(frozen=True)
class ToolCall:
    """A native tool call requested by the model."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One chat message. `tool_calls` on assistant messages, `tool_call_id` on tool results."""

    role: Role
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model for native tool calling (JSON-schema parameters).

    `builtin` is a provider-defined tool sent as it is instead of a schema, e.g. Anthropic's
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}; its calls come
    back as ordinary tool calls named `name`."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    builtin: dict[str, Any] | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens billed for one call; cache fields are Anthropic prompt-caching counters."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class ModelReply:
    """What one model call returned, with its cost, ready to be recorded."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelReply:
        return cls(
            text=data["text"],
            tool_calls=[ToolCall(**call) for call in data.get("tool_calls", [])],
            finish_reason=data.get("finish_reason", "stop"),
            usage=Usage(**data.get("usage", {})),
            cost_usd=float(data.get("cost_usd", 0.0)),
            model=data.get("model", ""),
        )


class ModelError(Exception):
    """A failed model call after classification.

    `retryable` says whether trying again may help (rate limit, timeout, 5xx, connection);
    `kind` names the class of failure for reports ("auth", "rate_limit", "timeout", ...).
    """

    def __init__(self, message: str, *, kind: str, retryable: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


class Model(Protocol):
    """A chat model: one call in, one reply out. Adapters retry and account for cost."""

    name: str

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        """Send the conversation; raise ModelError when the call fails for good."""
        ...
