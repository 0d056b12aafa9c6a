"""What an action protocol is: how the model is told to act and how its replies are read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devbot.agent.actions import Action, Observation
from devbot.llm.base import Message, ModelReply, ToolSpec
from devbot.templating import render


class FormatError(Exception):
    """A reply that cannot be acted on; `message` is what the model is told.

    `truncated` marks a reply cut off by the output limit (finish_reason "length"), which
    calls for smaller steps rather than a corrected format.
    """

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.truncated = truncated


def format_error(template: str, **values: object) -> FormatError:
    """A FormatError whose specific message comes from `template`."""
    return FormatError(render("devbot.agent", template, **values).strip())


def truncated_error() -> FormatError:
    """The error for a reply that hit the output limit: nothing in it is trusted."""
    return FormatError(render("devbot.agent", "truncated.txt").strip(), truncated=True)


def error_text(error: FormatError) -> str:
    """The full message sent back for `error`, with the advice shared by all format errors."""
    if error.truncated:
        return error.message
    return render("devbot.agent", "format_error.txt", error=error.message).strip()


@dataclass(frozen=True)
class ParsedAction:
    """One action read from a reply; `call_id` links it to a native tool call."""

    action: Action
    call_id: str | None = None


@dataclass(frozen=True)
class Reading:
    """What one reply asks for: its actions in order (a finish last), what was repaired to
    read them (told to the model with the observations), and whether the output cap cut
    the reply (the model is then asked to continue; it is not a format error)."""

    actions: list[ParsedAction]
    repairs: tuple[str, ...] = ()
    cut: bool = False


class ActionProtocol(Protocol):
    """Turns model replies into Actions and observations back into messages."""

    name: str

    def instructions(self) -> str:
        """The system-prompt section that teaches the model this protocol."""
        ...

    def tool_specs(self) -> list[ToolSpec] | None:
        """Native tools to offer with each request, or None."""
        ...

    def parse(self, reply: ModelReply) -> Reading:
        """Read every action of `reply`, in order; raise FormatError if none can be run."""
        ...

    def assistant_message(self, reply: ModelReply) -> Message:
        """The reply as it is kept in the conversation."""
        ...

    def observation_messages(
        self, reading: Reading, observations: list[Observation]
    ) -> list[Message]:
        """Messages reporting each action's observation (in the order of `reading`)."""
        ...

    def format_error_messages(self, reply: ModelReply, error: FormatError) -> list[Message]:
        """Messages telling the model what was wrong with `reply`."""
        ...
