"""System prompt, task message and observation masking."""

from __future__ import annotations

import pytest

from devbot.agent.prompts import Entry, Task, system_prompt, task_message, visible_messages
from devbot.agent.protocols import get_protocol
from devbot.llm.base import Message


@pytest.mark.parametrize("protocol", ["text", "tools"])
def test_system_prompt_holds_the_rules_and_the_protocol(protocol: str) -> None:
    chosen = get_protocol(protocol)
    prompt = system_prompt(chosen)
    assert "Work only inside the workspace" in prompt
    assert "relative" in prompt
    assert "summary of what changed and why" in prompt
    assert prompt.endswith(chosen.instructions())


def test_task_message_with_and_without_context() -> None:
    bare = task_message(Task("Add slugify", "Write slugify() in text.py."))
    assert bare == "Task: Add slugify\n\nWrite slugify() in text.py."
    full = task_message(Task("Add slugify", "Write it.", context="text.py\ntests/test_text.py"))
    assert full.endswith("Context:\ntext.py\ntests/test_text.py")


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action protocol 'xml'"):
        get_protocol("xml")


def test_masking_hides_all_but_the_last_steps_long_outputs() -> None:
    long = "x" * 500
    history = [Entry(Message("system", "s")), Entry(Message("user", "task"))]
    for step in range(1, 6):
        history.append(Entry(Message("assistant", f"reply {step}")))
        history.append(Entry(Message("tool", long, tool_call_id=f"c{step}"), observation_of=step))
    history.append(Entry(Message("user", "short note"), observation_of=1))
    shown = visible_messages(history, keep=3)
    assert len(shown) == len(history)
    outputs = [m.content for m in shown if m.role == "tool"]
    assert outputs[:2] == ["[output of step 1 hidden]", "[output of step 2 hidden]"]
    assert outputs[2:] == [long, long, long]
    assert [m.tool_call_id for m in shown if m.role == "tool"] == ["c1", "c2", "c3", "c4", "c5"]
    assert shown[-1].content == "short note"
    assert [m.content for m in shown if m.role == "assistant"] == [
        f"reply {step}" for step in range(1, 6)
    ]
