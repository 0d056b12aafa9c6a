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
    error_text,
    format_error,
    truncated_error,
)
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
        if not reply.tool_calls:
            raise format_error("tools_no_call.txt")
        parsed: list[ParsedAction] = []
        for call in reply.tool_calls:
            if parsed and isinstance(parsed[-1].action, Finish):
                raise format_error("tools_after_finish.txt", tool=call.name)
            parsed.append(ParsedAction(_action(call), call.id))
        return Reading(parsed)

    def assistant_message(self, reply: ModelReply) -> Message:
        return Message(role="assistant", content=reply.text, tool_calls=list(reply.tool_calls))

    def observation_messages(
        self, reading: Reading, observations: list[Observation]
    ) -> list[Message]:
        return [
            Message(
                role="tool",
                content=render(
                    "devbot.agent",
                    "tools_observation.txt",
                    status="ok" if observation.ok else "FAILED",
                    output=observation.output,
                ).strip(),
                tool_call_id=item.call_id,
            )
            for item, observation in zip(reading.actions, observations, strict=True)
        ]

    def format_error_messages(self, reply: ModelReply, error: FormatError) -> list[Message]:
        text = error_text(error)
        if not reply.tool_calls:
            return [Message(role="user", content=text)]
        not_run = render("devbot.agent", "tools_not_run.txt").strip()
        return [
            Message(role="tool", content=text if i == 0 else not_run, tool_call_id=call.id)
            for i, call in enumerate(reply.tool_calls)
        ]


@cache
def _specs() -> tuple[ToolSpec, ...]:
    raw = json.loads(render("devbot.agent", "tool_specs.txt"))
    return tuple(ToolSpec(**spec) for spec in raw)


def _action(call: ToolCall) -> Action:
    build = _BUILDERS.get(call.name)
    if build is None:
        known = ", ".join(spec.name for spec in _specs())
        raise format_error("tools_unknown.txt", tool=call.name[:100], known=known)
    args = call.arguments
    if INVALID_JSON_KEY in args:
        raise format_error(
            "tools_bad_json.txt", tool=call.name, raw=clip(str(args[INVALID_JSON_KEY]), 300)
        )
    return build(_Args(call.name, args))


class _Args:
    """Typed access to one call's arguments; a wrong or missing one is a FormatError."""

    def __init__(self, tool: str, values: dict[str, Any]) -> None:
        self.tool = tool
        self.values = values

    def text(self, field: str, *, allow_empty: bool = False) -> str:
        value = self.values.get(field)
        if not isinstance(value, str) or not (value or allow_empty):
            raise self._bad(field, "a string" if allow_empty else "a non-empty string")
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
            raise self._bad(field, "an integer")
        return value

    def edits(self, field: str) -> tuple[Edit, ...]:
        value = self.values.get(field)
        expected = 'a non-empty list of {"search": ..., "replace": ...} objects'
        if not isinstance(value, list) or not value:
            raise self._bad(field, expected)
        edits = []
        for item in value:
            if not isinstance(item, dict):
                raise self._bad(field, expected)
            search, replace = item.get("search"), item.get("replace")
            if not isinstance(search, str) or not search or not isinstance(replace, str):
                raise self._bad(field, expected)
            edits.append(Edit(search=search, replace=replace))
        return tuple(edits)

    def _bad(self, field: str, expected: str) -> FormatError:
        return format_error(
            "tools_bad_argument.txt", tool=self.tool, field=field, expected=expected
        )


_BUILDERS: dict[str, Callable[[_Args], Action]] = {
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
