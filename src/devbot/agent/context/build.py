"""The repository context of the agent's first message, within a token budget.

In order, each part taking what the budget has left: how the tests run; the instruction
files (`AGENTS.md` nearest the files in play first; at most `INSTRUCTIONS_SHARE` of the
budget, clipped with a note); the files the task is about, whole (most of what is left, so a
small task needs no READ before its first edit); a repository map of the other files, most
relevant first, each with its definitions; then further file names while they fit, and how
many were left out. Tokens are estimated as characters / 4.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from devbot.agent.context.cache import SymbolCache, cache_key
from devbot.agent.context.instructions import instruction_files
from devbot.agent.context.ranking import Focus, focus_of, rank
from devbot.agent.context.symbols import FileSymbols, SymbolReader, language_of
from devbot.templating import render
from devbot.tools.inside import read_inside

INSTRUCTIONS_SHARE = 0.4
CONTENT_SHARE = 0.7
MAX_PARSED_FILES = 3000
MAX_FILE_BYTES = 300_000

Reader = Callable[[str], str | None]


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class ContextRequest:
    """What the context is built from: the worktree at `commit`, its files (the run's own
    plan and report left out), the task's text and the test command line."""

    root: Path
    commit: str
    files: tuple[str, ...]
    task_text: str
    tests: tuple[str, str] | None
    """(command, where it came from), or None when no test runs."""
    instruction_names: tuple[str, ...]
    budget_tokens: int


@dataclass(frozen=True)
class RepositoryContext:
    text: str
    instructions: tuple[str, ...]
    shown: tuple[str, ...]
    """Files given whole."""
    mapped: int
    """Files named in the map (with their definitions when they fit)."""
    omitted: int
    tokens: int

    def summary(self) -> str:
        """One line for the progress log and the report."""
        parts = [f"~{self.tokens:,} tokens"]
        if self.instructions:
            parts.append("instructions " + ", ".join(self.instructions))
        if self.shown:
            parts.append("whole " + ", ".join(self.shown))
        parts.append(f"{self.mapped} files in the map, {self.omitted} left out")
        return "; ".join(parts)


class _Budget:
    def __init__(self, tokens: int) -> None:
        self.total, self.left = tokens, tokens

    def take(self, text: str, limit: float | None = None) -> bool:
        """Spend the cost of `text` if it fits (and keeps spending within `limit`)."""
        cost = estimate_tokens(text) + 1
        ceiling = self.left if limit is None else min(self.left, limit)
        if cost > ceiling:
            return False
        self.left -= cost
        return True

    def give(self, text: str) -> None:
        """Return what `take(text)` spent."""
        self.left += estimate_tokens(text) + 1


def build_context(request: ContextRequest, cache: SymbolCache) -> RepositoryContext:
    if request.budget_tokens <= 0:
        return RepositoryContext("", (), (), 0, len(request.files), 0)
    read = _reader(request.root)
    symbols = _symbols(request, cache, read)
    focus = focus_of(request.task_text, request.files, symbols)
    budget = _Budget(request.budget_tokens)
    tests = _tests_line(request.tests)
    sections = [tests] if budget.take(tests) else []
    guides = instruction_files(request.files, request.instruction_names, focus.in_play())
    taken, text = _instructions(guides, read, budget)
    sections += text
    shown, text = _whole_files(focus, set(guides), read, budget)
    sections += text
    ranked = [p for p in rank(request.files, symbols, focus) if p not in shown and p not in guides]
    mapped, text = _map(ranked, symbols, budget)
    sections += text
    body = "\n\n".join(part.strip() for part in sections if part.strip())
    return RepositoryContext(
        body,
        tuple(taken),
        tuple(shown),
        mapped,
        len(ranked) - mapped,
        estimate_tokens(body),
    )


def _reader(root: Path) -> Reader:
    def read(path: str) -> str | None:
        try:
            text = read_inside(root, path, MAX_FILE_BYTES)
        except (OSError, ValueError):
            return None
        return None if "\0" in text[:8192] else text

    return read


def _symbols(request: ContextRequest, cache: SymbolCache, read: Reader) -> dict[str, FileSymbols]:
    key = cache_key(request.commit, request.files)
    cached = cache.load(key)
    if cached is not None:
        return cached
    reader = SymbolReader()
    parsed = [path for path in request.files if language_of(path)][:MAX_PARSED_FILES]
    symbols: dict[str, FileSymbols] = {}
    for path in parsed:
        text = read(path)
        if text is not None:
            symbols[path] = reader.read(path, text.encode("utf-8"))
    cache.store(key, symbols)
    return symbols


def _tests_line(tests: tuple[str, str] | None) -> str:
    if tests is None:
        return render("devbot.agent", "context_no_tests.txt")
    command, origin = tests
    return render("devbot.agent", "context_tests.txt", command=command, origin=origin)


def _instructions(
    guides: Sequence[str], read: Reader, budget: _Budget
) -> tuple[list[str], list[str]]:
    """The instruction files that fit in their share, the last one clipped by lines."""
    limit = budget.total * INSTRUCTIONS_SHARE
    taken: list[str] = []
    sections: list[str] = []
    for path in guides:
        text = read(path)
        if not text or not text.strip():
            continue
        spent = budget.total - budget.left
        section = _clipped_instructions(path, text, limit - spent)
        if section is None or not budget.take(section):
            break
        taken.append(path)
        sections.append(section)
    return taken, sections


def _clipped_instructions(path: str, text: str, tokens: float) -> str | None:
    """The instruction file's section, its first lines when not all fit in `tokens` (with
    a note of what was cut); None when not even its first line fits."""
    lines = text.strip().splitlines()

    def section(keep: int) -> str:
        shown = "\n".join(lines[:keep])
        whole = render("devbot.agent", "context_instructions.txt", path=path, text=shown)
        if keep == len(lines):
            return whole
        return whole + render(
            "devbot.agent", "context_clipped.txt", count=len(lines) - keep, path=path
        )

    overhead = len(section(0))
    ends = list(accumulate(len(line) + 1 for line in lines))
    keep = bisect_right(ends, (tokens - 1) * 4 - overhead)
    while keep > 0 and estimate_tokens(section(keep)) + 1 > tokens:
        keep -= 1
    return section(keep) if keep > 0 else None


def _whole_files(
    focus: Focus, skip: set[str], read: Reader, budget: _Budget
) -> tuple[list[str], list[str]]:
    """The files in play, each whole when it fits in the share left for contents."""
    share = budget.left * CONTENT_SHARE
    shown: list[str] = []
    sections: list[str] = []
    for path in focus.in_play():
        text = read(path) if path not in skip else None
        if text is None:
            continue
        section = _file_section(path, text)
        if budget.take(section, share):
            share -= estimate_tokens(section) + 1
            shown.append(path)
            sections.append(section)
    return shown, sections


def _file_section(path: str, text: str) -> str:
    """The file in a fence longer than any run of backticks in it."""
    ending = text if text.endswith("\n") or not text else text + "\n"
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    lines = ending.count("\n")
    return render(
        "devbot.agent", "context_file.txt", path=path, lines=lines, fence=fence, text=ending
    )


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _map(
    ranked: Sequence[str], symbols: dict[str, FileSymbols], budget: _Budget
) -> tuple[int, list[str]]:
    """Each file with its definitions when they fit, else its name alone, until not even a
    name fits; then how many files were left out."""
    header = render("devbot.agent", "context_map.txt").strip()
    more = render("devbot.agent", "context_more.txt", count=len(ranked)).strip()
    if not ranked or not budget.take(header):
        return 0, []
    if not budget.take(more):  # reserved for the note of files left out
        budget.give(header)
        return 0, []
    entries: list[str] = []
    for path in ranked:
        found = symbols.get(path)
        outline = _outline(found)
        full = "\n".join([path, *outline])
        if outline and budget.take(full):
            entries.append(full)
        elif budget.take(path):
            entries.append(path)
        else:
            break
    left_out = len(ranked) - len(entries)
    if left_out:  # its note is no longer than the one reserved
        entries.append(render("devbot.agent", "context_more.txt", count=left_out).strip())
    else:
        budget.give(more)
    return len(ranked) - left_out, [header + "\n" + "\n".join(entries)]


def _outline(found: FileSymbols | None) -> list[str]:
    """The file's public definitions (a leading `_` marks a private one), indented by depth."""
    if found is None:
        return []
    public = [d for d in found.definitions if not d.name.startswith("_") or d.name.endswith("__")]
    return [f"{'  ' * (d.depth + 1)}{d.signature}" for d in public]
