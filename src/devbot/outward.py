"""One gate for every text devbot sends out of itself.

Commit messages, branch names, pull request titles and bodies, comments, reports, stored
trajectories, logs and console lines all carry text a model or a stranger wrote. Before any
of it leaves, `outward` redacts secrets (`redact.redact`) and removes terminal control
sequences (colours, cursor moves, window titles, OSC 52 clipboard writes, screen clears) and
other control characters, keeping tabs and newlines.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from devbot.redact import redact

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor, erase
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # two-character and nF escapes, a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x9c)?"  # 8-bit string controls
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # every other control character but \t and \n
)


def strip_control(text: str) -> str:
    """`text` without terminal control sequences and control characters (\\t, \\n kept;
    \\r\\n becomes \\n)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def outward(text: str) -> str:
    """`text` fit to leave devbot: secrets redacted, control sequences removed."""
    return redact(strip_control(text))


def outward_data(value: Any) -> Any:
    """`outward` applied to every string of JSON-like data (dict keys included), so a
    secret is found in the text itself, never in an escaped form of it."""
    if isinstance(value, str):
        return outward(value)
    if isinstance(value, dict):
        return {outward_data(key): outward_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [outward_data(item) for item in value]
    return value


def gate_logging() -> None:
    """Pass every log record of this process through the outward gate, whichever logger
    makes it and whichever handler prints it (a library may replace its handlers, as
    uvicorn does): the record factory renders message and traceback, then gates them."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "outward_gate", False):
        return

    def gated(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: keep it as it is
            message = str(record.msg)
        record.msg, record.args = outward(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = outward(logging.Formatter().formatException(record.exc_info))
        return record

    gated.outward_gate = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(gated)
