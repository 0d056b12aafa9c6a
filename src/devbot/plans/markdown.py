"""Reading Markdown line by line: which lines are fenced code."""

from __future__ import annotations

import re

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


class Fences:
    """Tracks fenced code blocks over the lines of one document, read in order."""

    def __init__(self) -> None:
        self.open: str | None = None

    def is_code(self, line: str) -> bool:
        """Whether `line` opens, closes or lies inside a fenced code block (CommonMark: a
        fence closes with the same character, at least as many times)."""
        opener = FENCE.match(line)
        if opener is None:
            return self.open is not None
        mark = opener.group(1)
        if self.open is None:
            self.open = mark
        elif mark[0] == self.open[0] and len(mark) >= len(self.open):
            self.open = None
        return True
