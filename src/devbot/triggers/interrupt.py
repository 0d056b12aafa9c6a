"""Ctrl-C (and SIGTERM) on a command that runs runs.

The first asks the process to stop: every run in flight parks at its next step boundary
(its record says `devbot runs resume ID`; nothing is marked failed, nothing is cut mid-step),
then the command ends. The second exits at once; a step cut short then runs again on resume.
No traceback either way.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devbot.runs.runtime import Runtime

INTERRUPTED_EXIT = 130


def stop_on_interrupt(runtime: Runtime, say: Callable[[str], None], *also: threading.Event) -> None:
    """Install the handlers for this command: the first signal sets `runtime.stopping` (and
    `also`), the second ends the process now. Only the main thread can install them."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        if runtime.stopping.is_set():
            sys.stdout.flush()
            os._exit(INTERRUPTED_EXIT)
        runtime.stopping.set()
        for event in also:
            event.set()
        say("stopping: each run stops at its next step boundary (Ctrl-C again to quit now)")

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
