"""The Agent loop through the real SDK adapters against local servers speaking each format."""

from __future__ import annotations

from devbot.agent import Agent, ExitStatus, Limits, Task, get_protocol
from devbot.llm.anthropic_model import AnthropicModel
from devbot.llm.openai_model import OpenAIModel
from devbot.sandbox.local import LocalSandbox
from devbot.tools import Workspace
from tests.fixtures.model_servers import AnthropicServer, OpenAIServer

TASK = Task("Fix greeting", "Make greet() say hello, add NOTES.md and run the checks.")
LIMITS = Limits(max_steps=10, max_usd=1.0, max_wall_s=600.0, max_format_errors=2)
EDITOR = "str_replace_based_edit_tool"


def run(model: AnthropicModel | OpenAIModel, protocol: str, workspace: Workspace) -> Agent:
    return Agent(
        model, get_protocol(protocol), workspace, LocalSandbox(), LIMITS, clock=lambda: 0.0
    )


def test_claude_text_editor_and_bash_change_files(
    anthropic_server: AnthropicServer, workspace: Workspace
) -> None:
    (workspace.root / "app.py").write_text("def greet():\n    return 'hi'\n")
    server = anthropic_server
    server.queue_reply(
        text="Looking first.",
        tool_calls=[
            {"name": EDITOR, "arguments": {"command": "view", "path": "."}},
            {
                "name": EDITOR,
                "arguments": {"command": "view", "path": "app.py", "view_range": [1, -1]},
            },
        ],
    )
    server.queue_reply(
        text=None,
        tool_calls=[
            {
                "name": EDITOR,
                "arguments": {
                    "command": "str_replace",
                    "path": "app.py",
                    "old_str": "'hi'",
                    "new_str": "'hello'",
                },
            },
            {
                "name": EDITOR,
                "arguments": {"command": "create", "path": "NOTES.md", "file_text": "b\n"},
            },
            {
                "name": EDITOR,
                "arguments": {
                    "command": "insert",
                    "path": "NOTES.md",
                    "insert_line": 0,
                    "insert_text": "a",
                },
            },
            {"name": "bash", "arguments": {"command": "grep -c hello app.py"}},
        ],
    )
    server.queue_reply(text="greet() now says hello; NOTES.md added.")
    model = AnthropicModel("claude-haiku-4-5", "sk-ant-test", server.url, timeout_s=5, retries=0)

    result = run(model, "anthropic", workspace).run(TASK)

    assert result.exit_status is ExitStatus.SUBMITTED
    assert result.summary == "greet() now says hello; NOTES.md added."
    assert (workspace.root / "app.py").read_text() == "def greet():\n    return 'hello'\n"
    assert (workspace.root / "NOTES.md").read_text() == "a\nb\n"
    bodies = server.bodies
    assert bodies[0]["tools"] == [
        {"type": "text_editor_20250728", "name": EDITOR},
        {"type": "bash_20250124", "name": "bash"},
    ]
    results = [b for b in bodies[1]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert len(results) == 2
    assert "app.py" in results[0]["content"]
    assert "return 'hi'" in results[1]["content"]
    bash_result = [b for b in bodies[2]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert bash_result[-1]["content"].startswith("ok") and "1" in bash_result[-1]["content"]


def test_gpt5_apply_patch_and_shell_change_files(
    openai_server: OpenAIServer, workspace: Workspace
) -> None:
    (workspace.root / "app.py").write_text("def greet():\n    return 'hi'\n")
    (workspace.root / "old.txt").write_text("bye\n")
    patch = (
        "*** Begin Patch\n"
        "*** Update File: app.py\n"
        "@@ def greet():\n"
        "-    return 'hi'\n"
        "+    return 'hello'\n"
        "*** Add File: NOTES.md\n"
        "+notes\n"
        "*** Delete File: old.txt\n"
        "*** End Patch\n"
    )
    server = openai_server
    server.queue_reply(
        text=None,
        tool_calls=[
            {"name": "apply_patch", "arguments": {"input": patch}},
            {"name": "shell", "arguments": {"command": ["bash", "-lc", "cat app.py"]}},
        ],
    )
    server.queue_reply(text="Done: greet says hello.")
    model = OpenAIModel("gpt-5.1-codex", server.url, "sk-test", timeout_s=5, retries=0)

    result = run(model, "apply_patch", workspace).run(TASK)

    assert result.exit_status is ExitStatus.SUBMITTED
    assert (workspace.root / "app.py").read_text() == "def greet():\n    return 'hello'\n"
    assert (workspace.root / "NOTES.md").read_text() == "notes\n"
    assert not (workspace.root / "old.txt").exists()
    bodies = server.bodies
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["apply_patch", "shell"]
    tool_messages = [m for m in bodies[1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 2  # one answer per call, though the patch was three actions
    assert tool_messages[0]["content"].startswith("ok")
    assert "return 'hello'" in tool_messages[1]["content"]


def test_local_model_tool_calls_written_as_text_are_run(
    openai_server: OpenAIServer, workspace: Workspace
) -> None:
    server = openai_server
    server.queue_reply(
        text='<tools>{"name": "create_file", "arguments": '
        '{"file_path": "a.txt", "content": "A\\n"}}</tools>'
    )
    server.queue_reply(
        text='Now:\n```json\n{"name": "write_file", "arguments": '
        '{"path": "b.txt", "content": "B\\n"}}\n```'
    )
    server.queue_reply(
        text='<tool_call>\n{"name": "finish", "arguments": {"summary": "wrote a and b"}}'
        "\n</tool_call>"
    )
    model = OpenAIModel("qwen2.5-coder-1.5b-instruct", server.url, timeout_s=5, retries=0)

    result = run(model, "tools", workspace).run(TASK)

    assert result.exit_status is ExitStatus.SUBMITTED
    assert result.summary == "wrote a and b"
    assert (workspace.root / "a.txt").read_text() == "A\n"
    assert (workspace.root / "b.txt").read_text() == "B\n"
    told = server.bodies[1]["messages"][-1]
    assert told["role"] == "user"
    assert "read from the text of your reply (<tools>)" in told["content"]
