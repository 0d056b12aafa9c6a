"""The file tools the agent works with, jailed to one workspace directory.

Every method returns a ToolResult; a model's mistake (bad path, missing file, failed edit)
becomes `ok=False` with a message saying what to do instead, never an exception.
Writes are atomic and keep what the file already was: permissions, encoding, line endings.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import stat
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Concatenate, ParamSpec

from devbot.clipping import clip
from devbot.templating import render
from devbot.tools.deadline import NO_DEADLINE, Deadline, OutOfTime
from devbot.tools.edit import EMPTY_SEARCH, NOT_FOUND, EditFailure, apply_edits
from devbot.tools.jail import PathOutsideWorkspace, has_git_part, resolve_in_workspace
from devbot.tools.search import search_lines
from devbot.tools.text import decode, is_binary

MAX_MATCHES = 200
SEARCH_TIMEOUT_S = 20.0

P = ParamSpec("P")


TEMPORARY_FILES = ".devbot-*.tmp"
"""Name pattern of half-written files; a crash mid-write can leave one behind."""


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    output: str


@dataclass(frozen=True)
class _TextFile:
    text: str
    encoding: str
    mode: int


class _Refused(Exception):
    """Ends a tool call with ok=False and this message."""


def _say(name: str, **values: object) -> str:
    return render("devbot.tools", name, **values).rstrip("\n")


def _tool(
    method: Callable[Concatenate[Workspace, P], ToolResult],
) -> Callable[Concatenate[Workspace, P], ToolResult]:
    """Turn refusals, running out of time and OS errors into ok=False results."""

    @functools.wraps(method)
    def wrapper(self: Workspace, /, *args: P.args, **kwargs: P.kwargs) -> ToolResult:
        try:
            return method(self, *args, **kwargs)
        except (_Refused, PathOutsideWorkspace) as exc:
            return ToolResult(False, str(exc))
        except OutOfTime:
            return ToolResult(False, _say("out_of_time.txt"))
        except OSError as exc:
            error = exc.strerror or exc
            if not exc.filename:
                return ToolResult(False, _say("os_error.txt", error=error))
            where = self.shown(Path(os.fsdecode(exc.filename)))
            return ToolResult(False, _say("os_error_path.txt", error=error, path=where))

    return wrapper


class Workspace:
    """File tools over the directory `root` (resolved once, so /tmp links are fine).

    Tools that loop over lines or files take a `deadline` and stop with an out-of-time
    result when it passes; one search never runs longer than `search_timeout_s`.
    """

    def __init__(
        self,
        root: Path,
        max_output_chars: int = 20_000,
        search_timeout_s: float = SEARCH_TIMEOUT_S,
        listing: Callable[[], Sequence[str]] | None = None,
        read_only: Mapping[str, str] | None = None,
    ) -> None:
        """`listing`: the root-relative files git would show (tracked, and untracked but not
        ignored), given by whoever runs host git inertly; without it the tree is walked.
        `read_only`: root-relative paths the agent may read but not change (its plan, the
        report devbot writes), each with the reason it is told when it tries."""
        self.root = Path(os.path.realpath(root))
        self.max_output_chars = max_output_chars
        self.search_timeout_s = search_timeout_s
        self.listing = listing
        self.read_only = {
            os.path.realpath(self.root.joinpath(*PurePosixPath(path).parts)): reason
            for path, reason in (read_only or {}).items()
        }

    def _changeable(self, target: Path) -> None:
        """Refuse a change to a read-only file, however the path names it (`./`, a link)."""
        reason = self.read_only.get(os.path.realpath(target))
        if reason is not None:
            raise _Refused(reason)

    def shown(self, path: Path) -> str:
        """`path` as the model names it: relative to the root, `.` for the root itself."""
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return path.name

    @_tool
    def read_file(
        self, path: str, start_line: int | None = None, end_line: int | None = None
    ) -> ToolResult:
        """The raw text (LF line endings), whole or lines start_line..end_line (1-based)."""
        target = resolve_in_workspace(self.root, path)
        shown = self.shown(target)
        text = self._load(target, "file_missing.txt").text.replace("\r\n", "\n")
        if text == "":
            return ToolResult(True, _say("file_empty.txt", path=shown))
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        total = len(lines)
        if start_line is None and end_line is None:
            return ToolResult(True, self._clip_read(text, shown, total))
        start, end = start_line or 1, end_line or total
        if start < 1 or end < start or start > total:
            raise _Refused(
                _say("read_bad_range.txt", path=shown, start=start, end=end, total=total)
            )
        end = min(end, total)
        body = "\n".join(lines[start - 1 : end])
        if end < total or text.endswith("\n"):
            body += "\n"
        header = _say("read_range.txt", path=shown, start=start, end=end, total=total)
        return ToolResult(True, header + "\n" + self._clip_read(body, shown, total))

    @_tool
    def write_file(self, path: str, content: str) -> ToolResult:
        """Create or replace a file; an existing file keeps its mode, encoding and line endings.

        Writing nothing over a file that has text is refused: it is how a weak model's
        WRITE without a body reads, and DELETE says it when removal is meant."""
        target = resolve_in_workspace(self.root, path)
        self._changeable(target)
        shown = self.shown(target)
        if target.is_dir():
            raise _Refused(_say("is_directory.txt", path=shown))
        real = Path(os.path.realpath(target))
        existed = real.exists()
        encoding, mode = "utf-8", None
        if existed:
            data = real.read_bytes()
            mode = stat.S_IMODE(real.stat().st_mode)
            if not is_binary(data):
                old, encoding = decode(data)
                if _uses_crlf(old):
                    content = content.replace("\r\n", "\n").replace("\n", "\r\n")
                if content == old:
                    return ToolResult(True, _say("write_unchanged.txt", path=shown))
                if not content.strip() and old.strip():
                    raise _Refused(_say("write_would_empty.txt", path=shown))
        self._write(real, shown, content, encoding, mode)
        lines = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
        template = "write_overwritten.txt" if existed else "write_created.txt"
        counted = f"{lines} line" if lines == 1 else f"{lines} lines"
        return ToolResult(True, _say(template, path=shown, lines=counted))

    @_tool
    def edit_file(
        self, path: str, edits: Sequence[tuple[str, str]], deadline: Deadline = NO_DEADLINE
    ) -> ToolResult:
        """Apply search/replace blocks; blocks that apply are saved even when others fail."""
        target = resolve_in_workspace(self.root, path)
        self._changeable(target)
        shown = self.shown(target)
        if not edits:
            raise _Refused(_say("edit_no_blocks.txt", path=shown))
        real = Path(os.path.realpath(target))
        if not real.exists() and len(edits) == 1 and edits[0][0] == edits[0][1]:
            self._write(real, shown, edits[0][1], "utf-8", None)  # the only sensible reading
            return ToolResult(True, _say("edit_created.txt", path=shown))
        original = self._load(real, "edit_missing.txt", shown)
        outcome = apply_edits(original.text, edits, deadline)
        if outcome.applied and outcome.new_text != original.text:
            self._write(real, shown, outcome.new_text, original.encoding, original.mode)
        if not outcome.failures and outcome.already:
            already = _numbers(outcome.already)
            return ToolResult(
                True,
                _say("edit_already_applied.txt", path=shown, count=len(edits), already=already),
            )
        if not outcome.failures:
            return ToolResult(True, _say("edit_all_applied.txt", path=shown, count=len(edits)))
        details = "\n\n".join(_describe_failure(failure, shown) for failure in outcome.failures)
        if not outcome.applied:
            return ToolResult(False, _say("edit_none_applied.txt", path=shown, details=details))
        return ToolResult(
            False,
            _say(
                "edit_partial.txt",
                path=shown,
                applied=_numbers(outcome.applied),
                failed=_numbers([failure.index for failure in outcome.failures]),
                details=details,
            ),
        )

    @_tool
    def delete_file(self, path: str) -> ToolResult:
        """Delete a file or a symbolic link (the link, not its target); never a directory."""
        target = resolve_in_workspace(self.root, path)
        self._changeable(target)
        shown = self.shown(target)
        if not os.path.lexists(target):
            raise _Refused(_say("file_missing.txt", path=shown))
        if target.is_dir() and not target.is_symlink():
            raise _Refused(_say("delete_directory.txt", path=shown))
        target.unlink()
        return ToolResult(True, _say("delete_done.txt", path=shown))

    def is_directory(self, path: str) -> bool:
        """Whether `path` names a directory inside the jail (False for anything refused)."""
        try:
            return resolve_in_workspace(self.root, path).is_dir()
        except PathOutsideWorkspace:
            return False

    @_tool
    def insert_lines(self, path: str, after_line: int, text: str) -> ToolResult:
        """Insert `text` as whole lines after line `after_line` (0 puts it first)."""
        target = resolve_in_workspace(self.root, path)
        self._changeable(target)
        shown = self.shown(target)
        real = Path(os.path.realpath(target))
        original = self._load(real, "edit_missing.txt", shown)
        lines = original.text.splitlines(keepends=True)
        if not 0 <= after_line <= len(lines):
            raise _Refused(
                _say("insert_bad_line.txt", path=shown, line=after_line, total=len(lines))
            )
        newline = "\r\n" if _uses_crlf(original.text) else "\n"
        added = text.replace("\r\n", "\n").replace("\n", newline)
        if added and not added.endswith(newline):
            added += newline
        if after_line and not lines[after_line - 1].endswith(("\n", "\r")):
            lines[after_line - 1] += newline
        lines.insert(after_line, added)
        self._write(real, shown, "".join(lines), original.encoding, original.mode)
        count = added.count(newline)
        return ToolResult(True, _say("insert_done.txt", path=shown, count=count, line=after_line))

    @_tool
    def move_file(self, path: str, to: str) -> ToolResult:
        """Rename the file `path` to `to`, both inside the jail; never over an existing path."""
        source = resolve_in_workspace(self.root, path)
        target = resolve_in_workspace(self.root, to)
        self._changeable(source)
        self._changeable(target)
        shown, shown_to = self.shown(source), self.shown(target)
        if not source.is_file() or source.is_symlink():
            raise _Refused(_say("file_missing.txt", path=shown))
        if os.path.lexists(target):
            raise _Refused(_say("move_exists.txt", path=shown_to))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        return ToolResult(True, _say("move_done.txt", path=shown, to=shown_to))

    @_tool
    def list_files(self, path: str = ".", deadline: Deadline = NO_DEADLINE) -> ToolResult:
        """Files under `path`, relative to the root, sorted; git-ignored files left out."""
        target = resolve_in_workspace(self.root, path)
        shown = self.shown(target)
        files = self._files(target, shown, deadline)
        if not files:
            return ToolResult(True, _say("list_empty.txt", path=shown))
        listing = "\n".join(files)
        if len(listing) <= self.max_output_chars:
            return ToolResult(True, listing)
        hint = _say("list_clipped.txt", path=shown, count=len(files))
        return ToolResult(True, clip(listing, self.max_output_chars) + "\n" + hint)

    @_tool
    def search_files(
        self,
        pattern: str,
        path: str = ".",
        glob: str | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> ToolResult:
        """Lines matching a Python regex in the text files list_files would show."""
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _Refused(
                _say("search_invalid_regex.txt", pattern=repr(pattern), error=exc)
            ) from None
        target = resolve_in_workspace(self.root, path)
        shown = self.shown(target)
        files = self._files(target, shown, deadline)
        if glob:
            files = [f for f in files if fnmatch(f, glob) or fnmatch(posixpath.basename(f), glob)]
        inside = [(name, found) for name in files if (found := self._inside(name)) is not None]
        allowed_s = min(self.search_timeout_s, deadline.remaining())
        outcome = search_lines(pattern, inside, MAX_MATCHES, allowed_s)
        if not outcome.finished and deadline.passed():
            raise OutOfTime
        output = clip("\n".join(outcome.hits), self.max_output_chars)
        if not outcome.finished:
            stopped = _say(
                "search_timeout.txt",
                pattern=repr(pattern),
                seconds=f"{allowed_s:g}",
                count=outcome.searched,
            )
            return ToolResult(False, f"{output}\n{stopped}" if output else stopped)
        if not outcome.hits:
            return ToolResult(
                True,
                _say(
                    "search_no_matches.txt",
                    pattern=repr(pattern),
                    path=shown,
                    count=outcome.searched,
                ),
            )
        if len(outcome.hits) >= MAX_MATCHES:
            output += "\n" + _say("search_capped.txt", count=MAX_MATCHES)
        return ToolResult(True, output)

    def _clip_read(self, text: str, shown: str, total: int) -> str:
        if len(text) <= self.max_output_chars:
            return text
        hint = _say("read_clipped.txt", path=shown, total=total)
        return clip(text, self.max_output_chars) + "\n" + hint

    def _load(self, target: Path, missing: str, shown: str | None = None) -> _TextFile:
        """Read a text file; refuse missing files (with template `missing`) and binary ones."""
        shown = shown or self.shown(target)
        if not target.exists():
            raise _Refused(_say(missing, path=shown))
        if target.is_dir():
            raise _Refused(_say("is_directory.txt", path=shown))
        data = target.read_bytes()
        if is_binary(data):
            raise _Refused(_say("binary_file.txt", path=shown, size=len(data)))
        text, encoding = decode(data)
        return _TextFile(text, encoding, stat.S_IMODE(target.stat().st_mode))

    def _write(self, target: Path, shown: str, text: str, encoding: str, mode: int | None) -> None:
        """Write atomically: a temporary file in the same directory, then os.replace."""
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError as exc:
            chars = "".join(sorted(set(exc.object[exc.start : exc.end])))
            raise _Refused(
                _say("write_unencodable.txt", path=shown, encoding=encoding, chars=repr(chars))
            ) from None
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / TEMPORARY_FILES.replace("*", uuid.uuid4().hex)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if mode is not None:
                os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _files(self, target: Path, shown: str, deadline: Deadline) -> list[str]:
        """Files under `target` as sorted root-relative paths (git's view given a `listing`).

        Nothing inside a `.git` at any depth, and no symbolic link the jail would refuse.
        """
        if not os.path.lexists(target):
            raise _Refused(_say("path_missing.txt", path=shown))
        if not target.is_dir():
            return [self.shown(target)]
        if self.listing is None:
            found = self._walked_files(target, deadline)
        else:
            prefix = self.shown(target)
            found = [
                self.root / name
                for name in self.listing()
                if prefix == "." or name == prefix or name.startswith(prefix + "/")
            ]
        return sorted({self.shown(path) for path in found if self._listable(path)})

    def _walked_files(self, target: Path, deadline: Deadline) -> list[Path]:
        found: list[Path] = []
        for directory, subdirectories, names in deadline.paced(os.walk(target), every=16):
            subdirectories[:] = [d for d in subdirectories if not has_git_part([d])]
            found.extend(Path(directory, name) for name in names)
        return found

    def _listable(self, path: Path) -> bool:
        """A file or link outside any `.git`; a link only when the jail lets it be used."""
        if has_git_part(path.relative_to(self.root).parts):
            return False
        if path.is_symlink():
            return self._inside(self.shown(path)) is not None
        return path.is_file()

    def _inside(self, name: str) -> Path | None:
        """The path of root-relative `name`, or None when the jail refuses it."""
        try:
            return resolve_in_workspace(self.root, name)
        except PathOutsideWorkspace:
            return None


def _uses_crlf(text: str) -> bool:
    return "\r\n" in text and text.count("\r\n") == text.count("\n")


def _numbers(indexes: Sequence[int]) -> str:
    return ", ".join(str(i + 1) for i in indexes)


def _describe_failure(failure: EditFailure, shown: str) -> str:
    number = failure.index + 1
    if failure.reason == EMPTY_SEARCH:
        return _say("edit_failed_empty.txt", number=number, path=shown)
    if failure.reason == NOT_FOUND:
        nearest = failure.nearest or _say("edit_file_is_empty.txt", path=shown)
        return _say("edit_failed_not_found.txt", number=number, path=shown, nearest=nearest)
    return _say(
        "edit_failed_ambiguous.txt",
        number=number,
        path=shown,
        reason=failure.reason,
        nearest=failure.nearest,
    )
