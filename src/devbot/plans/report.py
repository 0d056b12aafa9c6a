"""REPORT documents: what a run did, in the seed report's layout (frontmatter + Markdown).

`render_report` writes the file devbot commits next to the plan; `parse_report` reads it back
so feedback runs and tests can see what an earlier run reported.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from devbot.plans.markdown import Fences

Status = Literal["completed", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = ("completed", "failed", "cancelled")
NONE = "None"

_FILE_ITEM = re.compile(r"^(`+) ?(.+?) ?\1(?::\s?(.*))?$", re.DOTALL)
_PLAIN_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/+]*$")
_ESCAPED_HEADING = re.compile(r"^(\\*)#")
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


class ReportError(ValueError):
    """Text that is not a report devbot can read."""


@dataclass
class FileChange:
    path: str
    description: str = ""


@dataclass
class Report:
    """One run's report. `filename` and `plan_file` are repository-relative paths."""

    filename: str
    title: str
    date: datetime.date
    plan_file: str
    status: Status
    created: list[FileChange] = field(default_factory=list)
    modified: list[FileChange] = field(default_factory=list)
    deleted: list[FileChange] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    summary: str = ""
    key_changes: list[str] = field(default_factory=list)
    technical_decisions: list[str] = field(default_factory=list)
    testing_notes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


_BULLET_SECTIONS = {
    "Key Changes": "key_changes",
    "Technical Decisions": "technical_decisions",
    "Testing Notes": "testing_notes",
    "Next Steps": "next_steps",
}
_FILE_GROUPS = {"Created": "created", "Modified": "modified", "Deleted": "deleted"}


def render_report(report: Report) -> str:
    """The report as Markdown with YAML frontmatter; file counts come from the lists."""
    if report.status not in STATUSES:
        raise ReportError(f"status {report.status!r}: choose one of {', '.join(STATUSES)}")
    tags = ", ".join(_flow_item(tag) for tag in report.tags)
    lines = [
        "---",
        f"filename: {_quoted(report.filename)}",
        f"title: {_quoted(report.title)}",
        f"date: {report.date.isoformat()}",
        f"plan_file: {_quoted(report.plan_file)}",
        f"status: {report.status}",
        f"files_created: {len(report.created)}",
        f"files_modified: {len(report.modified)}",
        f"files_deleted: {len(report.deleted)}",
        f"tags: [{tags}]",
        "---",
        "",
        "# Summary",
        _escape_headings(report.summary.strip("\n").rstrip()) or NONE,
        "",
        "# Files Changed",
    ]
    for heading, attr in _FILE_GROUPS.items():
        changes: list[FileChange] = getattr(report, attr)
        lines += [f"## {heading}", *_bullets([_file_item(c) for c in changes]), ""]
    for heading, attr in _BULLET_SECTIONS.items():
        lines += [f"# {heading}", *_bullets(getattr(report, attr)), ""]
    return "\n".join(lines[:-1]) + "\n"


def parse_report(text: str) -> Report:
    """Read a report written by `render_report` (or by hand in the same layout)."""
    meta, body = _split_frontmatter(text)
    sections = _sections(body)
    missing = [k for k in ("filename", "title", "date", "plan_file", "status") if k not in meta]
    if missing:
        raise ReportError(f"report frontmatter lacks {', '.join(missing)}")
    status = str(meta["status"])
    if status not in STATUSES:
        raise ReportError(f"status {status!r}: choose one of {', '.join(STATUSES)}")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    fields: dict[str, Any] = {
        attr: [_parse_file_item(item) for item in _items(sections.get(f"## {name}", []))]
        for name, attr in _FILE_GROUPS.items()
    }
    fields |= {
        attr: _items(sections.get(f"# {name}", [])) for name, attr in _BULLET_SECTIONS.items()
    }
    summary = _unescape_headings("\n".join(sections.get("# Summary", [])).strip("\n").rstrip())
    return Report(
        filename=str(meta["filename"]),
        title=str(meta["title"]),
        date=_as_date(meta["date"]),
        plan_file=str(meta["plan_file"]),
        status=status,
        tags=tuple(str(tag) for tag in tags),
        summary="" if summary == NONE else summary,
        **fields,
    )


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar that PyYAML and other YAML readers read back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    escaped = _UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return f'"{escaped}"'


def _flow_item(tag: str) -> str:
    """A tag unquoted when YAML reads it back as the same string, else quoted."""
    if _PLAIN_TAG.match(tag):
        try:
            if yaml.safe_load(tag) == tag:
                return tag
        except yaml.YAMLError:
            pass
    return _quoted(tag)


def _file_item(change: FileChange) -> str:
    runs = [len(run) for run in re.findall(r"`+", change.path)]
    ticks = "`" * (max(runs, default=0) + 1)
    pad = " " if runs else ""
    code = f"{ticks}{pad}{change.path}{pad}{ticks}"
    description = change.description.strip()
    return f"{code}: {description}" if description else code


def _bullets(items: list[str]) -> list[str]:
    if not items:
        return [f"- {NONE}"]
    lines: list[str] = []
    for item in items:
        first, *rest = item.strip("\n").rstrip().split("\n")
        lines.append(f"- {first}")
        lines += [f"  {line}" if line.strip() else "" for line in rest]
    return lines


def _escape_headings(text: str) -> str:
    return "\n".join(
        "\\" + line if _ESCAPED_HEADING.match(line) else line for line in text.split("\n")
    )


def _unescape_headings(text: str) -> str:
    return "\n".join(
        line[1:] if _ESCAPED_HEADING.match(line) and line.startswith("\\") else line
        for line in text.split("\n")
    )


def _split_frontmatter(text: str) -> tuple[dict[str, Any], list[str]]:
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if lines[0].rstrip() != "---":
        raise ReportError("a report starts with '---' frontmatter")
    for end in range(1, len(lines)):
        if lines[end].rstrip() == "---":
            break
    else:
        raise ReportError("the report's frontmatter is never closed by '---'")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise ReportError(f"invalid YAML in report frontmatter: {exc}") from None
    if not isinstance(meta, dict):
        raise ReportError("report frontmatter must be a mapping")
    return meta, lines[end + 1 :]


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """Lines under each `# Heading` and each `## Group` of `# Files Changed`, outside fences."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    in_files = False
    fences = Fences()
    for line in lines:
        code = fences.is_code(line)
        if not code and line.startswith("# "):
            in_files = line[2:].strip() == "Files Changed"
            current = sections.setdefault(f"# {line[2:].strip()}", [])
            continue
        if not code and in_files and line.startswith("## "):
            current = sections.setdefault(f"## {line[3:].strip()}", [])
            continue
        current.append(line)
    return sections


def _items(lines: list[str]) -> list[str]:
    """Bullet items; indented lines continue the item above. A lone `- None` means none."""
    items: list[list[str]] = []
    for line in lines:
        if line.startswith(("- ", "* ")) or line in ("-", "*"):
            items.append([line[2:]])
        elif items:
            items[-1].append(line[2:] if line.startswith("  ") else line)
        elif line.strip():
            items.append([line])
    texts = ["\n".join(item).strip("\n").rstrip() for item in items]
    return [] if texts == [NONE] else texts


def _parse_file_item(item: str) -> FileChange:
    match = _FILE_ITEM.match(item)
    if not match:
        return FileChange(path=item.strip())
    return FileChange(path=match.group(2), description=(match.group(3) or "").strip())


def _as_date(value: object) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ReportError(f"date {value!r} is not YYYY-MM-DD") from None
