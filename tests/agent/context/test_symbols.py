"""Definitions and references read with tree-sitter's own tag queries, per language."""

from __future__ import annotations

from devbot.agent.context.symbols import MAX_PARSE_BYTES, SymbolReader, language_of

PYTHON = b'''import os

LIMIT = 3


class Store(Base):
    """Keeps things."""

    def put(self, key: str,
            value: int) -> None:
        def local_helper() -> None:
            pass
        save(key, value)


@cache
def save(key, value):
    return os.path.join(key)
'''


def test_python_outline_keeps_members_one_level_deeper_and_leaves_out_locals() -> None:
    found = SymbolReader().read("pkg/store.py", PYTHON)
    outline = [(d.name, d.kind, d.line, d.depth, d.signature) for d in found.definitions]
    assert outline == [
        ("LIMIT", "constant", 3, 0, "LIMIT = 3"),
        ("Store", "class", 6, 0, "class Store(Base):"),
        ("put", "function", 9, 1, "def put(self, key: str, value: int) -> None:"),
        ("save", "function", 17, 0, "def save(key, value):"),
    ]
    assert {"save", "join"} <= set(found.references)
    assert list(found.references) == sorted(set(found.references))


def test_other_languages_give_their_definitions() -> None:
    reader = SymbolReader()
    samples = {
        "web/app.js": (b"export function start(port) { listen(port); }\nclass Server {}\n"),
        "web/types.ts": (
            b"interface Options { port: number }\nexport function serve(o: Options): void {}\n"
        ),
        "cmd/main.go": (b"package main\n\ntype Config struct{}\n\nfunc Run(c Config) {}\n"),
        "src/lib.rs": (b"pub struct Engine;\nimpl Engine { pub fn start(&self) {} }\n"),
        "App.java": (b"public class App { public void run() {} }\n"),
    }
    names = {
        path: {d.name for d in reader.read(path, text).definitions}
        for path, text in samples.items()
    }
    assert {"start", "Server"} <= names["web/app.js"]
    assert {"Options", "serve"} <= names["web/types.ts"]
    assert {"Config", "Run"} <= names["cmd/main.go"]
    assert {"Engine", "start"} <= names["src/lib.rs"]
    assert {"App", "run"} <= names["App.java"]


def test_files_without_a_grammar_binary_or_too_large_have_no_symbols() -> None:
    reader = SymbolReader()
    assert language_of("README.md") is None
    assert reader.read("README.md", b"# def f(): pass\n").definitions == ()
    assert reader.read("blob.py", b"def f():\0 pass\n").definitions == ()
    big = b"def f():\n    pass\n" * (MAX_PARSE_BYTES // 10)
    assert reader.read("big.py", big).definitions == ()


def test_a_broken_file_still_gives_what_parses() -> None:
    found = SymbolReader().read("half.py", b"def ok():\n    return 1\n\ndef broken(:\n")
    assert "ok" in {d.name for d in found.definitions}
