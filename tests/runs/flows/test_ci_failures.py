"""What the agent is told of a failed check: the error region of its log (how CI text is
cleaned: tests/security/test_ci_fix.py)."""

from __future__ import annotations

from devbot.runs.flows.ci_failures import error_region

STAMP = "2026-12-07T10:00:00.1234567Z "


def test_the_region_around_the_errors_is_kept_and_the_cuts_are_said() -> None:
    log = "".join(f"{STAMP}setup line {n}\n" for n in range(500))
    log += f"{STAMP}FAILED test_x.py::test_y\n{STAMP}AssertionError: 1 != 2\n"
    log += "".join(f"{STAMP}teardown {n}\n" for n in range(50))
    region = error_region(log, 20).splitlines()
    assert region[0] == "[... 497 earlier lines cut ...]"  # from 3 lines before the error
    assert "FAILED test_x.py::test_y" in region and "AssertionError: 1 != 2" in region
    assert region[-1].endswith("later lines cut ...]") and len(region) <= 22
    assert not any(line.startswith("2026-") for line in region)  # timestamps dropped


def test_a_log_without_error_lines_gives_its_tail() -> None:
    log = "".join(f"line {n}\n" for n in range(100))
    region = error_region(log, 10).splitlines()
    assert region[0] == "[... 90 earlier lines cut ...]" and region[-1] == "line 99"


def test_errors_spread_wider_than_the_budget_keep_the_last_ones() -> None:
    log = "error: first\n" + "ok\n" * 200 + "error: last\n"
    region = error_region(log, 10)
    assert "error: last" in region and "error: first" not in region
    assert len(region.splitlines()) <= 12
