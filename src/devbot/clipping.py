"""Shorten long texts (command output, file listings) to their head and tail.

The start of an output says what ran, the end says how it ended; the middle is what a
model can most afford to lose. The cut is announced so nobody mistakes it for the whole.
"""

from __future__ import annotations

MARKER = "[... {count} characters clipped ...]"


def clip(text: str, max_chars: int) -> str:
    """Keep about `max_chars` characters of `text`: its head and tail around a marker line.

    Cuts land on line boundaries when one is near, so kept lines stay whole.
    """
    if len(text) <= max_chars:
        return text
    return clip_ends(text, text, len(text), max_chars)


def clip_ends(start: str, end: str, total: int, max_chars: int) -> str:
    """`clip` for a text known only by its `start`, its `end` and its length `total`.

    `start` must hold at least the first `max_chars` characters and `end` the last
    `max_chars` (a stream keeps only these); the result equals `clip` of the whole text.
    """
    budget = max(max_chars, 0)
    head = _head(start, budget - budget // 2)
    tail = _tail(end, budget // 2)
    count = total - len(head) - len(tail)
    marker = MARKER.format(count=count)
    head_sep = "" if head == "" or head.endswith("\n") else "\n"
    tail_sep = "" if tail == "" or tail.startswith("\n") else "\n"
    return f"{head}{head_sep}{marker}{tail_sep}{tail}"


def _head(text: str, size: int) -> str:
    head = text[:size]
    cut = head.rfind("\n")
    return head[: cut + 1] if cut >= size // 2 else head


def _tail(text: str, size: int) -> str:
    if size <= 0:
        return ""
    tail = text[-size:]
    cut = tail.find("\n")
    return tail[cut + 1 :] if 0 <= cut <= size // 2 else tail
