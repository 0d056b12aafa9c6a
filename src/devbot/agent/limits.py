"""The limits of one agent run and the single check that says which one ended it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExitStatus(StrEnum):
    """Why a run ended; stored in run records and reports."""

    SUBMITTED = "submitted"
    STEP_LIMIT = "step_limit"
    COST_LIMIT = "cost_limit"
    TIME_LIMIT = "time_limit"
    FORMAT_ERRORS = "format_errors"
    MODEL_ERROR = "model_error"
    CANCELLED = "cancelled"
    STUCK = "stuck"


@dataclass(frozen=True)
class Limits:
    """Budgets for one run. A value of 0 (or less) switches that limit off."""

    max_steps: int = 40
    max_usd: float = 3.0
    max_wall_s: float = 1800.0
    max_format_errors: int = 3
    max_repeated_turns: int = 2
    """The same reply with the same results this many turns in a row ends the run."""


@dataclass(frozen=True)
class Progress:
    """What a run has used so far; `format_errors` counts consecutive bad replies."""

    steps: int
    cost_usd: float
    elapsed_s: float
    format_errors: int
    repeated_turns: int = 0
    """How many turns in a row ended as the one before (same reply, same results)."""


@dataclass(frozen=True)
class LimitHit:
    """A limit that ends the run, with a sentence for people saying how far it got."""

    status: ExitStatus
    message: str


def check_limits(limits: Limits, progress: Progress) -> LimitHit | None:
    """Return the first limit `progress` has reached, or None to keep going."""
    if 0 < limits.max_format_errors <= progress.format_errors:
        return LimitHit(
            ExitStatus.FORMAT_ERRORS,
            f"{progress.format_errors} malformed or cut-off replies in a row"
            f" (limit {limits.max_format_errors})",
        )
    if 0 < limits.max_repeated_turns <= progress.repeated_turns:
        return LimitHit(
            ExitStatus.STUCK,
            f"the model sent the same reply {progress.repeated_turns} turns in a row and got"
            " the same results each time",
        )
    if 0 < limits.max_usd <= progress.cost_usd:
        return LimitHit(
            ExitStatus.COST_LIMIT,
            f"cost limit reached: ${progress.cost_usd:.4f} spent of ${limits.max_usd:.4f}",
        )
    if 0 < limits.max_wall_s <= progress.elapsed_s:
        return LimitHit(
            ExitStatus.TIME_LIMIT,
            f"time limit reached: {progress.elapsed_s:.0f}s of {limits.max_wall_s:.0f}s",
        )
    if 0 < limits.max_steps <= progress.steps:
        return LimitHit(
            ExitStatus.STEP_LIMIT,
            f"step limit reached: {progress.steps} model turns of {limits.max_steps}",
        )
    return None
