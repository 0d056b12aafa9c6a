"""Workspace file tools for the agent, jailed to the workspace directory."""

from devbot.tools.edit import EditFailure, EditOutcome, apply_edits
from devbot.tools.files import ToolResult, Workspace
from devbot.tools.jail import PathOutsideWorkspace, resolve_in_workspace

__all__ = [
    "EditFailure",
    "EditOutcome",
    "PathOutsideWorkspace",
    "ToolResult",
    "Workspace",
    "apply_edits",
    "resolve_in_workspace",
]
