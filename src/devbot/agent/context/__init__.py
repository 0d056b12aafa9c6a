"""What the agent is told about the repository before it starts: how its tests run, the
instruction files written for agents, the files the task is about and a ranked map of the
rest, all within a token budget."""

from __future__ import annotations

from devbot.agent.context.build import (
    ContextRequest,
    RepositoryContext,
    build_context,
    estimate_tokens,
)
from devbot.agent.context.cache import SymbolCache

__all__ = [
    "ContextRequest",
    "RepositoryContext",
    "SymbolCache",
    "build_context",
    "estimate_tokens",
]
