"""The single limit check: which limit ends a run, and that 0 switches one off."""

from __future__ import annotations

import pytest

from devbot.agent.limits import ExitStatus, Limits, Progress, check_limits

LIMITS = Limits(max_steps=10, max_usd=1.0, max_wall_s=60.0, max_format_errors=3)


def progress(steps: int = 0, cost: float = 0.0, elapsed: float = 0.0, errors: int = 0) -> Progress:
    return Progress(steps=steps, cost_usd=cost, elapsed_s=elapsed, format_errors=errors)


def test_within_every_limit_goes_on() -> None:
    assert check_limits(LIMITS, progress(9, 0.99, 59.9, 2)) is None


@pytest.mark.parametrize(
    ("used", "status", "says"),
    [
        (progress(steps=10), ExitStatus.STEP_LIMIT, "10 model turns of 10"),
        (progress(cost=1.25), ExitStatus.COST_LIMIT, "$1.2500 spent of $1.0000"),
        (progress(elapsed=61), ExitStatus.TIME_LIMIT, "61s of 60s"),
        (progress(errors=3), ExitStatus.FORMAT_ERRORS, "3 malformed or cut-off replies in a row"),
        (
            Progress(1, 0.0, 0.0, 0, repeated_turns=3),
            ExitStatus.STUCK,
            "the same reply 3 turns in a row",
        ),
    ],
)
def test_each_limit_names_itself(used: Progress, status: ExitStatus, says: str) -> None:
    hit = check_limits(LIMITS, used)
    assert hit is not None
    assert hit.status is status
    assert says in hit.message


def test_zero_switches_limits_off() -> None:
    unlimited = Limits(
        max_steps=0, max_usd=0, max_wall_s=0, max_format_errors=0, max_repeated_turns=0
    )
    endless = Progress(10**6, 10**6, 10**6, 10**6, repeated_turns=10**6)
    assert check_limits(unlimited, endless) is None


def test_exit_status_values_are_stable_strings() -> None:
    assert [status.value for status in ExitStatus] == [
        "submitted",
        "step_limit",
        "cost_limit",
        "time_limit",
        "format_errors",
        "model_error",
        "cancelled",
        "stuck",
    ]
