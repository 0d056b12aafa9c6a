"""The text action protocol (the default): `@@WORD` lines, some with a body closed by `@@END`.

Readable in logs and usable with any provider. Parsing is a pure function of the reply text;
prose around the actions is ignored, and nothing runs unless the whole reply parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    Reading,
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

    def parse(self, reply: ModelReply) -> Reading:
        text = read_text(reply.text, cut=reply.finish_reason == "length")
        return Reading([ParsedAction(action) for action in text.actions], text.repairs, text.cut)

    def assistant_message(self, reply: ModelReply) -> Message:
        return Message(role="assistant", content=reply.text)

    def observation_messages(
        self, reading: Reading, observations: list[Observation]
    ) -> list[Message]:
        repairs = "\n".join(f"- {repair}" for repair in reading.repairs)
        parts = [_say("text_repaired.txt", repairs=repairs)] if repairs else []
        parts += [
            _say(
                "text_observation.txt",
                label=label(item.action),
                status="ok" if observation.ok else "FAILED",
                output=observation.output,
            )
            for item, observation in zip(reading.actions, observations, strict=True)
        ]
        if reading.cut:
            parts.append(_say("text_continue.txt"))
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
        case _:
            return f"{type(action).__name__} {action.path}"


_WORD: dict[type, str] = {
    WriteFile: "WRITE",
    EditFile: "EDIT",
    DeleteFile: "DELETE",
    ListFiles: "LIST",
}


@dataclass(frozen=True)
class TextReading:
    """The actions of a reply, what was repaired to read them, and whether the output cap
    cut it (then its unfinished last line or block is dropped, never run half-written)."""

    actions: list[Action]
    repairs: tuple[str, ...] = ()
    cut: bool = False


@dataclass(frozen=True)
class _Block:
    body: list[str]
    after: int  # the index of the first line after the block
    closed_by: str  # "end", "fence", "next" (another action's header) or "reply" (the end)


def parse_text(text: str) -> list[Action]:
    """Read every action of a reply, in order; raise FormatError when the reply is unusable."""
    return read_text(text).actions


def read_text(text: str, *, cut: bool = False) -> TextReading:
    """Read a reply, repairing what is unambiguous and saying so; FormatError for the rest.

    Repairs: a block left open closes at the end of the reply, at the end of the Markdown
    fence it was written in, or before the next action's header; a stray @@END is ignored,
    and so is an @@OLD or @@NEW outside any @@EDIT, with its lines.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if cut and lines and lines[-1]:
        lines.pop()  # the line the cap cut in the middle
    actions: list[Action] = []
    repairs: list[str] = []
    finish_line, fenced, i = 0, False, 0
    while i < len(lines):
        head = _header(lines[i])
        line_no = i + 1
        i += 1
        if head is None:
            fenced = fenced != _is_fence(lines[i - 1])
            continue
        word, arg = head
        if word == "END":
            repairs.append(_say("text_repair_stray_end.txt", line=line_no))
            continue
        if word in MARKERS:  # an @@OLD or @@NEW outside any @@EDIT: its lines are ignored
            stray = _block(lines, i, fenced)
            i = stray.after
            closer = 1 if stray.closed_by in ("end", "fence") else 0
            last = line_no + len(_trim_blank(stray.body, leading=False)) + closer
            repairs.append(
                _say("text_repair_stray_marker.txt", marker=f"@@{word}", line=line_no, last=last)
            )
            continue
        if word not in ACTION_WORDS:
            raise format_error(
                "text_unknown_action.txt", word=f"@@{word}", line=line_no, known=_known()
            )
        if finish_line:
            raise format_error("text_after_finish.txt", line=line_no, finish_line=finish_line)
        if word in LINE_WORDS:
            actions.append(_line_action(word, arg, line_no))
            continue
        block = _block(lines, i, fenced)
        i = block.after
        header = f"@@{word} {arg}".strip()
        if block.closed_by == "reply" and cut:
            repairs.append(_say("text_repair_cut_block.txt", header=header, line=line_no))
            break
        if block.closed_by == "next" and word == "FINISH":
            raise format_error("text_after_finish.txt", line=i + 1, finish_line=line_no)
        if block.closed_by != "end" and word != "FINISH":
            repairs.append(_closed_note(block, header, line_no))
        fenced = fenced and block.closed_by != "fence"
        actions.append(_block_action(word, arg, block.body, line_no))
        if word == "FINISH":
            finish_line = line_no
    if not actions:
        raise truncated_error() if cut else format_error("text_no_action.txt")
    return TextReading(actions, tuple(repairs), cut)


def _closed_note(block: _Block, header: str, line: int) -> str:
    template = {
        "fence": "text_repair_closed_fence.txt",
        "next": "text_repair_closed_next.txt",
        "reply": "text_repair_closed_reply.txt",
    }[block.closed_by]
    at = block.after if block.closed_by == "fence" else block.after + 1  # 1-based line
    return _say(template, header=header, line=line, next_line=at)


def _say(template: str, **values: object) -> str:
    return render("devbot.agent", template, **values).strip()


def _header(line: str) -> tuple[str, str] | None:
    match = _HEADER.match(line)
    if match is None:
        return None
    return match.group(1).upper(), (match.group(2) or "").strip()


def _is_end(line: str) -> bool:
    return _header(line) == ("END", "")


def _is_fence(line: str) -> bool:
    return line.strip().startswith("```")


def _known() -> str:
    return ", ".join(f"@@{word}" for word in ACTION_WORDS)


def _block(lines: list[str], start: int, fenced: bool) -> _Block:
    """The body of a block whose header is just before index `start`, and what closed it.

    Inside a Markdown fence opened before the header, a bare ``` that is not closing a fence
    of the body ends the block with the fence; fences inside the body come in pairs.
    """
    inner = 0
    for i in range(start, len(lines)):
        line = lines[i]
        if _is_end(line):
            return _Block(lines[start:i], i + 1, "end")
        if _is_fence(line):
            if line.strip() == "```" and inner:
                inner -= 1
            elif line.strip() == "```" and fenced:
                return _Block(lines[start:i], i + 1, "fence")
            else:
                inner += 1
            continue
        head = _header(line)
        if head is not None and head[0] in ACTION_WORDS:
            return _Block(lines[start:i], i, "next")
    return _Block(lines[start:], len(lines), "reply")


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
        search = _text(_trim_blank(_unfence(old, path)))
        if not search:
            raise format_error("text_empty_old.txt", path=path, number=number)
        edits.append(Edit(search=search, replace=_text(_trim_blank(_unfence(new, path)))))
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
    """Drop a ``` fence wrapped around a whole file body or a whole @@OLD/@@NEW part. In a
    prose file, where a fence may be content, only what is broken markup goes: empty fence
    pairs at the start, and a bare closing fence at the end that closes nothing."""
    lines = _trim_blank(body)
    if not path.lower().endswith(_MARKDOWN):
        if len(lines) >= 2 and lines[0].strip().startswith("```") and lines[-1].strip() == "```":
            return lines[1:-1]
        return body
    cleaned = lines
    while len(cleaned) >= 2 and cleaned[0].strip() == cleaned[1].strip() == "```":
        cleaned = _trim_blank(cleaned[2:])
    if cleaned and cleaned[-1].strip() == "```" and sum(map(_is_fence, cleaned)) % 2 == 1:
        cleaned = _trim_blank(cleaned[:-1])
    return body if cleaned == lines else cleaned


def _clean_path(arg: str) -> str:
    return _unquote(arg.strip(), "`", '"', "'")


def _unquote(text: str, *quotes: str) -> str:
    text = text.strip()
    for quote in quotes:
        if len(text) >= 2 and text.startswith(quote) and text.endswith(quote):
            return text[1:-1].strip()
    return text
