"""A deterministic model that plays back a script: for tests, benchmarks and `devbot demo`.

The reply for a call is chosen by the turn index (how many assistant messages the
conversation already holds), not by a cursor, so a run resumed after a crash, whose earlier
turns come from the durable log, still gets the right reply.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from devbot.config import ConfigError
from devbot.llm.base import FinishReason, Message, ModelError, ModelReply, ToolCall, ToolSpec, Usage
from devbot.llm.errors import ClassifiedError

FINISH_REASONS: tuple[FinishReason, ...] = ("stop", "length", "tool_calls", "error", "other")
_ENTRY_KEYS = {
    "text",
    "tool_calls",
    "finish_reason",
    "delay",
    "usage",
    "cost_usd",
    "errors_before",
    "error",
}


class ScriptError(ConfigError):
    """A script file or entry is malformed; the message says where."""


@dataclass(frozen=True)
class ScriptedError:
    """An error a script tells the model to raise."""

    kind: str
    message: str
    retryable: bool
    retry_after_s: float | None = None

    def raise_(self) -> None:
        raise ClassifiedError(
            self.message, kind=self.kind, retryable=self.retryable, retry_after_s=self.retry_after_s
        )


@dataclass(frozen=True)
class ScriptEntry:
    """One turn of a script: the reply, or the errors raised instead of / before it."""

    text: str = ""
    tool_calls: tuple[tuple[str | None, str, dict[str, Any]], ...] = ()
    finish_reason: FinishReason | None = None
    delay: float = 0.0
    usage: Usage | None = None
    cost_usd: float = 0.0
    errors_before: tuple[ScriptedError, ...] = ()
    error: ScriptedError | None = None


@dataclass
class ScriptedModel:
    """Plays `entries` back by turn index; never touches the network; costs what it says."""

    entries: list[ScriptEntry]
    name: str = "scripted/inline"
    sleep: Callable[[float], None] = time.sleep
    _calls_per_turn: dict[int, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_replies(cls, replies: list[dict[str, Any]], *, where: str = "inline") -> ScriptedModel:
        """Build from a list of entry dicts (the same shape as a script file)."""
        if not isinstance(replies, list):
            raise ScriptError(
                f"{where}: a script is a list of replies, got {type(replies).__name__}"
            )
        entries = [_parse_entry(raw, f"{where}: reply {i + 1}") for i, raw in enumerate(replies)]
        return cls(entries=entries, name=f"scripted/{where}")

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        """Read a YAML (.yaml/.yml) or JSON (.json) script: a list, or a mapping with `replies`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptError(f"{path}: cannot read script: {exc}") from None
        data = _load(path, text)
        if isinstance(data, dict) and set(data) == {"replies"}:
            data = data["replies"]
        return cls.from_replies(cast(list[dict[str, Any]], data), where=str(path))

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        turn = sum(1 for message in messages if message.role == "assistant")
        if turn >= len(self.entries):
            raise ModelError(
                f"{self.name}: script exhausted: it has {len(self.entries)} replies and turn"
                f" {turn + 1} was asked for",
                kind="script_exhausted",
                retryable=False,
            )
        entry = self.entries[turn]
        with self._lock:
            calls = self._calls_per_turn.get(turn, 0)
            self._calls_per_turn[turn] = calls + 1
        if entry.error is not None:
            entry.error.raise_()
        if calls < len(entry.errors_before):
            entry.errors_before[calls].raise_()
        if entry.delay > 0:
            self.sleep(entry.delay)
        return self._reply(entry, turn, messages)

    def _reply(self, entry: ScriptEntry, turn: int, messages: list[Message]) -> ModelReply:
        calls = [
            ToolCall(id=call_id or f"call_{turn}_{i}", name=name, arguments=arguments)
            for i, (call_id, name, arguments) in enumerate(entry.tool_calls)
        ]
        finish = entry.finish_reason or ("tool_calls" if calls else "stop")
        usage = entry.usage or Usage(
            prompt_tokens=math.ceil(sum(_chars(message) for message in messages) / 4),
            completion_tokens=math.ceil(
                (len(entry.text) + sum(_call_chars(call) for call in calls)) / 4
            ),
        )
        return ModelReply(
            text=entry.text,
            tool_calls=calls,
            finish_reason=finish,
            usage=usage,
            cost_usd=entry.cost_usd,
            model=self.name,
        )


def _chars(message: Message) -> int:
    return len(message.content) + sum(_call_chars(call) for call in message.tool_calls)


def _call_chars(call: ToolCall) -> int:
    return len(call.name) + len(json.dumps(call.arguments))


def _load(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScriptError(f"{path}: invalid JSON: {exc}") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path}: invalid YAML: {exc}") from None
    raise ScriptError(f"{path}: a script must end in .yaml, .yml or .json")


def _parse_entry(raw: Any, where: str) -> ScriptEntry:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ScriptError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_ENTRY_KEYS))}"
        )
    text = raw.get("text", "")
    if not isinstance(text, str):
        raise ScriptError(f"{where}: text must be a string")
    if "text" not in raw and "error" not in raw and "tool_calls" not in raw:
        raise ScriptError(f"{where}: give text, tool_calls or error")
    finish = raw.get("finish_reason")
    if finish is not None and finish not in FINISH_REASONS:
        raise ScriptError(f"{where}: finish_reason must be one of {', '.join(FINISH_REASONS)}")
    delay = raw.get("delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ScriptError(f"{where}: delay must be a non-negative number of seconds")
    cost = raw.get("cost_usd", 0.0)
    if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
        raise ScriptError(f"{where}: cost_usd must be a non-negative number")
    errors_before = raw.get("errors_before", [])
    if not isinstance(errors_before, list):
        raise ScriptError(f"{where}: errors_before must be a list")
    error = raw.get("error")
    return ScriptEntry(
        text=text,
        tool_calls=_parse_tool_calls(raw.get("tool_calls", []), where),
        finish_reason=cast(FinishReason | None, finish),
        delay=float(delay),
        cost_usd=float(cost),
        usage=_parse_usage(raw["usage"], where) if "usage" in raw else None,
        errors_before=tuple(
            _parse_error(item, f"{where}: errors_before[{i}]")
            for i, item in enumerate(errors_before)
        ),
        error=_parse_error(error, f"{where}: error") if error is not None else None,
    )


def _parse_tool_calls(raw: Any, where: str) -> tuple[tuple[str | None, str, dict[str, Any]], ...]:
    if not isinstance(raw, list):
        raise ScriptError(f"{where}: tool_calls must be a list")
    calls: list[tuple[str | None, str, dict[str, Any]]] = []
    for i, call in enumerate(raw):
        at = f"{where}: tool_calls[{i}]"
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{at}: needs a name (string)")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ScriptError(f"{at}: arguments must be a mapping")
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise ScriptError(f"{at}: id must be a string")
        calls.append((call_id, call["name"], arguments))
    return tuple(calls)


def _parse_usage(raw: Any, where: str) -> Usage:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: usage must be a mapping")
    known = {"prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens"}
    unknown = sorted(set(raw) - known)
    bad = [
        key for key, value in raw.items() if isinstance(value, bool) or not isinstance(value, int)
    ]
    if unknown or bad:
        raise ScriptError(f"{where}: usage takes integer {', '.join(sorted(known))}")
    return Usage(**raw)


def _parse_error(raw: Any, where: str) -> ScriptedError:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected a mapping with kind, message, retryable")
    kind, message = raw.get("kind"), raw.get("message", "")
    retryable, retry_after = raw.get("retryable", False), raw.get("retry_after")
    if not isinstance(kind, str) or not kind:
        raise ScriptError(f"{where}: kind must be a non-empty string")
    if not isinstance(message, str) or not isinstance(retryable, bool):
        raise ScriptError(f"{where}: message must be a string and retryable true or false")
    if retry_after is not None and (
        isinstance(retry_after, bool) or not isinstance(retry_after, int | float) or retry_after < 0
    ):
        raise ScriptError(f"{where}: retry_after must be a non-negative number of seconds")
    return ScriptedError(
        kind=kind,
        message=message or f"scripted {kind} error",
        retryable=retryable,
        retry_after_s=None if retry_after is None else float(retry_after),
    )
