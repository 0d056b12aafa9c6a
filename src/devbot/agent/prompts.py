"""The system prompt, the task message, and the prompt view that hides old tool outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from devbot.agent.protocols.base import ActionProtocol
from devbot.llm.base import Message
from devbot.templating import render

KEEP_OBSERVATIONS = 3
MASK_MIN_CHARS = 200


@dataclass(frozen=True)
class Task:
    """What the agent is asked to do; `context` adds e.g. a file listing or review comments."""

    title: str
    body: str
    context: str = ""


@dataclass(frozen=True)
class Entry:
    """A conversation message; `observation_of` is the step whose results it carries."""

    message: Message
    observation_of: int | None = None


def system_prompt(protocol: ActionProtocol) -> str:
    """The rules of the job followed by the protocol's own instructions."""
    return render("devbot.agent", "system.txt", protocol=protocol.instructions()).strip()


def task_message(task: Task) -> str:
    """The first user message: the task, and its context when there is some."""
    context = task.context.strip()
    section = render("devbot.agent", "task_context.txt", context=context).strip() if context else ""
    text = render("devbot.agent", "task.txt", title=task.title.strip(), body=task.body.strip())
    return "\n\n".join(part for part in (text.strip(), section) if part)


def visible_messages(history: Sequence[Entry], keep: int = KEEP_OBSERVATIONS) -> list[Message]:
    """The messages to send: observations older than the last `keep` steps become one line.

    Observation masking keeps the prompt small at no loss of solve rate; the model's own
    replies (what it did) stay whole, and short outputs are kept since hiding saves nothing.
    """
    steps = sorted({e.observation_of for e in history if e.observation_of is not None})
    recent = set(steps[-keep:]) if keep > 0 else set()
    visible: list[Message] = []
    for entry in history:
        step, message = entry.observation_of, entry.message
        if step is not None and step not in recent and len(message.content) > MASK_MIN_CHARS:
            hidden = render("devbot.agent", "observation_hidden.txt", step=step).strip()
            message = replace(message, content=hidden)
        visible.append(message)
    return visible
