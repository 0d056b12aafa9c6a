"""Which files matter to a task: those it names, those defining what it names, and the
files close to them in the graph of who uses whose definitions.

Ranking is a personalised PageRank over that graph (the idea of aider's repository map): a
file that uses a name another file defines links to it, and the walk restarts at the files
the task points at, so what they use and what uses them ranks next.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from devbot.agent.context.symbols import FileSymbols

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_]\.[A-Za-z0-9]+")
_QUOTED = re.compile(r"`([^`\n]+)`")
_CALLED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_CODE_SHAPE = re.compile(r"_|[a-z][A-Z]|^[A-Z][A-Z0-9]+$")
MIN_NAME = 3
MAX_SAME_NAME = 3
DAMPING = 0.85
ITERATIONS = 30


@dataclass(frozen=True)
class Focus:
    """What the task points at: files it names, files defining names it mentions, files
    using those names, and the words it mentions."""

    named: tuple[str, ...]
    defining: tuple[str, ...]
    using: tuple[str, ...]
    words: frozenset[str]

    def in_play(self) -> tuple[str, ...]:
        seen = dict.fromkeys([*self.named, *self.defining, *self.using])
        return tuple(seen)


def focus_of(text: str, files: Sequence[str], symbols: Mapping[str, FileSymbols]) -> Focus:
    words = frozenset(w for w in _WORD.findall(text) if len(w) >= MIN_NAME)
    named = _named_files(text, files)
    code = code_names(text)
    defined = {d.name for s in symbols.values() for d in s.definitions if d.name in code}
    defining = [p for p, s in symbols.items() if any(d.name in defined for d in s.definitions)]
    using = [p for p, s in symbols.items() if defined & set(s.references)]
    return Focus(tuple(named), _in_order(defining, files), _in_order(using, files), words)


def code_names(text: str) -> frozenset[str]:
    """Names the text writes as code: in backticks, called (`name(`), or shaped like an
    identifier (snake_case, camelCase, CAPS); plain words ("config", "user") are not."""
    quoted = {w for span in _QUOTED.findall(text) for w in _WORD.findall(span)}
    called = set(_CALLED.findall(text))
    shaped = {w for w in _WORD.findall(text) if _CODE_SHAPE.search(w)}
    return frozenset(w for w in quoted | called | shaped if len(w) >= MIN_NAME)


def _named_files(text: str, files: Sequence[str]) -> list[str]:
    """Files the text names, by their path or by its end (`cli.py`, `triggers/cli.py`), in
    the order the text names them; a name that fits more than `MAX_SAME_NAME` files names
    none of them."""
    by_suffix: dict[str, list[str]] = defaultdict(list)
    for path in files:
        parts = PurePosixPath(path).parts
        for start in range(len(parts)):
            by_suffix["/".join(parts[start:])].append(path)
    named: list[str] = []
    for match in _PATHLIKE.finditer(text):
        found = by_suffix.get(match.group().removeprefix("./"), [])
        if len(found) <= MAX_SAME_NAME:
            named += sorted(found, key=lambda path: (path.count("/"), path))
    return list(dict.fromkeys(named))


def _in_order(paths: Sequence[str], files: Sequence[str]) -> tuple[str, ...]:
    wanted = set(paths)
    return tuple(path for path in files if path in wanted)


def rank(files: Sequence[str], symbols: Mapping[str, FileSymbols], focus: Focus) -> list[str]:
    """`files` most relevant first: what the task points at, then the others by personalised
    PageRank (ties in listing order)."""
    definers: dict[str, set[str]] = defaultdict(set)
    for path, found in symbols.items():
        for definition in found.definitions:
            definers[definition.name].add(path)
    links: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path, found in symbols.items():
        for name in found.references:
            for target in definers.get(name, ()):
                if target != path:
                    links[path][target] += 3.0 if name in focus.words else 1.0
    restart = _restart(files, focus)
    score = dict(restart)
    for _ in range(ITERATIONS):
        step = {path: (1 - DAMPING) * restart[path] for path in files}
        for source, targets in links.items():
            total = sum(targets.values())
            for target, weight in targets.items():
                step[target] += DAMPING * score[source] * weight / total
        dangling = sum(score[p] for p in files if p not in links)
        for path in files:
            step[path] += DAMPING * dangling * restart[path]
        score = step
    order = {path: index for index, path in enumerate(files)}
    ranked = sorted(files, key=lambda path: (-score[path], order[path]))
    return list(dict.fromkeys([*(p for p in focus.in_play() if p in order), *ranked]))


def _restart(files: Sequence[str], focus: Focus) -> dict[str, float]:
    """Where the walk starts again: mostly at what the task points at, a little everywhere,
    a little more where a path part is a word of the task."""
    weights = {path: 1.0 for path in files}
    for path in files:
        parts = set(re.split(r"[/._-]", path))
        if parts & focus.words:
            weights[path] += 5.0
    for paths, weight in ((focus.using, 10.0), (focus.defining, 30.0), (focus.named, 100.0)):
        for path in paths:
            if path in weights:
                weights[path] += weight
    total = sum(weights.values()) or 1.0
    return {path: weight / total for path, weight in weights.items()}
