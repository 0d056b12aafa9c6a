"""The text action protocol (the default): `@@WORD` lines, some with a body closed by `@@END`.

Readable in logs and usable with any provider. Parsing is a pure function of the reply text;
prose around the actions is ignored, and nothing runs unless the whole reply parses.
"""

from __future__ import annotations

import re
from typing import NoReturn

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
    error_text,
    format_error,
    truncated_error,
)
from devbot.llm.base import Message, ModelReply, ToolSpec
from devbot.templating import render

LINE_WORDS = ("READ", "LIST", "SEARCH", "DELETE", "RUN")
BLOCK_WORDS = ("WRITE", "EDIT", "FINISH")
ACTION_WORDS = LINE_WORDS + BLOCK_WORDS
MARKERS = ("END", "OLD", "NEW")

_HEADER = re.compile(r"^[ \t]*@@([A-Za-z_]+)(?:[ \t]+(.*?))?[ \t]*$")
_READ_ARG = re.compile(r"^(?P<path>.+?)(?:[\s:]+(?P<start>\d+)(?:\s*-\s*(?P<end>\d+)?)?)?$")
_MARKDOWN = (".md", ".markdown", ".rst", ".txt")


class TextProtocol:
    """Actions written as text; observations come back as one user message per turn."""

    name = "text"

    def instructions(self) -> str:
        return render("devbot.agent", "text_instructions.txt").strip()

    def tool_specs(self) -> list[ToolSpec] | None:
        return None

    def parse(self, reply: ModelReply) -> list[ParsedAction]:
        if reply.finish_reason == "length":
            raise truncated_error()
        return [ParsedAction(action) for action in parse_text(reply.text)]

    def assistant_message(self, reply: ModelReply) -> Message:
        return Message(role="assistant", content=reply.text)

    def observation_messages(
        self, parsed: list[ParsedAction], observations: list[Observation]
    ) -> list[Message]:
        parts = [
            render(
                "devbot.agent",
                "text_observation.txt",
                label=label(item.action),
                status="ok" if observation.ok else "FAILED",
                output=observation.output,
            ).strip()
            for item, observation in zip(parsed, observations, strict=True)
        ]
        return [Message(role="user", content="\n\n".join(parts))]

    def format_error_messages(self, reply: ModelReply, error: FormatError) -> list[Message]:
        return [Message(role="user", content=error_text(error))]


def label(action: Action) -> str:
    """A one-line reminder of `action` in the protocol's own words."""
    match action:
        case ReadFile():
            lines = "" if action.start_line is None else f" {action.start_line}-"
            return f"READ {action.path}{lines}{action.end_line or ''}"
        case WriteFile() | EditFile() | DeleteFile() | ListFiles():
            return f"{_WORD[type(action)]} {action.path}"
        case SearchFiles():
            return f"SEARCH {action.pattern}"
        case RunCommand():
            return f"RUN {action.command.partition(chr(10))[0][:200]}"
        case Finish():
            return "FINISH"


_WORD: dict[type, str] = {
    WriteFile: "WRITE",
    EditFile: "EDIT",
    DeleteFile: "DELETE",
    ListFiles: "LIST",
}


def parse_text(text: str) -> list[Action]:
    """Read every action of a reply, in order; raise FormatError when the reply is unusable."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    actions: list[Action] = []
    finish_line = 0
    i = 0
    while i < len(lines):
        head = _header(lines[i])
        line_no = i + 1
        i += 1
        if head is None:
            continue
        word, arg = head
        if word in MARKERS:
            raise format_error("text_stray_marker.txt", marker=f"@@{word}", line=line_no)
        if word not in ACTION_WORDS:
            raise format_error(
                "text_unknown_action.txt", word=f"@@{word}", line=line_no, known=_known()
            )
        if finish_line:
            raise format_error("text_after_finish.txt", line=line_no, finish_line=finish_line)
        if word in LINE_WORDS:
            actions.append(_line_action(word, arg, line_no))
            continue
        body, i = _block(lines, i, word, arg, line_no)
        actions.append(_block_action(word, arg, body, line_no))
        if word == "FINISH":
            finish_line = line_no
    if not actions:
        raise format_error("text_no_action.txt")
    return actions


def _header(line: str) -> tuple[str, str] | None:
    match = _HEADER.match(line)
    if match is None:
        return None
    return match.group(1).upper(), (match.group(2) or "").strip()


def _is_end(line: str) -> bool:
    return _header(line) == ("END", "")


def _known() -> str:
    return ", ".join(f"@@{word}" for word in ACTION_WORDS)


def _block(
    lines: list[str], start: int, word: str, arg: str, header_line: int
) -> tuple[list[str], int]:
    """The body lines of a block starting at index `start`, and the index after its @@END."""
    for i in range(start, len(lines)):
        if _is_end(lines[i]):
            return lines[start:i], i + 1
        head = _header(lines[i])
        if head is not None and head[0] in ACTION_WORDS:
            if word == "FINISH":
                raise format_error("text_after_finish.txt", line=i + 1, finish_line=header_line)
            raise format_error(
                "text_unclosed_before.txt",
                header=f"@@{word} {arg}".strip(),
                line=header_line,
                next_header=f"@@{head[0]}",
                next_line=i + 1,
            )
    if word == "FINISH":
        return lines[start:], len(lines)
    raise format_error("text_unterminated.txt", header=f"@@{word} {arg}".strip(), line=header_line)


def _line_action(word: str, arg: str, line_no: int) -> Action:
    if word == "LIST":
        return ListFiles(_clean_path(arg) or ".")
    if word == "RUN":
        command = _unquote(arg, "`")
        if not command:
            _missing(word, "a command", line_no)
        return RunCommand(command)
    if word == "SEARCH":
        if not arg:
            _missing(word, "a regular expression", line_no)
        return SearchFiles(pattern=_unquote(arg, "`"))
    if not _clean_path(arg):
        _missing(word, "a path", line_no)
    if word == "DELETE":
        return DeleteFile(_clean_path(arg))
    match = _READ_ARG.match(_clean_path(arg))
    if match is None:
        _missing(word, "a path", line_no)
    path = _clean_path(match.group("path"))
    start, end = match.group("start"), match.group("end")
    return ReadFile(path, int(start) if start else None, int(end) if end else None)


def _block_action(word: str, arg: str, body: list[str], line_no: int) -> Action:
    if word == "FINISH":
        summary = "\n".join([arg, *body]).strip()
        if not summary:
            _missing(word, "a summary of what changed and why", line_no)
        return Finish(summary)
    path = _clean_path(arg)
    if not path:
        _missing(word, "a path", line_no)
    if word == "WRITE":
        return WriteFile(path, _text(_unfence(body, path)))
    return EditFile(path, _edits(body, path, line_no))


def _edits(body: list[str], path: str, header_line: int) -> tuple[Edit, ...]:
    pairs: list[tuple[list[str], list[str]]] = []
    section = ""
    for offset, line in enumerate(body):
        head = _header(line)
        marker = head[0] if head in (("OLD", ""), ("NEW", "")) else ""
        if marker == "OLD" and section != "old":
            pairs.append(([], []))
            section = "old"
        elif marker == "NEW" and section == "old":
            section = "new"
        elif marker or (not section and line.strip() and not line.strip().startswith("```")):
            raise format_error(
                "text_bad_edit.txt", path=path, line=header_line, at=header_line + 1 + offset
            )
        elif section:
            pairs[-1][0 if section == "old" else 1].append(line)
    if not pairs or section != "new":
        raise format_error(
            "text_bad_edit.txt", path=path, line=header_line, at=header_line + 1 + len(body)
        )
    edits: list[Edit] = []
    for number, (old, new) in enumerate(pairs, start=1):
        search = _text(_trim_blank(old))
        if not search:
            raise format_error("text_empty_old.txt", path=path, number=number)
        edits.append(Edit(search=search, replace=_text(_trim_blank(new))))
    return tuple(edits)


def _missing(word: str, what: str, line_no: int) -> NoReturn:
    raise format_error("text_missing_arg.txt", header=f"@@{word}", line=line_no, what=what)


def _text(lines: list[str]) -> str:
    lines = _trim_blank(lines, leading=False)
    return "\n".join(lines) + "\n" if lines else ""


def _trim_blank(lines: list[str], *, leading: bool = True) -> list[str]:
    start, end = 0, len(lines)
    while leading and start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _unfence(body: list[str], path: str) -> list[str]:
    """Drop a ``` fence wrapped around a whole file body (not for prose files)."""
    lines = _trim_blank(body)
    if (
        len(lines) >= 2
        and lines[0].strip().startswith("```")
        and lines[-1].strip() == "```"
        and not path.lower().endswith(_MARKDOWN)
    ):
        return lines[1:-1]
    return body


def _clean_path(arg: str) -> str:
    return _unquote(arg.strip(), "`", '"', "'")


def _unquote(text: str, *quotes: str) -> str:
    text = text.strip()
    for quote in quotes:
        if len(text) >= 2 and text.startswith(quote) and text.endswith(quote):
            return text[1:-1].strip()
    return text
