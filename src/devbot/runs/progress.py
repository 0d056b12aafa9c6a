"""Progress lines of running runs, for whoever is watching (the CLI prints them).

Workflows run inside DBOS threads; they emit plain lines here rather than printing, so a
worker without a terminal stays quiet and the CLI decides how to show them.
"""

from __future__ import annotations

from collections.abc import Callable

from devbot.outward import outward

Listener = Callable[[str, str], None]

_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(run_id, line)` for each progress line; returns an unsubscribe function."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def emit(run_id: str, line: str) -> None:
    """Send `line`, through the outward gate, to every listener."""
    line = outward(line)
    for listener in list(_listeners):
        listener(run_id, line)
