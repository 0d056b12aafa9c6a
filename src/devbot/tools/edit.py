"""Search/replace edits on a text, exact first, with a short list of announced tolerances.

A search block must match exactly once. When it matches nowhere, two tolerances are tried,
still requiring a unique match:

(a) every line of the block is shifted by the same indentation relative to the file (the
    replacement is shifted by the same amount; blank lines match blank lines);
(b) blank lines at the start or end of the search block are ignored (and as many blank lines
    at the same end of the replacement).

Tabs stay tabs. A file with CRLF line endings is matched with LF blocks and keeps CRLF.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

NOT_FOUND = "not found"
EMPTY_SEARCH = "empty search block"
MAX_SHOWN = 5
SHORTLIST = 10
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class EditFailure:
    """Block `index` (0-based position in the edits) failed; `nearest` shows numbered lines."""

    index: int
    reason: str
    nearest: str


@dataclass(frozen=True)
class EditOutcome:
    """The text with every applicable block applied, in order, and what failed."""

    new_text: str
    applied: list[int] = field(default_factory=list)
    failures: list[EditFailure] = field(default_factory=list)


@dataclass(frozen=True)
class _Miss:
    reason: str
    nearest: str


Shift = tuple[str, str]


def apply_edits(text: str, edits: Sequence[tuple[str, str]]) -> EditOutcome:
    """Apply each (search, replace) block in order to `text`; failing blocks are skipped."""
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    mixed = "\r\n" in text and not crlf
    work = text.replace("\r\n", "\n") if crlf else text
    applied: list[int] = []
    failures: list[EditFailure] = []
    for index, (search, replace) in enumerate(edits):
        if not mixed:
            search, replace = search.replace("\r\n", "\n"), replace.replace("\r\n", "\n")
        result = _apply_one(work, search, replace)
        if isinstance(result, _Miss):
            failures.append(EditFailure(index, result.reason, result.nearest))
        else:
            work = result
            applied.append(index)
    new_text = work.replace("\n", "\r\n") if crlf else work
    return EditOutcome(new_text, applied, failures)


def _apply_one(text: str, search: str, replace: str) -> str | _Miss:
    if search.strip() == "":
        return _Miss(EMPTY_SEARCH, "")
    starts = _find_all(text, search)
    if len(starts) == 1:
        start = starts[0]
        return text[:start] + replace + text[start + len(search) :]
    lines, trailing = _split(text)
    if starts:
        found = [text.count("\n", 0, start) for start in starts]
        return _Miss(f"found {len(starts)} times", _numbered_starts(lines, found))
    return _tolerant(lines, trailing, search, replace)


def _tolerant(lines: list[str], trailing: bool, search: str, replace: str) -> str | _Miss:
    block = _block_lines(search)
    lead, trail = _blank_ends(block)
    for cut_lead, cut_trail in dict.fromkeys([(0, 0), (lead, 0), (0, trail), (lead, trail)]):
        sub = block[cut_lead : len(block) - cut_trail]
        matches = [
            (i, shift)
            for i in range(len(lines) - len(sub) + 1)
            if (shift := _shift(lines[i : i + len(sub)], sub)) is not None
        ]
        if len(matches) > 1:
            found = [i for i, _ in matches]
            return _Miss(f"found {len(matches)} times", _numbered_starts(lines, found))
        if matches:
            i, shift = matches[0]
            new = _trim_blank(_block_lines(replace), cut_lead, cut_trail)
            lines = lines[:i] + [_reindent(line, shift) for line in new] + lines[i + len(sub) :]
            return "\n".join(lines) + ("\n" if trailing else "")
    return _Miss(NOT_FOUND, _nearest(lines, block[lead : len(block) - trail]))


def _shift(window: list[str], block: list[str]) -> Shift | None:
    """The (added, removed) indentation turning `block` into `window`, if one fits all lines."""
    found: Shift | None = None
    for have, want in zip(window, block, strict=True):
        if want.strip() == "" or have.strip() == "":
            if want.strip() != have.strip():
                return None
            continue
        have_body, want_body = have.lstrip(" \t"), want.lstrip(" \t")
        if have_body != want_body:
            return None
        have_indent = have[: len(have) - len(have_body)]
        want_indent = want[: len(want) - len(want_body)]
        if have_indent.endswith(want_indent):
            this = (have_indent[: len(have_indent) - len(want_indent)], "")
        elif want_indent.endswith(have_indent):
            this = ("", want_indent[: len(want_indent) - len(have_indent)])
        else:
            return None
        if found is not None and found != this:
            return None
        found = this
    return found


def _reindent(line: str, shift: Shift) -> str:
    added, removed = shift
    if line.strip() == "":
        return line
    if added:
        return added + line
    if line.startswith(removed):
        return line[len(removed) :]
    indent = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, len(removed)) :]


def _find_all(text: str, search: str) -> list[int]:
    starts: list[int] = []
    start = text.find(search)
    while start != -1:
        starts.append(start)
        start = text.find(search, start + 1)
    return starts


def _split(text: str) -> tuple[list[str], bool]:
    """Lines of `text` without their newlines, and whether the text ends with one."""
    lines = text.split("\n")
    trailing = text.endswith("\n")
    if trailing:
        lines.pop()
    return lines, trailing


def _block_lines(block: str) -> list[str]:
    return _split(block)[0] if block else []


def _blank_ends(lines: list[str]) -> tuple[int, int]:
    lead = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    trail = next((i for i, line in enumerate(reversed(lines)) if line.strip()), len(lines))
    return lead, trail


def _trim_blank(lines: list[str], lead: int, trail: int) -> list[str]:
    have_lead, have_trail = _blank_ends(lines)
    start = min(lead, have_lead)
    end = len(lines) - min(trail, have_trail)
    return lines[start:end] if start < end else []


def _nearest(lines: list[str], block: list[str]) -> str:
    """The window of `len(block)` file lines most similar to `block`, numbered.

    Windows sharing the most tokens with the block are shortlisted in one pass, then the
    shortlist is ranked with difflib, so large files stay fast.
    """
    if lines == [""]:
        return ""
    size = max(1, min(len(block), len(lines)))
    stripped = [line.strip() for line in lines]
    wanted = [line.strip() for line in block]
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(wanted))

    def similarity(start: int) -> tuple[float, int]:
        matcher.set_seq1("\n".join(stripped[start : start + size]))
        return matcher.ratio(), -start

    best = max(_shortlist(stripped, wanted, size), key=similarity)
    return _numbered(lines, best, best + size)


def _shortlist(lines: list[str], block: list[str], size: int) -> list[int]:
    """Starts of the SHORTLIST windows of `size` lines sharing the most tokens with `block`."""
    wanted = Counter(token for line in block for token in _TOKEN.findall(line))
    tokens = [_TOKEN.findall(line) for line in lines]
    have: Counter[str] = Counter()
    overlap = 0
    scored: list[tuple[int, int]] = []
    for end, entering in enumerate(tokens):
        for token in entering:
            overlap += have[token] < wanted[token]
            have[token] += 1
        if end >= size:
            for token in tokens[end - size]:
                have[token] -= 1
                overlap -= have[token] < wanted[token]
        if end >= size - 1:
            scored.append((overlap, -(end - size + 1)))
    return [-start for _, start in heapq.nlargest(SHORTLIST, scored)]


def _numbered(lines: list[str], start: int, end: int) -> str:
    width = len(str(end))
    return "\n".join(f"{n + 1:>{width}} | {lines[n]}" for n in range(start, min(end, len(lines))))


def _numbered_starts(lines: list[str], starts: list[int]) -> str:
    """The first line of each match (at most MAX_SHOWN), numbered."""
    return "\n".join(_numbered(lines, i, i + 1) for i in starts[:MAX_SHOWN])
