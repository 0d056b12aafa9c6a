"""Log repeated messages at a bounded rate, so a flood of bad requests cannot fill the disk.

uvicorn logs a line for each malformed request, and devbot one for each connection it drops;
an anonymous client decides how many. A message's kind is where it is logged (logger, level,
file and line), so messages formatted with per-request text still count as one kind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

LIMITED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "devbot.webhook")
Kind = tuple[str, int, str, int]


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0


class RateLimitFilter(logging.Filter):
    """Lets `burst` messages of each kind through per `interval_s`, then one saying that
    similar messages are suppressed; the first message of the next window says how many."""

    def __init__(
        self,
        burst: int = 5,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1000,
    ) -> None:
        super().__init__()
        self.burst, self.interval_s, self.clock = burst, interval_s, clock
        self.max_kinds = max_kinds
        self._windows: dict[Kind, _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, record.pathname, record.lineno)
        note = ""
        with self._lock:
            now = self.clock()
            window = self._windows.get(kind)
            if window is None or now - window.started >= self.interval_s:
                if window is not None and window.suppressed:
                    note = f"suppressed {window.suppressed} similar messages before this one"
                elif window is None and len(self._windows) >= self.max_kinds:
                    self._windows.clear()
                window = self._windows[kind] = _Window(started=now)
            window.passed += 1
            if window.passed == self.burst + 1:
                note = f"similar messages suppressed for {self.interval_s:g} s"
            elif window.passed > self.burst:
                window.suppressed += 1
                return False
        if note:
            record.msg, record.args = f"{record.getMessage()} [{note}]", None
        return True


def limit_logging(rate_filter: RateLimitFilter, names: Iterable[str] = LIMITED_LOGGERS) -> None:
    """Put `rate_filter` on these loggers (where their records are made), once each."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
            logger.addFilter(rate_filter)
