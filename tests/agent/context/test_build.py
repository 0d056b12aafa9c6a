"""The repository context as the agent receives it: what is in it, in what order, within
its budget, never read through a link out of the worktree, and cached per commit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devbot.agent.context import ContextRequest, SymbolCache, build_context, estimate_tokens
from devbot.agent.context.cache import KEEP
from devbot.agent.context.symbols import SymbolReader

NAMES = ("AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md")
FILES = {
    "AGENTS.md": "Use tabs.\nRun make lint before you finish.\n",
    "calc.py": "def average(values):\n    return sum(values) / (len(values) + 1)\n",
    "tests/test_calc.py": "from calc import average\n\n\ndef test_average():\n"
    "    assert average([2, 4]) == 3\n",
    "shop/prices.py": "".join(
        f"def price_{i}() -> float:\n    return {i}.5\n\n\n" for i in range(60)
    ),
    "docs/guide.md": "# Guide\n" + "text\n" * 50,
}


def _repo(root: Path, files: dict[str, str] = FILES) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def _request(root: Path, task: str, budget: int = 2000, commit: str = "c1") -> ContextRequest:
    files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()))
    return ContextRequest(
        root, commit, files, task, ("python3 -m pytest -q", "detected"), NAMES, budget
    )


def test_tests_instructions_the_files_in_play_whole_then_the_map(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    context = build_context(_request(root, "Fix the bug in calc.py"), SymbolCache(None))
    text = context.text
    assert text.startswith("Tests: `python3 -m pytest -q` (detected)")
    assert text.index("Use tabs.") < text.index("calc.py (2 lines)")
    assert "```\ndef average(values):\n    return sum(values) / (len(values) + 1)\n```" in text
    assert text.index("calc.py (2 lines)") < text.index("Repository map")
    assert "  def price_0() -> float:" in text  # the map shows definitions
    assert context.instructions == ("AGENTS.md",)
    assert context.shown[0] == "calc.py"
    assert "tests/test_calc.py" not in context.shown  # named by nothing
    assert estimate_tokens(text) == context.tokens <= 2000


def test_a_code_name_brings_the_files_defining_and_using_it(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    context = build_context(_request(root, "Make `average` ignore None"), SymbolCache(None))
    assert context.shown == ("calc.py", "tests/test_calc.py")


def test_a_small_budget_keeps_names_and_says_how_many_were_left_out(tmp_path: Path) -> None:
    root = _repo(tmp_path, {f"pkg/m{i}.py": f"def f{i}():\n    pass\n" for i in range(200)})
    context = build_context(_request(root, "Tidy pkg/m7.py", budget=300), SymbolCache(None))
    assert context.tokens <= 300
    assert context.omitted > 100 and f"(+{context.omitted} more files" in context.text
    assert context.shown == ("pkg/m7.py",)


def test_a_long_instruction_file_is_clipped_with_a_note(tmp_path: Path) -> None:
    guide = "".join(f"Rule {i}: do the right thing number {i}.\n" for i in range(400))
    root = _repo(tmp_path, {"AGENTS.md": guide, "app.py": "x = 1\n"})
    context = build_context(_request(root, "change app.py", budget=1000), SymbolCache(None))
    assert "Rule 0:" in context.text and "Rule 399:" not in context.text
    assert "more lines of AGENTS.md not shown" in context.text
    assert "app.py (1 lines)" in context.text  # the clipped guide left room for the file
    assert context.tokens <= 1000


def test_a_file_with_backtick_fences_gets_a_longer_fence(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"README.md": "Run:\n```sh\nmake\n```\n"})
    text = build_context(_request(root, "Edit README.md"), SymbolCache(None)).text
    assert "````\nRun:\n```sh\nmake\n```\n````" in text


def test_a_link_out_of_the_worktree_is_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("TOKEN=hunter2\ndef leaked(): pass\n", encoding="utf-8")
    root = _repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    os.symlink(outside, root / "notes.py")
    os.symlink(outside, root / "AGENTS.md")
    context = build_context(_request(root, "Read notes.py and app.py"), SymbolCache(None))
    assert "hunter2" not in context.text and "leaked" not in context.text
    assert context.shown == ("app.py",) and context.instructions == ()


def test_a_zero_budget_gives_no_context(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    context = build_context(_request(root, "Fix calc.py", budget=0), SymbolCache(None))
    assert context.text == "" and context.tokens == 0


@settings(max_examples=40, deadline=None)
@given(
    budget=st.integers(min_value=1, max_value=3000),
    task=st.sampled_from(
        ["Fix calc.py", "Add price_61 to shop/prices.py", "Update docs/guide.md", "anything"]
    ),
)
def test_the_context_never_exceeds_its_budget(
    tmp_path_factory: pytest.TempPathFactory, budget: int, task: str
) -> None:
    root = _repo(tmp_path_factory.mktemp("repo"))
    context = build_context(_request(root, task, budget=budget), SymbolCache(None))
    assert estimate_tokens(context.text) <= budget


def test_the_symbols_of_a_commit_are_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path / "repo")
    cache = SymbolCache(tmp_path / "cache")
    first = build_context(_request(root, "Fix calc.py"), cache)
    parsed: list[str] = []
    original = SymbolReader.read
    monkeypatch.setattr(
        SymbolReader,
        "read",
        lambda self, path, source: parsed.append(path) or original(self, path, source),
    )
    again = build_context(_request(root, "Fix calc.py"), cache)
    assert parsed == [] and again.text == first.text
    build_context(_request(root, "Fix calc.py", commit="c2"), cache)
    assert "calc.py" in parsed  # another commit is parsed anew


def test_the_cache_keeps_the_newest_commits_and_survives_a_bad_file(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", {"a.py": "def a():\n    pass\n"})
    folder = tmp_path / "cache"
    cache = SymbolCache(folder)
    for i in range(KEEP + 5):
        build_context(_request(root, "a.py", commit=f"c{i}"), cache)
    entries = list(folder.glob("*.json"))
    assert len(entries) == KEEP
    for entry in entries:
        entry.write_text("{not json", encoding="utf-8")
    assert "def a():" in build_context(_request(root, "touch a()", commit="c0"), cache).text
