"""Instruction files for agents, nearest to the files in play first."""

from __future__ import annotations

from devbot.agent.context.instructions import instruction_files

NAMES = ("AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md")
FILES = [
    "AGENTS.md",
    "CLAUDE.md",
    ".github/copilot-instructions.md",
    "services/api/AGENTS.md",
    "services/api/handlers/users.py",
    "services/Agents.md",
    "web/AGENTS.md",
    "web/index.ts",
    "docs/CLAUDE.md",
]


def test_nearest_folder_first_then_parents_then_the_root_then_paths() -> None:
    found = instruction_files(FILES, NAMES, ["services/api/handlers/users.py"])
    assert found == [
        "services/api/AGENTS.md",
        "services/Agents.md",
        "AGENTS.md",
        "CLAUDE.md",
        ".github/copilot-instructions.md",
    ]


def test_several_files_in_play_and_none() -> None:
    both = instruction_files(FILES, NAMES, ["web/index.ts", "services/api/handlers/users.py"])
    assert both[:3] == ["web/AGENTS.md", "services/api/AGENTS.md", "services/Agents.md"]
    assert "docs/CLAUDE.md" not in both  # about another part of the repository
    assert instruction_files(FILES, NAMES, []) == [
        "AGENTS.md",
        "CLAUDE.md",
        ".github/copilot-instructions.md",
    ]


def test_configured_names_only() -> None:
    assert instruction_files(FILES, ("CONVENTIONS.md",), ["web/index.ts"]) == []
    assert instruction_files([*FILES, "CONVENTIONS.md"], ("CONVENTIONS.md",), []) == [
        "CONVENTIONS.md"
    ]
