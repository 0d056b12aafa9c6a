"""Protocols on the tools a model family was trained with, read into devbot's Actions.

"anthropic": Claude's built-in text editor (view, create, str_replace, insert) and bash.
"apply_patch": GPT-5 / Codex's apply_patch (V4A patch text) and shell, as function tools.
Both models end a task by answering without a tool call, so such a reply is the Finish,
its text the summary; no extra finish tool competes with what they were trained on.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from functools import cache

from devbot.agent.actions import (
    Action,
    Edit,
    EditFile,
    Finish,
    InsertLines,
    Observation,
    ReadFile,
    RunCommand,
    WriteFile,
)
from devbot.agent.protocols.base import (
    FormatError,
    ParsedAction,
    Reading,
    format_error,
    truncated_error,
)
from devbot.agent.protocols.patch_format import parse_patch
from devbot.agent.protocols.results import tool_error_messages, tool_result_messages
from devbot.agent.protocols.tools import Args, known_tool_error, parsed_arguments
from devbot.clipping import clip
from devbot.llm.base import Message, ModelReply, ToolCall, ToolSpec
from devbot.templating import render

EDITOR = "str_replace_based_edit_tool"
ANTHROPIC_TOOLS = (
    ToolSpec(name=EDITOR, builtin={"type": "text_editor_20250728", "name": EDITOR}),
    ToolSpec(name="bash", builtin={"type": "bash_20250124", "name": "bash"}),
)

Builder = Callable[[Args], list[Action]]


class NativeProtocol:
    """Native tool calls of one model family; a reply with none is the final answer."""

    def __init__(
        self,
        name: str,
        instructions: str,
        specs: Sequence[ToolSpec],
        builders: dict[str, Builder],
    ) -> None:
        self.name = name
        self._instructions = instructions
        self._specs = tuple(specs)
        self._builders = builders

    def instructions(self) -> str:
        return render("devbot.agent", self._instructions).strip()

    def tool_specs(self) -> list[ToolSpec] | None:
        return list(self._specs)

    def parse(self, reply: ModelReply) -> Reading:
        if reply.finish_reason == "length":
            raise truncated_error()
        if not reply.tool_calls:
            summary = reply.text.strip()
            if not summary:
                raise format_error("native_no_call.txt")
            return Reading([ParsedAction(Finish(summary))])
        parsed = [
            ParsedAction(action, call.id)
            for call in reply.tool_calls
            for action in self._actions(call)
        ]
        return Reading(parsed)

    def assistant_message(self, reply: ModelReply) -> Message:
        return Message(role="assistant", content=reply.text, tool_calls=list(reply.tool_calls))

    def observation_messages(
        self, reading: Reading, observations: list[Observation]
    ) -> list[Message]:
        return tool_result_messages(reading, observations)

    def format_error_messages(self, reply: ModelReply, error: FormatError) -> list[Message]:
        return tool_error_messages(reply, error)

    def _actions(self, call: ToolCall) -> list[Action]:
        build = self._builders.get(call.name)
        if build is None:
            raise known_tool_error(call.name, [spec.name for spec in self._specs])
        return build(Args(call.name, parsed_arguments(call)))


def anthropic_protocol() -> NativeProtocol:
    """Claude 4's text editor and bash tools."""
    builders: dict[str, Builder] = {EDITOR: _editor, "bash": _bash}
    return NativeProtocol("anthropic", "anthropic_instructions.txt", ANTHROPIC_TOOLS, builders)


def apply_patch_protocol() -> NativeProtocol:
    """GPT-5 / Codex's apply_patch and shell tools (the function form Chat Completions takes)."""
    builders: dict[str, Builder] = {"apply_patch": _apply_patch, "shell": _shell}
    return NativeProtocol(
        "apply_patch", "apply_patch_instructions.txt", _apply_patch_specs(), builders
    )


@cache
def _apply_patch_specs() -> tuple[ToolSpec, ...]:
    raw = json.loads(render("devbot.agent", "apply_patch_specs.txt"))
    return tuple(ToolSpec(**spec) for spec in raw)


def _editor(args: Args) -> list[Action]:
    command, path = args.text("command"), args.text("path")
    if command == "view":
        start, end = _view_range(args)
        return [ReadFile(path, start, end)]
    if command == "create":
        return [WriteFile(path, args.text("file_text", allow_empty=True))]
    if command == "str_replace":
        new = args.values.get("new_str", "")
        if not isinstance(new, str):
            raise args.bad("new_str", "a string")
        return [EditFile(path, (Edit(search=args.text("old_str"), replace=new),))]
    if command == "insert":
        field = "insert_text" if "insert_text" in args.values else "new_str"
        line = args.line("insert_line")
        if line is None or line < 0:
            raise args.bad("insert_line", "a line number (0 inserts at the top)")
        return [InsertLines(path, line, args.text(field, allow_empty=True))]
    raise format_error("editor_unknown_command.txt", command=clip(command, 60))


def _view_range(args: Args) -> tuple[int | None, int | None]:
    value = args.values.get("view_range")
    if value is None:
        return None, None
    expected = "[start_line, end_line] (end_line -1 reads to the end)"
    if not (isinstance(value, list) and len(value) == 2):
        raise args.bad("view_range", expected)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise args.bad("view_range", expected)
    start, end = value
    if start < 1 or (end != -1 and end < start):
        raise args.bad("view_range", expected)
    return start, None if end == -1 else end


def _bash(args: Args) -> list[Action]:
    if args.values.get("restart") is True and not args.values.get("command"):
        return [RunCommand(render("devbot.agent", "bash_restart.txt").strip())]
    return [RunCommand(args.text("command"))]


def _apply_patch(args: Args) -> list[Action]:
    field = "input" if "input" in args.values else "patch"
    return parse_patch(args.text(field))


def _shell(args: Args) -> list[Action]:
    """Codex's shell: `command` is an argv list (a string is taken as a script)."""
    command = args.values.get("command")
    if isinstance(command, str) and command.strip():
        script = command
    elif isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        if command[0] in ("apply_patch", "applypatch") and len(command) == 2:
            return parse_patch(command[1])
        shells = (["bash", "-lc"], ["bash", "-c"], ["sh", "-c"], ["sh", "-lc"])
        script = command[2] if len(command) == 3 and command[:2] in shells else shlex.join(command)
    else:
        raise args.bad("command", 'a list of strings such as ["bash", "-lc", "ls"]')
    workdir = args.values.get("workdir")
    if isinstance(workdir, str) and workdir.strip() not in ("", "."):
        script = f"cd {shlex.quote(workdir)} && {script}"
    return [RunCommand(script)]
