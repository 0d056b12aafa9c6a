"""Names a change took out of a Python module that other files still import from it.

A rename done in the defining module only leaves `from users import get_usr` (an ImportError
when the importer loads) or `users.get_usr()` (an AttributeError when it runs) in the files
that use it; per-file checks cannot see either. Only names the module defined before the
change and no longer defines count, so a repository's own quirks are never blamed on the
change; a module with `__getattr__` or a star import is left alone (its names are not
known without running it).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from devbot.tools.lint import MAX_BYTES, Problem

Reader = Callable[[str], str | None]
"""The text of a repository path (before or after the change); None when it is not there."""


@dataclass(frozen=True)
class LostNames:
    """A changed module and the top-level names the change removed from it."""

    module: str
    path: str
    names: frozenset[str]
    added: frozenset[str]
    """What the change defined there instead (a renamed name is likely among them)."""


def module_name(path: str) -> str | None:
    """`pkg/mod.py` -> `pkg.mod`, `pkg/__init__.py` -> `pkg`; None for other files."""
    if not path.endswith(".py"):
        return None
    parts = path[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def lost_names(path: str, before: str | None, after: str | None) -> LostNames | None:
    """What `path`'s module no longer defines, or None (new, deleted, unknowable, nothing lost)."""
    module = module_name(path)
    if module is None or before is None or after is None:
        return None
    had, has = top_level_names(before), top_level_names(after)
    if had is None or has is None:
        return None
    lost = had - has
    return LostNames(module, path, frozenset(lost), frozenset(has - had)) if lost else None


def top_level_names(source: str) -> set[str] | None:
    """The names a module defines at its top level (also inside `if`/`try`/`with` there);
    None when they cannot be known without running it."""
    tree = _parse(source)
    if tree is None:
        return None
    names: set[str] = set()
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        node = statements.pop()
        match node:
            case ast.FunctionDef() | ast.AsyncFunctionDef() | ast.ClassDef():
                names.add(node.name)
            case ast.Assign() | ast.AnnAssign() | ast.AugAssign():
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            case ast.Import() | ast.ImportFrom():
                if any(alias.name == "*" for alias in node.names):
                    return None
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            case ast.If() | ast.Try() | ast.With():
                statements += [*node.body, *getattr(node, "orelse", []), *_handlers(node)]
                statements += getattr(node, "finalbody", [])
    return None if "__getattr__" in names else names


def _handlers(node: ast.stmt) -> list[ast.stmt]:
    return [s for h in getattr(node, "handlers", []) for s in h.body]


def _parse(source: str) -> ast.Module | None:
    if len(source) > MAX_BYTES:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def stale_uses(path: str, source: str, lost: Iterable[LostNames]) -> list[Problem]:
    """The lines of `path` that import or use a name its module lost."""
    tree = _parse(source)
    if tree is None:
        return []
    by_module = {entry.module: entry for entry in lost}
    aliases: dict[str, LostNames] = {}  # `import users as u` -> u
    problems: list[Problem] = []
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in by_module:
                    aliases[alias.asname or alias.name] = by_module[alias.name]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in by_module:
            entry = by_module[node.module]
            problems += [
                _problem(path, node.lineno, lines, alias.name, entry, "imports")
                for alias in node.names
                if alias.name in entry.names
            ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        via = aliases.get(_dotted(node.value) or "")
        if via is not None and node.attr in via.names:
            problems.append(_problem(path, node.lineno, lines, node.attr, via, "uses"))
    return sorted(problems, key=lambda p: p.line)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _problem(
    path: str, line: int, lines: list[str], name: str, entry: LostNames, how: str
) -> Problem:
    added = sorted(entry.added)[:5]
    instead = f"; it defines {', '.join(added)} now" if added else ""
    message = f"{how} {name} from {entry.module}, which {entry.path} no longer defines{instead}"
    shown = ((line, lines[line - 1]),) if 0 < line <= len(lines) else ()
    return Problem(path, line, message, shown)
