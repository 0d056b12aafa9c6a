"""Plan documents: `YYMMDD__PLAN__<slug>.md`, optional YAML frontmatter, a Markdown body.

Loading validates everything a run relies on and refuses anything else with the file and
line named, so a person fixes the plan instead of reading a stack trace.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devbot.plans.markdown import Fences

ALLOWED_KEYS = ("title", "date", "tags", "base_branch", "test_command")
SLUG_MAX = 60

_DATED_NAME = re.compile(r"^(\d{6})__")
_PLAN_PART = re.compile(r"__PLAN__(.+)\.md$")
_HEADING = re.compile(r"^#\s+(.+?)(?:\s+#+)?\s*$")
_EDITOR_TEMP_SUFFIXES = ("~", ".tmp", ".swp", ".swx", ".swo", ".bak", ".orig")


class PlanError(ValueError):
    """A plan file cannot be used; str() reads `path:line: reason` (line when known)."""

    def __init__(self, path: str, reason: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.reason = reason or ""
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}" if reason else where)


@dataclass(frozen=True)
class Plan:
    """A validated plan. `text` is the raw file content; `body` the Markdown after frontmatter."""

    path: Path
    title: str
    date: datetime.date
    tags: tuple[str, ...]
    base_branch: str | None
    test_command: str | None
    body: str
    slug: str
    text: str


def is_plan_filename(name: str) -> bool:
    """True for `*__PLAN__*.md`; false for reports and editor temp or backup files."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith((".", "#")) or base.endswith(_EDITOR_TEMP_SUFFIXES):
        return False
    return "__REPORT__" not in base and _PLAN_PART.search(base) is not None


def plan_filename(date: datetime.date, slug: str) -> str:
    return f"{date:%y%m%d}__PLAN__{slug}.md"


def report_filename_for(plan: Plan, date: datetime.date) -> str:
    return f"{date:%y%m%d}__REPORT__{plan.slug}.md"


def slugify(text: str, keep: str = "") -> str:
    """Lowercase, runs of characters outside [a-z0-9] (and `keep`) become one '-', max 60."""
    allowed = "a-z0-9" + re.escape(keep)
    slug = re.sub(f"[^{allowed}]+", "-", text.lower()).strip("-_")
    return slug[:SLUG_MAX].rstrip("-_")


def slug_from_filename(name: str) -> str:
    """The `__PLAN__<slug>` part (underscores kept), else the slugified stem, else 'plan'."""
    match = _PLAN_PART.search(name)
    slug = slugify(match.group(1), keep="_") if match else ""
    return slug or slugify(Path(name).stem) or "plan"


def date_from_filename(name: str) -> datetime.date | None:
    match = _DATED_NAME.match(name)
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%y%m%d").date()
    except ValueError:
        return None


def load_plan(
    path: Path,
    max_bytes: int = 100_000,
    *,
    display_name: str | None = None,
    today: datetime.date | None = None,
) -> Plan:
    """Read and validate one plan. `display_name` (e.g. `ai-plans/x.md`) is used in errors."""
    shown = display_name or str(path)
    text = read_plan_text(path, max_bytes, shown)
    return parse_plan_text(text, path, max_bytes, display_name=shown, today=today)


def parse_plan_text(
    text: str,
    path: Path,
    max_bytes: int = 100_000,
    *,
    display_name: str | None = None,
    today: datetime.date | None = None,
) -> Plan:
    """Validate plan content already read (e.g. the exact text a run was started with)."""
    shown = display_name or str(path)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise PlanError(shown, f"file is larger than {max_bytes} bytes (max_plan_bytes)")
    if not text.strip():
        raise PlanError(shown, "file is empty")
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise PlanError(shown, "binary file (NUL byte), not a Markdown plan", line)
    content = text.removeprefix("\ufeff")
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta: dict[str, Any] = {}
    body_start = 0
    if lines[0].rstrip() == "---":
        end = _closing_line(lines, shown)
        meta = _parse_frontmatter("\n".join(lines[1:end]), shown)
        body_start = end + 1
    body = "\n".join(lines[body_start:]).strip("\n").rstrip()
    if not body.strip():
        raise PlanError(
            shown, "the plan has no body: write the task below the frontmatter", body_start + 1
        )
    slug = slug_from_filename(path.name)
    return Plan(
        path=path,
        title=meta.get("title") or _first_heading(body) or slug,
        date=meta.get("date") or date_from_filename(path.name) or today or datetime.date.today(),
        tags=meta.get("tags", ()),
        base_branch=meta.get("base_branch"),
        test_command=meta.get("test_command"),
        body=body,
        slug=slug,
        text=text,
    )


def read_plan_text(path: Path, max_bytes: int, shown: str) -> str:
    """A plan file's text, refused (PlanError) when too large, binary or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise PlanError(shown, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise PlanError(shown, f"file is larger than {max_bytes} bytes (max_plan_bytes)")
    nul = data.find(b"\0")
    if nul >= 0:
        raise PlanError(shown, "binary file (NUL byte), not a Markdown plan", _line_at(data, nul))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise PlanError(
            shown, f"not UTF-8 text (byte 0x{byte:02x})", _line_at(data, exc.start)
        ) from None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _closing_line(lines: list[str], shown: str) -> int:
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return index
    raise PlanError(shown, "frontmatter opened with '---' is never closed by a '---' line", 1)


def _parse_frontmatter(source: str, shown: str) -> dict[str, Any]:
    """Validate the YAML between the `---` lines; file line = YAML line + 2."""
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else None
        reason = f"invalid YAML in frontmatter: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark.line + 2 != line:
            reason += f" ({exc.context} that starts on line {exc.context_mark.line + 2})"
        raise PlanError(shown, reason, line) from None
    except yaml.YAMLError as exc:
        raise PlanError(shown, f"invalid YAML in frontmatter: {exc}", 2) from None
    if data is None:
        return {}
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        kind = type(data).__name__
        raise PlanError(shown, f"frontmatter must be a mapping of keys to values, not {kind}", 2)
    key_lines: dict[str, int] = {}
    for key_node, _value in node.value:
        line = key_node.start_mark.line + 2
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
        if key not in ALLOWED_KEYS:
            raise PlanError(
                shown,
                f"unknown frontmatter key {key!r}; allowed keys: {', '.join(ALLOWED_KEYS)}",
                line,
            )
        if key in key_lines:
            raise PlanError(shown, f"frontmatter key {key!r} appears twice", line)
        key_lines[key] = line
    return {
        key: _check_value(key, value, shown, key_lines[key])
        for key, value in data.items()
        if value is not None
    }


def _check_value(key: str, value: Any, shown: str, line: int) -> Any:
    if key == "date":
        return _check_date(value, shown, line)
    if key == "tags":
        return _check_tags(value, shown, line)
    if not isinstance(value, str) or not value.strip():
        hint = " (quote it)" if isinstance(value, int | float | bool) else ""
        raise PlanError(
            shown, f"{key} must be a non-empty string, not {type(value).__name__}{hint}", line
        )
    if key == "base_branch" and re.search(r"\s", value.strip()):
        raise PlanError(shown, f"base_branch {value!r} is not a branch name", line)
    return value.strip()


def _check_date(value: Any, shown: str, line: int) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PlanError(shown, f"date must be a date written YYYY-MM-DD, not {value!r}", line)


def _check_tags(value: Any, shown: str, line: int) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(tag.strip() for tag in value.split(",") if tag.strip())
    if isinstance(value, list):
        bad = [item for item in value if not isinstance(item, str)]
        if not bad:
            return tuple(item.strip() for item in value if item.strip())
        raise PlanError(shown, f"tags must be strings; {bad[0]!r} is not (quote it)", line)
    raise PlanError(
        shown, f"tags must be a list of strings or a string, not {type(value).__name__}", line
    )


def _first_heading(body: str) -> str | None:
    """The first level-1 ATX heading outside fenced code blocks."""
    fences = Fences()
    for line in body.split("\n"):
        heading = None if fences.is_code(line) else _HEADING.match(line)
        if heading:
            return heading.group(1).strip()
    return None
