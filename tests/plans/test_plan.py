"""Plan loading: valid plans, every malformed fixture, filename helpers."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import pytest

from devbot.plans.plan import (
    PlanError,
    is_plan_filename,
    load_plan,
    parse_plan_text,
    plan_filename,
    report_filename_for,
)

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = datetime.date(2026, 11, 5)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def test_full_frontmatter_is_read() -> None:
    plan = load_plan(FIXTURES / "251214__PLAN__full.md")
    assert plan.title == "Full plan"
    assert plan.date == datetime.date(2025, 12, 20)
    assert plan.tags == ("devops", "agent")
    assert plan.base_branch == "develop"
    assert plan.test_command == "pytest -q"
    assert plan.slug == "full"
    assert plan.body.startswith("# Heading that is not the title\n\nAdd a slugify helper")
    assert plan.text == (FIXTURES / "251214__PLAN__full.md").read_text(encoding="utf-8")


def test_without_frontmatter_title_comes_from_heading_and_date_from_filename(
    tmp_path: Path,
) -> None:
    text = (
        "Intro line.\n\n```\n# not a heading, inside a fence\n```\n\n# Add slugify ##\n\nDo it.\n"
    )
    plan = load_plan(write(tmp_path, "250301__PLAN__add_slugify.md", text), today=TODAY)
    assert plan.title == "Add slugify"
    assert plan.date == datetime.date(2025, 3, 1)
    assert plan.tags == ()
    assert plan.base_branch is None and plan.test_command is None
    assert plan.slug == "add_slugify"
    assert plan.body == text.rstrip()


def test_title_falls_back_to_slug_and_date_to_today(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "Fix the Login Page!.md", "Just do it.\n"), today=TODAY)
    assert plan.slug == "fix-the-login-page"
    assert plan.title == "fix-the-login-page"
    assert plan.date == TODAY


def test_invalid_filename_date_falls_back_to_today(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "251399__PLAN__x.md", "Body.\n"), today=TODAY)
    assert plan.date == TODAY


def test_slug_is_cleaned_and_truncated(tmp_path: Path) -> None:
    long_name = "251214__PLAN__" + "Very Long Name " * 10 + ".md"
    plan = load_plan(write(tmp_path, long_name, "Body.\n"))
    assert plan.slug.startswith("very-long-name-very-long-name")
    assert len(plan.slug) <= 60
    assert set(plan.slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert not plan.slug.endswith("-")


def test_tags_as_comma_separated_string_and_empty_frontmatter(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "a__PLAN__b.md", "---\ntags: ci, docs ,\n---\nBody\n"))
    assert plan.tags == ("ci", "docs")
    empty = load_plan(write(tmp_path, "c__PLAN__d.md", "---\n---\nBody\n"))
    assert empty.tags == () and empty.body == "Body"


def test_null_values_mean_absent_and_datetime_is_a_date(tmp_path: Path) -> None:
    text = "---\ntitle:\nbase_branch: ~\ndate: 2025-06-01 10:30:00\n---\n# From heading\n"
    plan = load_plan(write(tmp_path, "250101__PLAN__n.md", text))
    assert plan.title == "From heading"
    assert plan.base_branch is None
    assert plan.date == datetime.date(2025, 6, 1)


def test_crlf_and_bom_are_accepted_and_text_is_raw(tmp_path: Path) -> None:
    raw = "\ufeff---\r\ntitle: Windows\r\n---\r\n\r\nBody line\r\n".encode()
    path = write(tmp_path, "251214__PLAN__win.md", raw)
    plan = load_plan(path)
    assert plan.title == "Windows"
    assert plan.body == "Body line"
    assert plan.text == "\ufeff---\r\ntitle: Windows\r\n---\r\n\r\nBody line\r\n"


def test_dashes_later_in_the_file_are_not_frontmatter(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "x__PLAN__y.md", "# T\n\n---\n\nmore\n"))
    assert plan.title == "T"
    assert plan.body == "# T\n\n---\n\nmore"


def _fixture(name: str) -> Path:
    """Fixtures that are not UTF-8 end in `.md.bin`: `ruff format` reads every `.md` file."""
    path = FIXTURES / f"251214__PLAN__{name}.md"
    return path if path.exists() else path.with_name(path.name + ".bin")


MALFORMED = [
    ("broken_yaml", 3, "invalid YAML in frontmatter: mapping values are not allowed here"),
    (
        "broken_yaml_flow",
        4,
        "invalid YAML in frontmatter: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence that starts on line 3)",
    ),
    ("not_mapping", 2, "frontmatter must be a mapping of keys to values, not list"),
    ("scalar_frontmatter", 2, "frontmatter must be a mapping of keys to values, not str"),
    ("unterminated", 1, "frontmatter opened with '---' is never closed by a '---' line"),
    (
        "unknown_key",
        3,
        "unknown frontmatter key 'labels'; allowed keys: title, date, tags, base_branch,"
        " test_command",
    ),
    ("duplicate_key", 4, "frontmatter key 'title' appears twice"),
    ("tags_mapping", 3, "tags must be a list of strings or a string, not dict"),
    ("tags_number", 3, "tags must be strings; 2024 is not (quote it)"),
    ("title_list", 2, "title must be a non-empty string, not list"),
    ("bad_date", 3, "date must be a date written YYYY-MM-DD, not 'next tuesday'"),
    ("base_branch_number", 3, "base_branch must be a non-empty string, not int (quote it)"),
    ("test_command_list", 3, "test_command must be a non-empty string, not list"),
    ("empty_body", 5, "the plan has no body: write the task below the frontmatter"),
    ("no_body_eof", 4, "the plan has no body: write the task below the frontmatter"),
    ("empty_file", None, "file is empty"),
    ("whitespace_only", None, "file is empty"),
    ("nul_byte", 4, "binary file (NUL byte), not a Markdown plan"),
    ("latin1", 3, "not UTF-8 text (byte 0xe9)"),
]


@pytest.mark.parametrize(("name", "line", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_plan_names_file_line_and_reason(
    name: str, line: int | None, reason: str
) -> None:
    path = _fixture(name)
    display = f"ai-plans/251214__PLAN__{name}.md"
    with pytest.raises(PlanError) as caught:
        load_plan(path, display_name=display)
    where = f"{display}:{line}" if line is not None else display
    assert str(caught.value) == f"{where}: {reason}"
    assert caught.value.line == line
    assert caught.value.reason == reason


def test_every_fixture_file_is_covered() -> None:
    names = {path.name for path in FIXTURES.iterdir()}
    covered = {_fixture(m[0]).name for m in MALFORMED}
    covered |= {"251214__PLAN__full.md", "251214__PLAN__oversized.md"}
    covered.add("251214__REPORT__autonomous_devops_agent.md")
    assert names == covered


def test_oversized_plan_is_refused() -> None:
    path = FIXTURES / "251214__PLAN__oversized.md"
    assert path.stat().st_size > 150
    with pytest.raises(PlanError, match=r"oversized\.md: file is larger than 150 bytes"):
        load_plan(path, max_bytes=150)
    assert load_plan(path, max_bytes=path.stat().st_size).title == "Oversized"


def test_error_without_display_name_uses_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "x__PLAN__y.md", "")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == f"{path}: file is empty"


def test_parse_plan_text_validates_the_same_way(tmp_path: Path) -> None:
    text = (FIXTURES / "251214__PLAN__full.md").read_text(encoding="utf-8")
    path = tmp_path / "251214__PLAN__full.md"
    assert parse_plan_text(text, path) == replace(load_plan(FIXTURES / path.name), path=path)
    with pytest.raises(PlanError, match=r"full\.md: file is larger than 20 bytes"):
        parse_plan_text(text, path, max_bytes=20)
    with pytest.raises(PlanError, match=r"full\.md:2: binary file"):
        parse_plan_text("# T\n\0\n", path)
    with pytest.raises(PlanError, match=r"full\.md:3: unknown frontmatter key 'x'"):
        parse_plan_text("---\ntitle: t\nx: 1\n---\nBody\n", path)


def test_plan_error_accepts_a_preformatted_message() -> None:
    error = PlanError("ai-plans/x.md: no such plan file")
    assert str(error) == "ai-plans/x.md: no such plan file"
    assert error.line is None


def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the file"):
        load_plan(tmp_path / "absent__PLAN__x.md")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("251214__PLAN__add_slugify.md", True),
        ("ai-plans/251214__PLAN__add_slugify.md", True),
        ("anything__PLAN__x.md", True),
        ("251214__REPORT__add_slugify.md", False),
        ("251214__PLAN__x__REPORT__y.md", False),
        ("251214__PLAN__add_slugify.txt", False),
        ("251214__PLAN__.md", False),
        ("notes.md", False),
        (".#251214__PLAN__x.md", False),
        ("#251214__PLAN__x.md#", False),
        ("251214__PLAN__x.md~", False),
        (".251214__PLAN__x.md.swp", False),
        ("251214__PLAN__x.md.tmp", False),
        ("251214__PLAN__x.tmp", False),
    ],
)
def test_is_plan_filename(name: str, expected: bool) -> None:
    assert is_plan_filename(name) is expected


def test_plan_and_report_filenames() -> None:
    day = datetime.date(2025, 12, 14)
    assert plan_filename(day, "autonomous_devops_agent") == (
        "251214__PLAN__autonomous_devops_agent.md"
    )
    plan = load_plan(FIXTURES / "251214__PLAN__full.md")
    assert report_filename_for(plan, datetime.date(2026, 1, 2)) == "260102__REPORT__full.md"
