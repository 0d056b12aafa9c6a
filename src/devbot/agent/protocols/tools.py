"""The native tool-calling protocol: one tool per Action, results sent back as tool messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from devbot.agent.actions import (
    Action,
    DeleteFile,
    Edit,
    EditFile,
    Finish,
    ListFiles,
    Observation,
    ReadFile,
    RunCommand,
    SearchFiles,
    WriteFile,
)
from devbot.agent.protocols.base import (
    FormatError,
    ParsedAction,
    Reading,
    format_error,
    truncated_error,
)
from devbot.agent.protocols.fallback import resolved, text_calls
from devbot.agent.protocols.results import tool_error_messages, tool_result_messages
from devbot.clipping import clip
from devbot.llm.base import Message, ModelReply, ToolCall, ToolSpec
from devbot.templating import render

INVALID_JSON_KEY = "__invalid_json__"


class ToolsProtocol:
    """Actions as native tool calls; a reply without a tool call is a format error."""

    name = "tools"

    def instructions(self) -> str:
        return render("devbot.agent", "tools_instructions.txt").strip()

    def tool_specs(self) -> list[ToolSpec] | None:
        return list(_specs())

    def parse(self, reply: ModelReply) -> Reading:
        if reply.finish_reason == "length":
            raise truncated_error()
        calls, repairs = list(reply.tool_calls), tuple[str, ...]()
        if not calls:
            found = text_calls(reply.text)
            if not found:
                raise format_error("tools_no_call.txt")
            calls = [resolved(call, [spec.name for spec in _specs()]) for call in found]
            forms = ", ".join(sorted({call.form for call in found}))
            repairs = (render("devbot.agent", "tools_read_from_text.txt", forms=forms).strip(),)
        parsed: list[ParsedAction] = []
        for call in calls:
            if parsed and isinstance(parsed[-1].action, Finish):
                raise format_error("tools_after_finish.txt", tool=call.name)
            parsed.append(ParsedAction(_action(call), call.id or None))
        return Reading(parsed, repairs)

    def assistant_message(self, reply: ModelReply) -> Message:
        return Message(role="assistant", content=reply.text, tool_calls=list(reply.tool_calls))

    def observation_messages(
        self, reading: Reading, observations: list[Observation]
    ) -> list[Message]:
        return tool_result_messages(reading, observations)

    def format_error_messages(self, reply: ModelReply, error: FormatError) -> list[Message]:
        return tool_error_messages(reply, error)


@cache
def _specs() -> tuple[ToolSpec, ...]:
    raw = json.loads(render("devbot.agent", "tool_specs.txt"))
    return tuple(ToolSpec(**spec) for spec in raw)


def _action(call: ToolCall) -> Action:
    build = _BUILDERS.get(call.name)
    if build is None:
        raise known_tool_error(call.name, [spec.name for spec in _specs()])
    return build(Args(call.name, parsed_arguments(call)))


def known_tool_error(name: str, known: list[str]) -> FormatError:
    """The error for a call to a tool that does not exist, naming the ones that do."""
    return format_error("tools_unknown.txt", tool=clip(name, 100), known=", ".join(known))


def parsed_arguments(call: ToolCall) -> dict[str, Any]:
    """The call's arguments; a FormatError when they were not valid JSON."""
    args = call.arguments
    if INVALID_JSON_KEY in args:
        raise format_error(
            "tools_bad_json.txt", tool=call.name, raw=clip(str(args[INVALID_JSON_KEY]), 300)
        )
    return args


class Args:
    """Typed access to one call's arguments; a wrong or missing one is a FormatError."""

    def __init__(self, tool: str, values: dict[str, Any]) -> None:
        self.tool = tool
        self.values = values

    def text(self, field: str, *, allow_empty: bool = False) -> str:
        value = self.values.get(field)
        if not isinstance(value, str) or not (value or allow_empty):
            raise self.bad(field, "a string" if allow_empty else "a non-empty string")
        return value

    def optional_text(self, field: str) -> str | None:
        return self.text(field) if self.values.get(field) else None

    def line(self, field: str) -> int | None:
        value = self.values.get(field)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(field, "an integer")
        return value

    def edits(self, field: str) -> tuple[Edit, ...]:
        value = self.values.get(field)
        expected = 'a non-empty list of {"search": ..., "replace": ...} objects'
        if not isinstance(value, list) or not value:
            raise self.bad(field, expected)
        edits = []
        for item in value:
            if not isinstance(item, dict):
                raise self.bad(field, expected)
            search, replace = item.get("search"), item.get("replace")
            if not isinstance(search, str) or not search or not isinstance(replace, str):
                raise self.bad(field, expected)
            edits.append(Edit(search=search, replace=replace))
        return tuple(edits)

    def bad(self, field: str, expected: str) -> FormatError:
        return format_error(
            "tools_bad_argument.txt", tool=self.tool, field=field, expected=expected
        )


_BUILDERS: dict[str, Callable[[Args], Action]] = {
    "read_file": lambda a: ReadFile(a.text("path"), a.line("start_line"), a.line("end_line")),
    "write_file": lambda a: WriteFile(a.text("path"), a.text("content", allow_empty=True)),
    "edit_file": lambda a: EditFile(a.text("path"), a.edits("edits")),
    "delete_file": lambda a: DeleteFile(a.text("path")),
    "list_files": lambda a: ListFiles(a.optional_text("path") or "."),
    "search_files": lambda a: SearchFiles(
        a.text("pattern"), a.optional_text("path") or ".", a.optional_text("glob")
    ),
    "run_command": lambda a: RunCommand(a.text("command")),
    "finish": lambda a: Finish(a.text("summary")),
}
