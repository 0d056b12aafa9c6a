"""Tool calls a small model wrote into its text instead of the server's tool-call syntax.

Read: `<tools>{"name": ..., "arguments": ...}</tools>`, `<tool_call>...</tool_call>` (a
missing closing tag ends at the reply's end) and a fenced ```json object with "name" and
"arguments". Invented tool names map to devbot's when unambiguous (`create_file` is
write_file); anything else stays as written so the caller can name the real tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from devbot.agent.protocols.base import format_error
from devbot.clipping import clip
from devbot.llm.base import ToolCall

MAX_TEXT_CHARS = 200_000
MAX_CALLS = 20

_TAGGED = re.compile(r"<(tools|tool_call)>\s*(.*?)\s*(?:</\1>|\Z)", re.S)
_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)\n[ \t]*```", re.S)

_NAMES = {
    "create_file": "write_file",
    "write": "write_file",
    "save_file": "write_file",
    "edit": "edit_file",
    "replace_in_file": "edit_file",
    "read": "read_file",
    "open_file": "read_file",
    "view_file": "read_file",
    "cat": "read_file",
    "run": "run_command",
    "bash": "run_command",
    "shell": "run_command",
    "execute": "run_command",
    "execute_command": "run_command",
    "run_shell_command": "run_command",
    "list_dir": "list_files",
    "list_directory": "list_files",
    "ls": "list_files",
    "delete": "delete_file",
    "remove_file": "delete_file",
    "grep": "search_files",
    "search": "search_files",
    "done": "finish",
    "submit": "finish",
}
_FIELDS = {
    "path": ("file_path", "filepath", "filename", "file", "directory", "dir"),
    "content": ("contents", "file_text", "text", "code"),
    "command": ("cmd", "script"),
    "summary": ("message", "result"),
}


@dataclass(frozen=True)
class TextCall:
    """A call read from text; `form` names how it was written, for the model's note."""

    name: str
    arguments: dict[str, Any]
    form: str


def text_calls(text: str) -> list[TextCall]:
    """The calls written in `text`, in order; [] when it has none. A tagged call that is
    not JSON is a FormatError (it was clearly meant as a call); a fence that is not one
    is ordinary text."""
    text = text[:MAX_TEXT_CHARS]
    calls: list[TextCall] = []
    for match in _TAGGED.finditer(text):
        form = f"<{match.group(1)}>"
        try:
            value = json.loads(match.group(2))
        except json.JSONDecodeError:
            raise format_error(
                "tools_bad_json.txt", tool=form, raw=clip(match.group(2), 300)
            ) from None
        calls.extend(_calls(value, form, strict=True))
    if not calls:
        for match in _FENCED.finditer(text):
            try:
                value = json.loads(match.group(1))
            except json.JSONDecodeError:
                continue
            calls.extend(_calls(value, "```json", strict=False))
    return calls[:MAX_CALLS]


def resolved(call: TextCall, known: list[str]) -> ToolCall:
    """`call` under devbot's tool and argument names where the alias is unambiguous."""
    name = call.name if call.name in known else _NAMES.get(call.name.lower(), call.name)
    arguments = dict(call.arguments)
    for field, aliases in _FIELDS.items():
        present = [alias for alias in aliases if alias in arguments]
        if field not in arguments and len(present) == 1:
            arguments[field] = arguments.pop(present[0])
    return ToolCall(id="", name=name, arguments=arguments)


def _calls(value: Any, form: str, *, strict: bool) -> list[TextCall]:
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        call = _call(item)
        if call is None:
            if strict:
                raise format_error("tools_text_shape.txt", form=form)
            continue
        calls.append(TextCall(call[0], call[1], form))
    return calls


def _call(item: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    arguments = item.get("arguments", item.get("parameters"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return item["name"], arguments
