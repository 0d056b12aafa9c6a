"""The symbols of a commit's files, kept on disk so the next run on that commit parses
nothing: one JSON file per (commit, file list), the newest `KEEP` kept."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devbot.agent.context.symbols import Definition, FileSymbols

KEEP = 32
FORMAT = 1


def cache_key(commit: str, files: Sequence[str]) -> str:
    listing = "\0".join(sorted(files))
    return hashlib.sha256(f"{FORMAT}\0{commit}\0{listing}".encode()).hexdigest()[:32]


class SymbolCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def load(self, key: str) -> dict[str, FileSymbols] | None:
        """The symbols stored under `key`; None when absent or unreadable."""
        if self.folder is None:
            return None
        try:
            raw = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            return {path: _symbols(path, entry) for path, entry in raw.items()}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, symbols: Mapping[str, FileSymbols]) -> None:
        """Keep `symbols` under `key` (written whole or not at all) and drop the oldest."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        raw = {
            path: {
                "definitions": [
                    [d.name, d.kind, d.line, d.depth, d.signature] for d in found.definitions
                ],
                "references": list(found.references),
            }
            for path, found in symbols.items()
        }
        temporary = self.folder / f".{uuid.uuid4().hex}.tmp"
        temporary.write_text(json.dumps(raw), encoding="utf-8")
        os.replace(temporary, self.folder / f"{key}.json")
        self._prune()

    def _prune(self) -> None:
        assert self.folder is not None
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP]:
            old.unlink(missing_ok=True)


def _symbols(path: str, entry: Any) -> FileSymbols:
    """FileSymbols from its JSON form; a malformed entry raises (the cache is then unused)."""
    definitions = tuple(
        Definition(str(name), str(kind), int(line), int(depth), str(signature))
        for name, kind, line, depth, signature in entry["definitions"]
    )
    return FileSymbols(path, definitions, tuple(str(r) for r in entry["references"]))
