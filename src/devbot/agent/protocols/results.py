"""Observations and format errors as tool-result messages, shared by the tool-call protocols.

Several actions read from one call (an apply_patch touching three files) answer in one
tool message; actions read from the reply's text (no call id) answer in a user message,
which also says what was repaired to read them."""

from __future__ import annotations

from itertools import groupby

from devbot.agent.actions import Observation
from devbot.agent.protocols.base import FormatError, Reading, error_text
from devbot.llm.base import Message, ModelReply
from devbot.templating import render


def tool_result_messages(reading: Reading, observations: list[Observation]) -> list[Message]:
    """One message per call, in order: a tool message, or a user one for text-read actions."""
    pairs = list(zip(reading.actions, observations, strict=True))
    messages: list[Message] = []
    for call_id, group in groupby(pairs, key=lambda pair: pair[0].call_id):
        seen = [observation for _, observation in group]
        content = render(
            "devbot.agent",
            "tools_observation.txt",
            status="ok" if all(o.ok for o in seen) else "FAILED",
            output="\n\n".join(o.output for o in seen),
        ).strip()
        if call_id is None:
            messages.append(Message(role="user", content=content))
        else:
            messages.append(Message(role="tool", content=content, tool_call_id=call_id))
    if reading.repairs and messages:
        note = "\n".join(reading.repairs)
        at = next((i for i, m in enumerate(messages) if m.role == "user"), len(messages) - 1)
        first = messages[at]
        messages[at] = Message(first.role, f"{note}\n\n{first.content}", [], first.tool_call_id)
    return messages


def tool_error_messages(reply: ModelReply, error: FormatError) -> list[Message]:
    """The error as the result of the first call (the others were not run), or as a user
    message when the reply made no call."""
    text = error_text(error)
    if not reply.tool_calls:
        return [Message(role="user", content=text)]
    not_run = render("devbot.agent", "tools_not_run.txt").strip()
    return [
        Message(role="tool", content=text if i == 0 else not_run, tool_call_id=call.id)
        for i, call in enumerate(reply.tool_calls)
    ]
