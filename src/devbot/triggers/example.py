"""The example plan `devbot init` writes, and telling it apart from a plan a person wrote.

It is an example until someone edits or renames it: `devbot watch` leaves it alone until then.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from devbot.plans.plan import date_from_filename, plan_filename, slug_from_filename
from devbot.templating import render

EXAMPLE_SLUG = "example"


def untouched_example(plan: Path) -> bool:
    """Whether `plan` is the example `devbot init` wrote, still as it wrote it."""
    day = date_from_filename(plan.name)
    if day is None or slug_from_filename(plan.name) != EXAMPLE_SLUG:
        return False
    try:
        text = plan.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return text == example_plan(day)[1]


def example_plan(day: dt.date) -> tuple[str, str]:
    """(file name, text) of the example plan written on `day`."""
    return plan_filename(day, EXAMPLE_SLUG), render("devbot.triggers", "example_plan.md", date=day)
