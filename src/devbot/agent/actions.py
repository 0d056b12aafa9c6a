"""The internal Action type every action protocol parses into, and what executing one returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadFile:
    path: str
    start_line: int | None = None
    end_line: int | None = None


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str


@dataclass(frozen=True)
class Edit:
    """One exact search/replace block."""

    search: str
    replace: str


@dataclass(frozen=True)
class EditFile:
    path: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class InsertLines:
    """Insert `text` after line `after_line` (0: at the top); Anthropic's `insert` command."""

    path: str
    after_line: int
    text: str


@dataclass(frozen=True)
class MoveFile:
    """Rename a file inside the workspace; the target must not exist (apply_patch Move to)."""

    path: str
    to: str


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class ListFiles:
    path: str = "."


@dataclass(frozen=True)
class SearchFiles:
    pattern: str
    path: str = "."
    glob: str | None = None


@dataclass(frozen=True)
class RunCommand:
    command: str


@dataclass(frozen=True)
class Finish:
    summary: str


Action = (
    ReadFile
    | WriteFile
    | EditFile
    | InsertLines
    | MoveFile
    | DeleteFile
    | ListFiles
    | SearchFiles
    | RunCommand
    | Finish
)


@dataclass(frozen=True)
class Observation:
    """The result of one action, as the model will see it."""

    ok: bool
    output: str
