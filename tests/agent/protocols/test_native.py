"""Protocol choice per model and the mapping of native tool calls onto Actions."""

from __future__ import annotations

from typing import Any

import pytest

from devbot.agent.actions import (
    Edit,
    EditFile,
    Finish,
    InsertLines,
    ReadFile,
    RunCommand,
    WriteFile,
)
from devbot.agent.execute import execute
from devbot.agent.protocols import FormatError, get_protocol, protocol_for
from devbot.llm.base import ModelReply, ToolCall
from devbot.sandbox.local import LocalSandbox
from devbot.tools import Workspace

EDITOR = "str_replace_based_edit_tool"


@pytest.mark.parametrize(
    ("model", "setting", "chosen"),
    [
        ("anthropic/claude-sonnet-4-5", "auto", "anthropic"),
        ("anthropic/claude-opus-4-1-20250805", "auto", "anthropic"),
        ("anthropic/claude-3-5-haiku-latest", "auto", "text"),
        ("openai/gpt-5", "auto", "apply_patch"),
        ("openai/gpt-5.1-codex-mini", "auto", "apply_patch"),
        ("openai/codex-mini-latest", "auto", "apply_patch"),
        ("openai/gpt-4o-mini", "auto", "text"),
        ("openai/qwen2.5-coder-1.5b-instruct", "auto", "text"),
        ("scripted/replies.yaml", "auto", "text"),
        ("anthropic/claude-sonnet-4-5", "tools", "tools"),
        ("openai/qwen2.5-coder-1.5b-instruct", "tools", "tools"),
    ],
)
def test_protocol_for(model: str, setting: str, chosen: str) -> None:
    assert protocol_for(model, setting) == chosen
    assert get_protocol(chosen).name == chosen


def actions(protocol: str, *calls: tuple[str, dict[str, Any]], text: str = "") -> list[Any]:
    reply = ModelReply(
        text=text,
        tool_calls=[ToolCall(f"c{i}", name, args) for i, (name, args) in enumerate(calls)],
        finish_reason="tool_calls" if calls else "stop",
    )
    return [item.action for item in get_protocol(protocol).parse(reply).actions]


def test_editor_commands_map_onto_actions() -> None:
    assert actions(
        "anthropic",
        (EDITOR, {"command": "view", "path": "a.py"}),
        (EDITOR, {"command": "view", "path": "a.py", "view_range": [3, -1]}),
        (EDITOR, {"command": "view", "path": "a.py", "view_range": [3, 9]}),
        (EDITOR, {"command": "create", "path": "b.py", "file_text": ""}),
        (EDITOR, {"command": "str_replace", "path": "a.py", "old_str": "x", "new_str": "y"}),
        (EDITOR, {"command": "str_replace", "path": "a.py", "old_str": "gone"}),
        (EDITOR, {"command": "insert", "path": "a.py", "insert_line": 2, "insert_text": "z"}),
        (EDITOR, {"command": "insert", "path": "a.py", "insert_line": 0, "new_str": "w"}),
        ("bash", {"command": "pytest -q"}),
    ) == [
        ReadFile("a.py"),
        ReadFile("a.py", 3, None),
        ReadFile("a.py", 3, 9),
        WriteFile("b.py", ""),
        EditFile("a.py", (Edit("x", "y"),)),
        EditFile("a.py", (Edit("gone", ""),)),
        InsertLines("a.py", 2, "z"),
        InsertLines("a.py", 0, "w"),
        RunCommand("pytest -q"),
    ]


def test_a_reply_without_a_call_is_the_finish() -> None:
    assert actions("anthropic", text="  All done.\n") == [Finish("All done.")]
    assert actions("apply_patch", text="Fixed.") == [Finish("Fixed.")]
    with pytest.raises(FormatError, match="neither a tool call nor any text"):
        actions("anthropic")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ((EDITOR, {"command": "undo_edit", "path": "a"}), 'no command "undo_edit"'),
        ((EDITOR, {"command": "view", "path": "a", "view_range": [5, 2]}), "view_range"),
        ((EDITOR, {"command": "insert", "path": "a", "insert_line": -1, "new_str": "x"}), "0"),
        (("computer", {}), "The tools are: str_replace_based_edit_tool, bash"),
    ],
)
def test_bad_editor_calls_are_format_errors(call: tuple[str, dict[str, Any]], message: str) -> None:
    with pytest.raises(FormatError) as caught:
        actions("anthropic", call)
    assert message in caught.value.message


def test_shell_commands_as_codex_sends_them() -> None:
    patch = "*** Begin Patch\n*** Delete File: a\n*** End Patch"
    assert actions(
        "apply_patch",
        ("shell", {"command": ["bash", "-lc", "ls -la | head"]}),
        ("shell", {"command": ["rg", "-n", "two words"], "workdir": "src"}),
        ("shell", {"command": "echo hi"}),
    ) == [
        RunCommand("ls -la | head"),
        RunCommand("cd src && rg -n 'two words'"),
        RunCommand("echo hi"),
    ]
    (delete,) = actions("apply_patch", ("shell", {"command": ["apply_patch", patch]}))
    assert delete.path == "a"
    with pytest.raises(FormatError, match="a list of strings"):
        actions("apply_patch", ("shell", {"command": [1, 2]}))


def test_insert_lines_and_viewing_a_directory(workspace: Workspace) -> None:
    (workspace.root / "a.txt").write_text("one\r\ntwo")
    sandbox = LocalSandbox()
    assert execute(InsertLines("a.txt", 2, "three\n"), workspace, sandbox, 5.0).ok
    assert execute(InsertLines("a.txt", 0, "zero"), workspace, sandbox, 5.0).ok
    assert (workspace.root / "a.txt").read_bytes() == b"zero\r\none\r\ntwo\r\nthree\r\n"
    refused = execute(InsertLines("a.txt", 9, "x"), workspace, sandbox, 5.0)
    assert not refused.ok and "it has 4 lines" in refused.output
    listing = execute(ReadFile("."), workspace, sandbox, 5.0)
    assert listing.ok and "a.txt" in listing.output
