"""Progress lines of running runs, for whoever is watching (the CLI prints them).

Workflows run inside DBOS threads; they emit plain lines here rather than printing, so a
worker without a terminal stays quiet and the CLI decides how to show them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from devbot.outward import outward

Listener = Callable[[str, str], None]


class Progress:
    """Listeners of this process's runs; every line passes the outward gate first."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(run_id, line)` for each line; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, run_id: str, line: str) -> None:
        line = outward(line)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(run_id, line)
