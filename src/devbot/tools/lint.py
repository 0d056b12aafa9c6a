"""Problems that stop Python code from running, found without running it.

Syntax errors (Python's own parser) and the pyflakes findings that are errors at run time,
not style: undefined names, a local used before assignment, `return`/`yield` outside a
function, `break`/`continue` outside a loop, duplicate arguments. Only problems a change
brings count: those of the file before the change are subtracted, so a repository's own
quirks are never blamed on the agent. The code is parsed, never run; files over
`MAX_BYTES` and trees too deep to walk are left unchecked.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from pyflakes import checker, messages

MAX_BYTES = 300_000
_FATAL = (
    messages.UndefinedName,
    messages.UndefinedLocal,
    messages.UndefinedExport,
    messages.DuplicateArgument,
    messages.ReturnOutsideFunction,
    messages.YieldOutsideFunction,
    messages.ContinueOutsideLoop,
    messages.BreakOutsideLoop,
    messages.TwoStarredExpressions,
    messages.TooManyExpressionsInStarredAssignment,
    messages.FutureFeatureNotDefined,
)
PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Problem:
    """A problem and the lines that show it: the header of the function it is in (where a
    missing parameter would go), then its own line, numbered."""

    path: str
    line: int
    message: str
    shown: tuple[tuple[int, str], ...] = ()
    undefined: str = ""
    """The name, for an undefined name."""
    more: int = 0
    """How many more lines of the file have the same problem."""

    def __str__(self) -> str:
        width = len(str(max((n for n, _ in self.shown), default=0)))
        lines = [f"  {n:>{width}} | {text}" for n, text in self.shown]
        again = (
            f" (and on {self.more} more line{'s' if self.more > 1 else ''})" if self.more else ""
        )
        return "\n".join([f"{self.path}:{self.line}: {self.message}{again}", *lines])


def python_problems(path: str, source: str) -> list[Problem]:
    """The fatal problems of one Python file's text."""
    if len(source) > MAX_BYTES:
        return []
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        line = error.lineno or 1
        shown = _shown(source.splitlines(), [], line)
        return [Problem(path, line, f"syntax error: {error.msg}", shown)]
    except (ValueError, RecursionError, MemoryError):
        return []
    try:
        found = checker.Checker(tree, filename=path).messages
    except RecursionError:
        return []
    lines = source.splitlines()
    functions = [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    problems: dict[str, Problem] = {}
    for message in sorted(found, key=lambda m: m.lineno):
        if not isinstance(message, _FATAL):
            continue
        text = message.message % message.message_args
        if text in problems:  # the same problem again: counted, not repeated
            problems[text] = replace(problems[text], more=problems[text].more + 1)
            continue
        undefined = message.message_args[0] if isinstance(message, messages.UndefinedName) else ""
        shown = _shown(lines, functions, message.lineno)
        problems[text] = Problem(path, message.lineno, text, shown, str(undefined))
    return list(problems.values())


def _shown(
    lines: list[str], functions: list[tuple[int, int]], line: int
) -> tuple[tuple[int, str], ...]:
    """The header line of the innermost function holding `line`, then `line` itself."""
    holding = [start for start, end in functions if start < line <= end]
    numbers = [max(holding), line] if holding else [line]
    return tuple((n, lines[n - 1]) for n in numbers if 0 < n <= len(lines))


def new_problems(path: str, before: str | None, after: str) -> list[Problem]:
    """The problems of `after` that `before` (None: a new file) did not have, matched by
    message (lines move when code is added above; a repeated one is counted in `more`)."""
    had = {p.message for p in python_problems(path, before)} if before else set()
    return [problem for problem in python_problems(path, after) if problem.message not in had]
