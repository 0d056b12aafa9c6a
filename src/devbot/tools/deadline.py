"""The time an action's work must end by, checked cooperatively by the tools' loops.

The agent gives each action the run's remaining wall time; a tool that is still working when
it passes stops with OutOfTime instead of running past the run's limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
CHECK_EVERY = 1024
"""Items a paced loop handles between two looks at the clock."""


class OutOfTime(Exception):
    """The deadline passed while a tool was working; its work is abandoned."""


@dataclass(frozen=True)
class Deadline:
    """A time on `clock` after which work stops; `at=None` means no deadline."""

    at: float | None = None
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float:
        """Seconds left (0 once passed, infinity without a deadline)."""
        return math.inf if self.at is None else max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        return self.at is not None and self.clock() >= self.at

    def check(self) -> None:
        """Raise OutOfTime once the deadline has passed."""
        if self.passed():
            raise OutOfTime

    def paced(self, items: Iterable[T], every: int = CHECK_EVERY) -> Iterator[T]:
        """`items`, checking the deadline before the first and then every `every` items."""
        for count, item in enumerate(items):
            if count % every == 0:
                self.check()
            yield item


NO_DEADLINE = Deadline()
