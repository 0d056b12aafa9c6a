"""Run one Action against the workspace's file tools or the sandbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from devbot.agent.actions import (
    Action,
    DeleteFile,
    EditFile,
    Finish,
    InsertLines,
    ListFiles,
    MoveFile,
    Observation,
    ReadFile,
    RunCommand,
    SearchFiles,
    WriteFile,
)
from devbot.sandbox.base import Sandbox
from devbot.templating import render
from devbot.tools.deadline import NO_DEADLINE, Deadline
from devbot.tools.files import ToolResult, Workspace


def execute(
    action: Action,
    workspace: Workspace,
    sandbox: Sandbox,
    command_timeout_s: float,
    deadline: Deadline = NO_DEADLINE,
) -> Observation:
    """The observation of `action`; model mistakes come back as ok=False, never raised.

    Work still going at `deadline` is stopped and said so; past it, no action starts.
    """
    if deadline.passed():
        return Observation(ok=False, output=render("devbot.agent", "not_started.txt").strip())
    match action:
        case ReadFile() if action.start_line is None and workspace.is_directory(action.path):
            return _seen(workspace.list_files(action.path, deadline))
        case ReadFile():
            return _seen(workspace.read_file(action.path, action.start_line, action.end_line))
        case WriteFile():
            return _seen(workspace.write_file(action.path, action.content))
        case EditFile():
            edits = [(edit.search, edit.replace) for edit in action.edits]
            return _seen(workspace.edit_file(action.path, edits, deadline))
        case InsertLines():
            return _seen(workspace.insert_lines(action.path, action.after_line, action.text))
        case MoveFile():
            return _seen(workspace.move_file(action.path, action.to))
        case DeleteFile():
            return _seen(workspace.delete_file(action.path))
        case ListFiles():
            return _seen(workspace.list_files(action.path, deadline))
        case SearchFiles():
            return _seen(workspace.search_files(action.pattern, action.path, action.glob, deadline))
        case RunCommand():
            return run_command(action.command, workspace, sandbox, command_timeout_s, deadline)
        case Finish():
            raise ValueError("Finish ends the run; the loop handles it")


def run_command(
    command: str,
    workspace: Workspace,
    sandbox: Sandbox,
    timeout_s: float,
    deadline: Deadline = NO_DEADLINE,
) -> Observation:
    """Run `command` in the sandbox for at most `timeout_s` and not past `deadline`; the
    output says the exit code or which of the two stopped it."""
    allowed_s = min(timeout_s, deadline.remaining())
    result = sandbox.run(command, workspace.root, allowed_s)
    if result.timed_out:
        template = "command_timeout.txt" if allowed_s == timeout_s else "command_out_of_time.txt"
        text = render("devbot.agent", template, timeout_s=f"{allowed_s:g}", output=result.output)
    else:
        text = render(
            "devbot.agent", "command_done.txt", exit_code=result.exit_code, output=result.output
        )
    return Observation(ok=result.exit_code == 0 and not result.timed_out, output=text.rstrip("\n"))


def action_record(action: Action) -> dict[str, Any]:
    """`action` as plain data for the trajectory: its type name and fields."""
    return {"type": type(action).__name__, **asdict(action)}


def _seen(result: ToolResult) -> Observation:
    return Observation(ok=result.ok, output=result.output)
