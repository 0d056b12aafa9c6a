"""Search/replace edits on a text, exact first, with a short list of announced tolerances.

A search block must match exactly once. When it matches nowhere, two tolerances are tried,
still requiring a unique match:

(a) every line of the block is shifted by the same indentation relative to the file (the
    replacement is shifted by the same amount; blank lines match blank lines);
(b) blank lines at the start or end of the search block are ignored (and as many blank lines
    at the same end of the replacement).

A block whose search text is not found but whose replacement is, once, was already applied
(a model resending an edit it made a turn earlier): it counts as applied and is reported so.

Tabs stay tabs. A file with CRLF line endings is matched with LF blocks and keeps CRLF.

Every pass costs time linear in the size of the file, plus the size of the block for each
place found (at most MAX_COUNTED + 1 places are looked at), so an edit on a huge file cannot
hold a step: the deadline is checked between lines.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from devbot.tools.deadline import NO_DEADLINE, Deadline

NOT_FOUND = "not found"
EMPTY_SEARCH = "empty search block"
MAX_SHOWN = 5
MAX_COUNTED = 100
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
    already: list[int] = field(default_factory=list)
    """Blocks whose replacement was in the text already (among `applied`)."""


@dataclass(frozen=True)
class _Miss:
    reason: str
    nearest: str


Shift = tuple[str, str]


def apply_edits(
    text: str, edits: Sequence[tuple[str, str]], deadline: Deadline = NO_DEADLINE
) -> EditOutcome:
    """Apply each (search, replace) block in order to `text`; failing blocks are skipped.

    Raises OutOfTime when `deadline` passes first.
    """
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    mixed = "\r\n" in text and not crlf
    work = text.replace("\r\n", "\n") if crlf else text
    applied: list[int] = []
    failures: list[EditFailure] = []
    already: list[int] = []
    for index, (search, replace) in enumerate(edits):
        if not mixed:
            search, replace = search.replace("\r\n", "\n"), replace.replace("\r\n", "\n")
        result = _apply_one(work, search, replace, deadline)
        if isinstance(result, _Miss) and _already_applied(work, result, replace, deadline):
            already.append(index)
            applied.append(index)
        elif isinstance(result, _Miss):
            failures.append(EditFailure(index, result.reason, result.nearest))
        else:
            work = result
            applied.append(index)
    new_text = work.replace("\n", "\r\n") if crlf else work
    return EditOutcome(new_text, applied, failures, already)


def _already_applied(text: str, miss: _Miss, replace: str, deadline: Deadline) -> bool:
    """The search text is nowhere, and the replacement is there once (as the tolerances
    would find it): the block was applied before."""
    if miss.reason != NOT_FOUND or replace.strip() == "":
        return False
    return not isinstance(_apply_one(text, replace, replace, deadline), _Miss)


def _apply_one(text: str, search: str, replace: str, deadline: Deadline) -> str | _Miss:
    if search.strip() == "":
        return _Miss(EMPTY_SEARCH, "")
    starts = _find_starts(text, search, deadline)
    if len(starts) == 1:
        start = starts[0]
        return text[:start] + replace + text[start + len(search) :]
    if starts:
        numbers = _line_numbers(text, starts)
        return _Miss(_found(len(starts)), _numbered_starts(_split(text)[0], numbers))
    return _tolerant(text, search, replace, deadline)


def _find_starts(text: str, search: str, deadline: Deadline) -> list[int]:
    """Offsets of the first MAX_COUNTED + 1 occurrences of `search`, overlapping ones too."""
    starts: list[int] = []
    start = text.find(search)
    while start != -1 and len(starts) <= MAX_COUNTED:
        deadline.check()
        starts.append(start)
        start = text.find(search, start + 1)
    return starts


def _found(count: int) -> str:
    return f"found more than {MAX_COUNTED} times" if count > MAX_COUNTED else f"found {count} times"


def _line_numbers(text: str, starts: list[int]) -> list[int]:
    """0-based line numbers of the first MAX_SHOWN offsets, counting newlines once."""
    numbers: list[int] = []
    line, previous = 0, 0
    for start in starts[:MAX_SHOWN]:
        line += text.count("\n", previous, start)
        numbers.append(line)
        previous = start
    return numbers


def _tolerant(text: str, search: str, replace: str, deadline: Deadline) -> str | _Miss:
    lines, trailing = _split(text)
    block = _block_lines(search)
    lead, trail = _blank_ends(block)
    core = block[lead : len(block) - trail]
    firsts = _candidate_firsts(lines, core, deadline) if core[0].lstrip(" \t") in text else []
    if len(firsts) > MAX_COUNTED:
        return _Miss(_found(len(firsts)), _numbered_starts(lines, firsts))
    for cut_lead, cut_trail in dict.fromkeys([(0, 0), (lead, 0), (0, trail), (lead, trail)]):
        sub = block[cut_lead : len(block) - cut_trail]
        matches = [
            (i, shift)
            for first in firsts
            if 0 <= (i := first - (lead - cut_lead)) <= len(lines) - len(sub)
            and (shift := _shift(lines[i : i + len(sub)], sub)) is not None
        ]
        if len(matches) > 1:
            found = [i for i, _ in matches]
            return _Miss(_found(len(matches)), _numbered_starts(lines, found))
        if matches:
            i, shift = matches[0]
            new = _trim_blank(_block_lines(replace), cut_lead, cut_trail)
            lines = lines[:i] + [_reindent(line, shift) for line in new] + lines[i + len(sub) :]
            return "\n".join(lines) + ("\n" if trailing else "")
    return _Miss(NOT_FOUND, _nearest(lines, core, deadline))


def _candidate_firsts(lines: list[str], core: list[str], deadline: Deadline) -> list[int]:
    """File lines where `core` (a block without blank ends) may start, shifted.

    A shifted match has the same line bodies, the same blank lines between them and the same
    indentation changes from one non-blank line to the next (the shift adds or removes one
    prefix everywhere, so what differs after the common prefix of two neighbours is the
    same). Those facts are encoded as a byte string per side and found with bytes.find; each
    place found is then checked line by line with _shift. At most MAX_COUNTED + 1 are returned.
    """
    core_keys = _line_keys(core, deadline)
    pattern = _Encoding(core_keys)
    keys = _line_keys(lines, deadline)
    nonblank = [number for number, key in enumerate(keys) if key is not None]
    haystack = pattern.encode(keys, deadline)
    needle = pattern.encode(core_keys)[pattern.width :]
    firsts: list[int] = []
    at = haystack.find(needle)
    while at != -1 and len(firsts) <= MAX_COUNTED:
        deadline.check()
        firsts.append(nonblank[at // (2 * pattern.width)])
        at = haystack.find(needle, at + 1)
    return firsts


_LineKey = tuple[str, int, str, str] | None
"""(body, blank lines since the previous non-blank line, that line's indentation and this
one's after their common prefix); None for a blank line."""


def _line_keys(lines: list[str], deadline: Deadline) -> list[_LineKey]:
    keys: list[_LineKey] = []
    gap, previous = 0, ""
    for line in deadline.paced(lines):
        if line.strip() == "":
            keys.append(None)
            gap += 1
            continue
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        common = _common_length(previous, indent)
        keys.append((body, gap, previous[common:], indent[common:]))
        gap, previous = 0, indent
    return keys


def _common_length(a: str, b: str) -> int:
    if a == b:
        return len(a)
    shorter = min(len(a), len(b))
    return next((i for i in range(shorter) if a[i] != b[i]), shorter)


class _Encoding:
    """Bytes for the line keys of one search block: each non-blank line becomes a 4-byte
    code of its (gap, indentation change) and one of its body; keys the block does not have
    share code 0. Only a code's first byte has its high bit set, so every find is aligned."""

    width = 4

    def __init__(self, keys: list[_LineKey]) -> None:
        self.codes: dict[tuple[str, ...] | tuple[int, str, str], bytes] = {}
        for key in keys:
            if key is not None:
                self.codes.setdefault(key[1:], self._code(len(self.codes) + 1))
                self.codes.setdefault((key[0],), self._code(len(self.codes) + 1))
        self.other = self._code(0)

    def encode(self, keys: list[_LineKey], deadline: Deadline = NO_DEADLINE) -> bytes:
        get, other = self.codes.get, self.other
        return b"".join(
            get(key[1:], other) + get((key[0],), other)
            for key in deadline.paced(keys)
            if key is not None
        )

    def _code(self, number: int) -> bytes:
        septets = [number >> shift & 0x7F for shift in (21, 14, 7, 0)]
        return bytes([0x80 | septets[0], *septets[1:]])


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


def _nearest(lines: list[str], block: list[str], deadline: Deadline) -> str:
    """The window of `len(block)` file lines most similar to `block`, numbered.

    Windows sharing the most tokens with the block are shortlisted in one pass, then the
    shortlist is ranked by the tokens each window line shares with the block line beside it:
    time linear in the file, whatever the block.
    """
    if lines == [""]:
        return ""
    size = max(1, min(len(block), len(lines)))
    wanted = Counter(token for line in block for token in _TOKEN.findall(line))
    ids = {token: number for number, token in enumerate(wanted)}
    tokens = [
        [ids[token] for token in _TOKEN.findall(line) if token in ids]
        for line in deadline.paced(lines)
    ]
    wanted_lines = [Counter(ids[token] for token in _TOKEN.findall(line)) for line in block[:size]]

    def similarity(start: int) -> tuple[int, int]:
        window = tokens[start : start + size]
        shared = sum(
            (Counter(have) & want).total() for have, want in zip(window, wanted_lines, strict=True)
        )
        return shared, -start

    best = max(_shortlist(tokens, list(wanted.values()), size, deadline), key=similarity)
    return _numbered(lines, best, best + size)


def _shortlist(
    tokens: list[list[int]], limits: list[int], size: int, deadline: Deadline
) -> list[int]:
    """Starts of the SHORTLIST windows of `size` lines sharing the most tokens with the block;
    `tokens` holds each line's token ids, `limits` how often the block has each one."""
    have = [0] * len(limits)
    overlap = 0
    scored: list[tuple[int, int]] = []
    for end, entering in enumerate(deadline.paced(tokens)):
        for token in entering:
            overlap += have[token] < limits[token]
            have[token] += 1
        if end >= size:
            for token in tokens[end - size]:
                have[token] -= 1
                overlap -= have[token] < limits[token]
        if end >= size - 1:
            scored.append((overlap, -(end - size + 1)))
    return [-start for _, start in heapq.nlargest(SHORTLIST, scored)]


def _numbered(lines: list[str], start: int, end: int) -> str:
    width = len(str(end))
    return "\n".join(f"{n + 1:>{width}} | {lines[n]}" for n in range(start, min(end, len(lines))))


def _numbered_starts(lines: list[str], starts: list[int]) -> str:
    """The first line of each match (at most MAX_SHOWN), numbered."""
    return "\n".join(_numbered(lines, i, i + 1) for i in starts[:MAX_SHOWN])
