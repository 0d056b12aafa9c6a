"""A strict reader of the apply_patch (V4A) format GPT-5 and Codex models are trained on.

    *** Begin Patch
    *** Add File: path          every following line starts with "+"
    *** Delete File: path       nothing follows
    *** Update File: path       optional "*** Move to: new/path", then "@@" hunks of
    @@ optional locator          " " context, "-" removed and "+" added lines,
    *** End of File              optionally closed by "*** End of File"
    *** End Patch

Each hunk becomes one exact search/replace Edit (context and removed lines -> context and
added lines), so the Workspace's matcher decides where it applies and says when it does
not. Paths are not judged here: every Action goes through the jailed Workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devbot.agent.actions import Action, DeleteFile, Edit, EditFile, MoveFile, WriteFile
from devbot.agent.protocols.base import FormatError, format_error
from devbot.clipping import clip

MAX_PATCH_CHARS = 400_000
MAX_FILES = 50

BEGIN, END = "*** Begin Patch", "*** End Patch"
ADD, DELETE, UPDATE, MOVE = "*** Add File:", "*** Delete File:", "*** Update File:", "*** Move to:"
END_OF_FILE = "*** End of File"
_HEADERS = (ADD, DELETE, UPDATE)


@dataclass
class _Hunk:
    line: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    anchored: bool = False

    def edit(self, path: str) -> Edit:
        if not self.anchored:
            raise format_error("patch_no_anchor.txt", line=self.line, path=path)
        return Edit(search=_joined(self.old), replace=_joined(self.new))


def parse_patch(patch: str) -> list[Action]:
    """The Actions `patch` asks for, in order; FormatError naming the first bad line."""
    if len(patch) > MAX_PATCH_CHARS:
        raise format_error("patch_too_big.txt", chars=len(patch), limit=MAX_PATCH_CHARS)
    lines = patch.strip().splitlines()
    if not lines or lines[0].strip() != BEGIN:
        raise format_error("patch_no_begin.txt")
    if len(lines) < 2 or lines[-1].strip() != END:
        raise format_error("patch_no_end.txt")
    body = lines[1:-1]
    actions: list[Action] = []
    index, files = 0, 0
    while index < len(body):
        files += 1
        if files > MAX_FILES:
            raise format_error(
                "patch_too_many.txt", count=f"more than {MAX_FILES}", limit=MAX_FILES
            )
        index = _section(body, index, actions)
    if not actions:
        raise format_error("patch_no_files.txt")
    return actions


def _section(body: list[str], index: int, actions: list[Action]) -> int:
    """Read the file section starting at `body[index]`; the index after it."""
    header = body[index]
    number = index + 2
    if header.startswith(ADD):
        path = _path(header, ADD, number)
        end = _next_header(body, index + 1)
        content = []
        for offset, line in enumerate(body[index + 1 : end]):
            if not line.startswith("+"):
                raise _bad(number + 1 + offset, line, 'a "+" line of the new file')
            content.append(line[1:])
        actions.append(WriteFile(path, _joined(content)))
        return end
    if header.startswith(DELETE):
        actions.append(DeleteFile(_path(header, DELETE, number)))
        return index + 1
    if header.startswith(UPDATE):
        return _update(body, index, actions)
    raise _bad(number, header, '"*** Add File:", "*** Update File:" or "*** Delete File:"')


def _update(body: list[str], index: int, actions: list[Action]) -> int:
    path = _path(body[index], UPDATE, index + 2)
    end = _next_header(body, index + 1)
    start = index + 1
    move_to = None
    if start < end and body[start].startswith(MOVE):
        move_to = _path(body[start], MOVE, start + 2)
        start += 1
    hunks = _hunks(body, start, end, path)
    if not hunks and move_to is None:
        raise format_error("patch_empty_update.txt", line=index + 2, path=path)
    if hunks:
        actions.append(EditFile(path, tuple(hunk.edit(path) for hunk in hunks)))
    if move_to is not None:
        actions.append(MoveFile(path, move_to))
    return end


def _hunks(body: list[str], start: int, end: int, path: str) -> list[_Hunk]:
    hunks: list[_Hunk] = []
    current: _Hunk | None = None
    for index in range(start, end):
        line, number = body[index], index + 2
        if line.startswith("@@"):
            current = _Hunk(number)
            hunks.append(current)
            continue
        if line.strip() == END_OF_FILE and current is not None:
            current = None
            continue
        if current is None:
            if not hunks:
                current = _Hunk(number)
                hunks.append(current)
            else:
                raise _bad(number, line, 'a "@@" line starting the next hunk')
        _hunk_line(current, line, number)
    return [hunk for hunk in hunks if hunk.old or hunk.new]


def _hunk_line(hunk: _Hunk, line: str, number: int) -> None:
    marker, text = line[:1], line[1:]
    if marker in (" ", ""):
        hunk.old.append(text)
        hunk.new.append(text)
        hunk.anchored = True
    elif marker == "-":
        hunk.old.append(text)
        hunk.anchored = True
    elif marker == "+":
        hunk.new.append(text)
    else:
        raise _bad(number, line, 'a " " context, "-" removed or "+" added line')


def _next_header(body: list[str], index: int) -> int:
    while index < len(body) and not body[index].startswith(_HEADERS):
        index += 1
    return index


def _path(line: str, header: str, number: int) -> str:
    path = line[len(header) :].strip()
    if not path:
        raise format_error("patch_empty_path.txt", line=number, header=header)
    return path


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _bad(number: int, line: str, expected: str) -> FormatError:
    return format_error("patch_bad_line.txt", line=number, text=clip(line, 120), expected=expected)
