"""The native tool-calling protocol over fixture replies, plus its messages and specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from devbot.agent.actions import Finish, Observation, RunCommand
from devbot.agent.execute import action_record
from devbot.agent.protocols.base import FormatError, ParsedAction, Reading
from devbot.agent.protocols.tools import ToolsProtocol
from devbot.llm.base import ModelReply, ToolCall

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "tools_cases.yaml").read_text(encoding="utf-8")
)


def reply_of(case: dict[str, Any]) -> ModelReply:
    calls = [ToolCall(**call) for call in case.get("tool_calls", [])]
    finish = case.get("finish_reason", "tool_calls" if calls else "stop")
    return ModelReply(text=case.get("text", ""), tool_calls=calls, finish_reason=finish)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "actions" in CASES[n]))
def test_fixture_parses_to_expected_actions(name: str) -> None:
    parsed = ToolsProtocol().parse(reply_of(CASES[name])).actions
    got = [{"call_id": item.call_id, **action_record(item.action)} for item in parsed]
    assert json.loads(json.dumps(got)) == CASES[name]["actions"]


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" in CASES[n]))
def test_fixture_is_a_format_error(name: str) -> None:
    with pytest.raises(FormatError) as caught:
        ToolsProtocol().parse(reply_of(CASES[name]))
    assert CASES[name]["error"] in caught.value.message
    assert caught.value.truncated is CASES[name].get("truncated", False)


def test_specs_cover_every_action_and_are_consistent() -> None:
    specs = ToolsProtocol().tool_specs()
    assert specs is not None
    assert [spec.name for spec in specs] == [
        "read_file",
        "write_file",
        "edit_file",
        "delete_file",
        "list_files",
        "search_files",
        "run_command",
        "finish",
    ]
    for spec in specs:
        assert spec.description
        assert spec.parameters["type"] == "object"
        assert set(spec.parameters.get("required", [])) <= set(spec.parameters["properties"])


def test_results_are_tool_messages_keyed_by_call_id() -> None:
    parsed = [ParsedAction(RunCommand("ls"), "c1"), ParsedAction(Finish("x"), "c2")]
    observations = [Observation(True, "exit code 0\na.py"), Observation(False, "Not finished")]
    messages = ToolsProtocol().observation_messages(Reading(parsed), observations)
    assert [(m.role, m.tool_call_id) for m in messages] == [("tool", "c1"), ("tool", "c2")]
    assert messages[0].content == "ok\nexit code 0\na.py"
    assert messages[1].content.startswith("FAILED\n")


def test_assistant_message_keeps_the_tool_calls() -> None:
    reply = reply_of(CASES["hello"])
    message = ToolsProtocol().assistant_message(reply)
    assert message.role == "assistant"
    assert message.tool_calls == reply.tool_calls


def test_format_error_answers_every_call_so_the_conversation_stays_valid() -> None:
    reply = reply_of(CASES["after_finish"])
    error = FormatError("run_command is called after finish.")
    messages = ToolsProtocol().format_error_messages(reply, error)
    assert [(m.role, m.tool_call_id) for m in messages] == [("tool", "x"), ("tool", "y")]
    assert "run_command is called after finish" in messages[0].content
    assert "Not run" in messages[1].content


def test_format_error_without_calls_is_a_user_message() -> None:
    error = FormatError("your reply has no tool call.")
    (message,) = ToolsProtocol().format_error_messages(ModelReply(text="done"), error)
    assert message.role == "user"
    assert "no tool call" in message.content
