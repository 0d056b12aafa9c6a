"""Action protocols: how the model is told to act and how its replies become Actions."""

from __future__ import annotations

from collections.abc import Callable

from devbot.agent.protocols.base import ActionProtocol, FormatError, ParsedAction, Reading
from devbot.agent.protocols.native import (
    NativeProtocol,
    anthropic_protocol,
    apply_patch_protocol,
)
from devbot.agent.protocols.text import TextProtocol
from devbot.agent.protocols.tools import ToolsProtocol

DEFAULT_PROTOCOL = "text"
AUTO = "auto"
PROTOCOLS: dict[str, Callable[[], ActionProtocol]] = {
    "text": TextProtocol,
    "tools": ToolsProtocol,
    "anthropic": anthropic_protocol,
    "apply_patch": apply_patch_protocol,
}


def protocol_for(model: str, setting: str = AUTO) -> str:
    """The protocol to use with `model` ("provider/name"): `setting` unless it is "auto".

    Claude 4 and later get their trained text editor and bash tools, GPT-5 and Codex models
    apply_patch; every other model (local OpenAI-compatible servers, scripted) the text
    protocol, which small models follow best.
    """
    if setting != AUTO:
        return setting
    provider, _, name = model.partition("/")
    name = name.rsplit("/", 1)[-1].lower()
    if provider == "anthropic" and name.startswith("claude") and not name.startswith("claude-3"):
        return "anthropic"
    if provider == "openai" and (name.startswith("gpt-5") or "codex" in name):
        return "apply_patch"
    return DEFAULT_PROTOCOL


def get_protocol(name: str = DEFAULT_PROTOCOL) -> ActionProtocol:
    """The protocol called `name` (see PROTOCOLS); ValueError for any other name."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise ValueError(
            f"unknown action protocol {name!r}; choose one of {', '.join(PROTOCOLS)}"
        ) from None


__all__ = [
    "AUTO",
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "ActionProtocol",
    "FormatError",
    "NativeProtocol",
    "ParsedAction",
    "Reading",
    "TextProtocol",
    "ToolsProtocol",
    "get_protocol",
    "protocol_for",
]
