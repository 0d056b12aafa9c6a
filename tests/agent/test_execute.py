"""Each Action against a real Workspace and the local sandbox."""

from __future__ import annotations

import pytest

from devbot.agent.actions import (
    DeleteFile,
    Edit,
    EditFile,
    Finish,
    ListFiles,
    ReadFile,
    RunCommand,
    SearchFiles,
    WriteFile,
)
from devbot.agent.execute import action_record, execute
from devbot.sandbox.local import LocalSandbox
from devbot.tools import Workspace
from devbot.tools.deadline import Deadline


def test_file_actions_reach_the_workspace(workspace: Workspace) -> None:
    sandbox = LocalSandbox()

    def run(action: object) -> tuple[bool, str]:
        observation = execute(action, workspace, sandbox, 10)  # type: ignore[arg-type]
        return observation.ok, observation.output

    assert run(WriteFile("pkg/a.py", "a = 1\nb = 2\n"))[0]
    assert run(EditFile("pkg/a.py", (Edit("b = 2\n", "b = 3\n"),)))[0]
    assert (workspace.root / "pkg/a.py").read_text() == "a = 1\nb = 3\n"
    ok, output = run(ReadFile("pkg/a.py", 2, 2))
    assert ok and "b = 3" in output and "a = 1" not in output
    assert run(ListFiles("."))[1] == "pkg/a.py"
    ok, output = run(SearchFiles("b = ", ".", "*.py"))
    assert ok and "pkg/a.py:2" in output
    assert run(DeleteFile("pkg/a.py"))[0]
    assert not (workspace.root / "pkg/a.py").exists()
    ok, output = run(ReadFile("../outside.txt"))
    assert not ok and output


def test_command_output_carries_the_exit_code(workspace: Workspace) -> None:
    observation = execute(RunCommand("echo hi; exit 3"), workspace, LocalSandbox(), 10)
    assert not observation.ok
    assert observation.output == "exit code 3\nhi"
    assert execute(RunCommand("pwd"), workspace, LocalSandbox(), 10).output == (
        f"exit code 0\n{workspace.root}"
    )


def test_command_timeout_is_said(workspace: Workspace) -> None:
    observation = execute(RunCommand("echo start; sleep 5"), workspace, LocalSandbox(), 0.5)
    assert not observation.ok
    assert observation.output.startswith("timed out after 0.5s and was killed")
    assert "start" in observation.output


def test_command_is_cut_at_the_deadline_and_says_so(workspace: Workspace) -> None:
    half_a_second_left = Deadline(10.5, lambda: 10.0)
    action = RunCommand("echo start; sleep 5")
    observation = execute(action, workspace, LocalSandbox(), 300, half_a_second_left)
    assert not observation.ok
    assert observation.output.startswith(
        "stopped after 0.5s and killed: the run's time limit was reached"
    )
    assert "start" in observation.output


def test_no_action_starts_past_the_deadline(workspace: Workspace) -> None:
    passed = Deadline(0.0, lambda: 1.0)
    observation = execute(WriteFile("a.txt", "x\n"), workspace, LocalSandbox(), 10, passed)
    assert not observation.ok
    assert observation.output.startswith("Not run: the run's time limit was reached")
    assert not (workspace.root / "a.txt").exists()


def test_finish_is_not_executed(workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="loop handles it"):
        execute(Finish("done"), workspace, LocalSandbox(), 1)


def test_action_record_is_plain_data() -> None:
    record = action_record(EditFile("a.py", (Edit("x", "y"),)))
    assert record == {
        "type": "EditFile",
        "path": "a.py",
        "edits": ({"search": "x", "replace": "y"},),
    }
