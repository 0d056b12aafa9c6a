"""Action protocols: how the model is told to act and how its replies become Actions."""

from __future__ import annotations

from devbot.agent.protocols.base import ActionProtocol, FormatError, ParsedAction, Reading
from devbot.agent.protocols.text import TextProtocol
from devbot.agent.protocols.tools import ToolsProtocol

DEFAULT_PROTOCOL = "text"
PROTOCOLS: dict[str, type[TextProtocol] | type[ToolsProtocol]] = {
    "text": TextProtocol,
    "tools": ToolsProtocol,
}


def get_protocol(name: str = DEFAULT_PROTOCOL) -> ActionProtocol:
    """The protocol called `name` ("text" or "tools"); ValueError for any other name."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise ValueError(
            f"unknown action protocol {name!r}; choose one of {', '.join(PROTOCOLS)}"
        ) from None


__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "ActionProtocol",
    "FormatError",
    "ParsedAction",
    "Reading",
    "TextProtocol",
    "ToolsProtocol",
    "get_protocol",
]
