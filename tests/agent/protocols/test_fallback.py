"""Tool calls a small model wrote as text, read by the tools protocol."""

from __future__ import annotations

import pytest

from devbot.agent.actions import Finish, ListFiles, RunCommand, WriteFile
from devbot.agent.protocols import FormatError, get_protocol
from devbot.llm.base import ModelReply


def read(text: str) -> tuple[list[object], tuple[str, ...]]:
    reading = get_protocol("tools").parse(ModelReply(text=text))
    return [item.action for item in reading.actions], reading.repairs


def test_tagged_calls_with_invented_names_and_fields() -> None:
    actions, repairs = read(
        'Sure.\n<tools>\n{"name": "create_file", "arguments": {"filename": "a.txt", "text": "A"}}'
        '\n</tools>\n<tool_call>[{"name": "bash", "arguments": "{\\"cmd\\": \\"ls\\"}"},'
        ' {"name": "finish", "parameters": {"summary": "ok"}}]</tool_call>'
    )
    assert actions == [WriteFile("a.txt", "A"), RunCommand("ls"), Finish("ok")]
    assert "<tool_call>, <tools>" in repairs[0]


def test_an_unclosed_tool_call_tag_runs_to_the_end() -> None:
    actions, _ = read('<tool_call>{"name": "list_files", "arguments": {}}')
    assert actions == [ListFiles(".")]


def test_fenced_json_counts_only_when_shaped_as_a_call() -> None:
    actions, _ = read(
        '```json\n{"path": "not a call"}\n```\n'
        '```json\n{"name": "run", "arguments": {"command": "pytest"}}\n```'
    )
    assert actions == [RunCommand("pytest")]
    with pytest.raises(FormatError, match="has no tool call"):
        read('```json\n{"path": "not a call"}\n```')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<tools>{"name": "teleport", "arguments": {}}</tools>', 'no tool named "teleport"'),
        ("<tools>{not json</tools>", "<tools>"),
        ('<tools>{"arguments": {}}</tools>', '{"name": <tool>, "arguments": {...}}'),
    ],
)
def test_unreadable_text_calls_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        read(text)
    assert message in caught.value.message
    if "teleport" in text:
        assert "read_file, write_file" in caught.value.message
