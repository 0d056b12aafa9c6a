"""devbot's single retry policy for model calls (the SDKs' own retries are turned off).

Only ModelErrors marked retryable are tried again, with capped exponential backoff and
jitter, or after the delay the server asked for (`retry_after_s` on the error).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from devbot.llm.base import Message, Model, ModelError, ModelReply, ToolSpec
from devbot.llm.errors import classify

T = TypeVar("T")


def backoff_delay(attempt: int, *, base_delay_s: float, max_delay_s: float, jitter: float) -> float:
    """Delay before retry number `attempt` (0-based): base * 2^attempt, capped, times 0.75..1."""
    return min(max_delay_s, base_delay_s * 2.0**attempt) * (1.0 - 0.25 * jitter)


def call_with_retries(
    fn: Callable[[], T],
    *,
    retries: int,
    base_delay_s: float = 1.0,
    max_delay_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call `fn`; on a retryable ModelError wait and call again, at most `retries` more times."""
    attempt = 0
    while True:
        try:
            return fn()
        except ModelError as error:
            if not error.retryable or attempt >= retries:
                raise
            retry_after = getattr(error, "retry_after_s", None)
            if isinstance(retry_after, int | float):
                delay = float(retry_after)
            else:
                delay = backoff_delay(
                    attempt, base_delay_s=base_delay_s, max_delay_s=max_delay_s, jitter=rand()
                )
            sleep(delay)
            attempt += 1


def classified(fn: Callable[[], T]) -> Callable[[], T]:
    """Wrap `fn` so whatever it raises comes out as a ModelError (via `classify`)."""

    def call() -> T:
        try:
            return fn()
        except Exception as exc:
            raise classify(exc) from exc

    return call


class RetryingModel:
    """Any Model behind devbot's retry policy, its errors classified."""

    def __init__(
        self,
        inner: Model,
        *,
        retries: int,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.retries = retries
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        return call_with_retries(
            classified(lambda: self.inner.complete(messages, tools)),
            retries=self.retries,
            base_delay_s=self.base_delay_s,
            max_delay_s=self.max_delay_s,
            sleep=self.sleep,
        )
