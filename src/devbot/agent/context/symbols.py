"""The definitions and references of a source file, read with tree-sitter.

The tag queries are the ones each grammar package ships (`TAGS_QUERY`, maintained with the
grammar): captures named `definition.*` are the file's symbols, `reference.*` the names it
uses. Definitions inside a function are locals and left out; those inside a class are kept,
one level deeper. Grammars load on first use, so a repository without Go never loads Go.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

import tree_sitter as ts

MAX_PARSE_BYTES = 300_000
SIGNATURE_CHARS = 120

_GRAMMARS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # language: (module, language function, packages whose queries/tags.scm apply)
    "python": ("tree_sitter_python", "language", ("tree_sitter_python",)),
    "javascript": ("tree_sitter_javascript", "language", ("tree_sitter_javascript",)),
    "typescript": (
        "tree_sitter_typescript",
        "language_typescript",
        ("tree_sitter_javascript", "tree_sitter_typescript"),
    ),
    "tsx": (
        "tree_sitter_typescript",
        "language_tsx",
        ("tree_sitter_javascript", "tree_sitter_typescript"),
    ),
    "go": ("tree_sitter_go", "language", ("tree_sitter_go",)),
    "rust": ("tree_sitter_rust", "language", ("tree_sitter_rust",)),
    "java": ("tree_sitter_java", "language", ("tree_sitter_java",)),
}
_SUFFIXES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}
_CONTAINERS = ("class", "interface", "module", "type", "impl", "trait")
"""Definition kinds whose members are part of the file's outline (not locals)."""


@dataclass(frozen=True)
class Definition:
    """A symbol a file defines: its name, kind, 1-based line, nesting and header line."""

    name: str
    kind: str
    line: int
    depth: int
    signature: str


@dataclass(frozen=True)
class FileSymbols:
    path: str
    definitions: tuple[Definition, ...]
    references: tuple[str, ...]
    """Names the file uses (calls, types), sorted, each once."""


def language_of(path: str) -> str | None:
    return _SUFFIXES.get(PurePosixPath(path).suffix.lower())


class SymbolReader:
    """Parsers and compiled tag queries, one per language, made on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[ts.Parser, tuple[ts.Query, ...]]] = {}

    def read(self, path: str, source: bytes) -> FileSymbols:
        """The symbols of `source`; none for a language without a grammar here, a file
        too large to parse, or one that is not text."""
        language = language_of(path)
        if language is None or len(source) > MAX_PARSE_BYTES or b"\0" in source:
            return FileSymbols(path, (), ())
        parser, queries = self._load(language)
        root = parser.parse(source).root_node
        spans: list[tuple[ts.Node, ts.Node, str]] = []
        references: set[str] = set()
        for query in queries:
            for _, captures in ts.QueryCursor(query).matches(root):
                names = captures.get("name", [])
                for capture, nodes in captures.items():
                    if not names or not nodes:
                        continue
                    name = _text(names[0])
                    if capture.startswith("definition."):
                        spans.append((nodes[0], names[0], capture.removeprefix("definition.")))
                    elif capture.startswith("reference."):
                        references.add(name)
        return FileSymbols(path, _outline(spans, source), tuple(sorted(references)))

    def _load(self, language: str) -> tuple[ts.Parser, tuple[ts.Query, ...]]:
        if language not in self._loaded:
            module, function, query_packages = _GRAMMARS[language]
            grammar = ts.Language(getattr(importlib.import_module(module), function)())
            queries = tuple(ts.Query(grammar, _tags_query(p)) for p in query_packages)
            self._loaded[language] = (ts.Parser(grammar), queries)
        return self._loaded[language]


def _tags_query(package: str) -> str:
    return resources.files(package).joinpath("queries", "tags.scm").read_text(encoding="utf-8")


def _outline(spans: list[tuple[ts.Node, ts.Node, str]], source: bytes) -> tuple[Definition, ...]:
    """Definitions in source order, members of containers one level deeper, locals of
    functions left out; a node captured twice (two queries) is kept once."""
    unique = {(node.start_byte, node.end_byte): (node, name, kind) for node, name, kind in spans}
    ordered = sorted(unique.values(), key=lambda item: (item[0].start_byte, -item[0].end_byte))
    kept: list[Definition] = []
    enclosing: list[tuple[int, str, bool]] = []  # (end byte, kind, kept)
    for node, name, kind in ordered:
        while enclosing and enclosing[-1][0] <= node.start_byte:
            enclosing.pop()
        inside_kept_container = all(k and e_kind in _CONTAINERS for _, e_kind, k in enclosing)
        keep = inside_kept_container
        if keep:
            depth = len(enclosing)
            kept.append(
                Definition(_text(name), kind, node.start_point[0] + 1, depth, _header(node, source))
            )
        enclosing.append((node.end_byte, kind, keep))
    return tuple(kept)


def _header(node: ts.Node, source: bytes) -> str:
    """The definition up to its body (a signature over several lines joined), one line."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else None
    if end is None:
        end = source.find(b"\n", node.start_byte)
        end = node.end_byte if end == -1 else min(end, node.end_byte)
    text = source[node.start_byte : end].decode("utf-8", errors="replace")
    line = re.sub(r"\s+", " ", text).strip().rstrip("{").rstrip()
    return line if len(line) <= SIGNATURE_CHARS else line[: SIGNATURE_CHARS - 1] + "…"


def _text(node: ts.Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")
