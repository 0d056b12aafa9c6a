"""What failed in CI, as the agent is told: each failed check's name, its annotations and
the part of its job's log around the errors, each clipped, with the cuts said.

A log is hostile text of any size: only its tail is downloaded (`LOG_TAIL_BYTES`), hidden
text and secrets are removed, and the lines kept are the region of its errors, at most
`max_lines` of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devbot.redact import redact
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import CheckRun, ChecksForge

LOG_TAIL_BYTES = 256 * 1024
MAX_FAILED_CHECKS = 5
MAX_ANNOTATIONS = 20
MAX_LINE_CHARS = 400
_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")
_ERROR = re.compile(
    r"##\[error\]|\berror\b|\bfailed\b|\bfailure\b|FAILED|Traceback|AssertionError|"
    r"\bexception\b|exit code [1-9]|panicked|✗|✖",
    re.IGNORECASE,
)
_AFTER = 5
"""Lines kept after the last error line (a summary or the exit code often follows)."""


@dataclass(frozen=True)
class CiFailure:
    """One failed check, ready to be shown to the agent and in the status comment."""

    name: str
    conclusion: str
    url: str
    summary: str
    annotations: tuple[str, ...]
    log: str
    """The error region of its job's log ("" when it has no log devbot can read)."""


def error_region(log: str, max_lines: int) -> str:
    """The lines of `log` around its errors (from the first error that fits to a few lines
    after the last), at most `max_lines`, timestamps dropped, with what was cut said."""
    lines = [_TIMESTAMP.sub("", line)[:MAX_LINE_CHARS] for line in log.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    errors = [i for i, line in enumerate(lines) if _ERROR.search(line)]
    end = min(len(lines), errors[-1] + 1 + _AFTER) if errors else len(lines)
    start = max(0, end - max_lines)
    firsts = [i for i in errors if i >= start]
    if firsts and firsts[0] - 3 > start:
        start = firsts[0] - 3  # no clean lines before the first error we keep
        end = min(len(lines), start + max_lines)
    kept = lines[start:end]
    if start:
        kept.insert(0, f"[... {start} earlier lines cut ...]")
    if end < len(lines):
        kept.append(f"[... {len(lines) - end} later lines cut ...]")
    return "\n".join(kept)


def read_failures(
    forge: ChecksForge, checks: tuple[CheckRun, ...], max_lines: int
) -> tuple[CiFailure, ...]:
    """The failed checks among `checks` (at most MAX_FAILED_CHECKS), each with its
    annotations and the error region of its job's log, cleaned of hidden text and secrets."""
    failures = []
    for check in [c for c in checks if c.failed][:MAX_FAILED_CHECKS]:
        notes = tuple(
            _clean(f"{a.path}:{a.line}: {a.level}: {a.title + ': ' if a.title else ''}{a.message}")
            for a in forge.annotations(check.id, MAX_ANNOTATIONS)
        )
        log = ""
        if check.job_id is not None:
            text, cut = forge.job_log(check.job_id, LOG_TAIL_BYTES)
            log = error_region(_clean(text), max_lines)
            if cut:
                log = f"[... the log's first {cut:,} bytes were not read ...]\n{log}"
        summary = _clean(" — ".join(part for part in (check.title, check.summary) if part))
        failures.append(
            CiFailure(_clean(check.name), check.conclusion, check.url, summary[:2000], notes, log)
        )
    return tuple(failures)


def describe(failures: tuple[CiFailure, ...]) -> str:
    """The failures as the agent's task shows them."""
    parts = []
    for failure in failures:
        lines = [f"### {failure.name} ({failure.conclusion})"]
        if failure.summary:
            lines.append(failure.summary)
        if failure.annotations:
            lines += ["Annotations:", *(f"- {note}" for note in failure.annotations)]
        if failure.log:
            lines += ["Log (the part around the errors):", "```", failure.log, "```"]
        elif not failure.annotations:
            lines.append("(no annotations and no log devbot can read)")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def names(failures: tuple[CiFailure, ...]) -> str:
    return ", ".join(f"`{f.name}`" for f in failures) or "none"


def _clean(text: str) -> str:
    return redact(clean_untrusted(text).replace("```", "'''"))
