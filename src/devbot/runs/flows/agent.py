"""The agent part of a durable run, shared by plan runs and feedback runs.

Builds the sandbox, its prepared environment and the verification loop (tests after the
agent finishes), runs the agent with every turn recorded as a step, stores its trajectory
and usage on the run record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from devbot.agent import Agent, AgentResult, Task
from devbot.agent.context import ContextRequest, RepositoryContext, SymbolCache, build_context
from devbot.agent.limits import Limits
from devbot.agent.protocols import get_protocol, protocol_for
from devbot.config import Settings
from devbot.outward import outward
from devbot.runs.flows.report import usage_of
from devbot.runs.flows.verify import (
    SandboxChoice,
    StepRecorder,
    Verification,
    choose_sandbox,
    sandbox_for,
)
from devbot.runs.runtime import Runtime
from devbot.sandbox.environment import EnvironmentCache
from devbot.templating import render
from devbot.tools.files import Workspace
from devbot.vcs.git import Git

CONTEXT_CACHE_DIR = "context-cache"
"""Under the state directory: the repository map's symbols, per commit."""


def workspace_for(tree: Git, read_only: Mapping[str, str] | None = None) -> Workspace:
    """The agent's file tools over the worktree `tree` works on, listing what git shows."""
    return Workspace(tree.toplevel(), listing=tree.listed_files, read_only=read_only)


def kept_from_the_agent(plan_path: str, report_path: str) -> dict[str, str]:
    """The run's own documents, which the agent reads but never changes, with the reason."""
    documents = {plan_path: "read_only_plan.txt", report_path: "read_only_report.txt"}
    return {
        path: render("devbot.runs", template, path=path).strip()
        for path, template in documents.items()
        if path
    }


def repository_context(
    tree: Git,
    settings: Settings,
    task_text: str,
    tests: tuple[str, str] | None,
    own_documents: Collection[str],
    cache_dir: Path,
) -> RepositoryContext:
    """What the agent is told about the repository at the worktree's HEAD (the run's plan
    and report left out: the task already says them), within `context_tokens`."""
    files = tuple(path for path in tree.listed_files() if path not in own_documents)
    request = ContextRequest(
        root=tree.toplevel(),
        commit=tree.head_sha(),
        files=files,
        task_text=task_text,
        tests=tests,
        instruction_names=settings.instruction_files,
        budget_tokens=settings.context_tokens,
    )
    return build_context(request, SymbolCache(cache_dir))


_VERBS = {
    "ReadFile": "read",
    "WriteFile": "write",
    "EditFile": "edit",
    "DeleteFile": "delete",
    "ListFiles": "list",
    "SearchFiles": "search",
    "RunCommand": "run",
}


def describe_event(event: dict[str, Any]) -> str:
    """One progress line for a trajectory event: an action names what it acted on (a file,
    a command) and how it went; a model turn shows its first line. Gated before it is cut,
    so no part of a secret is left for the gate to miss."""
    kind, step = event.get("kind", "?"), event.get("step", "")
    action = event.get("action")
    if kind == "action" and isinstance(action, dict):
        verb = _VERBS.get(str(action.get("type")), str(action.get("type", "act")).lower())
        target = action.get("command") or action.get("pattern") or action.get("path") or ""
        where = f" in {action['path']}" if action.get("pattern") and action.get("path") else ""
        shown = outward(f"{target}{where}").replace("\n", " ")[:100]
        verdict = "ok" if event.get("ok") else "failed"
        return f"step {step} {verb} {shown}: {verdict}"
    content = outward(str(event.get("content", ""))).strip().splitlines()
    first = content[0][:100] if content else ""
    return f"step {step} {kind}: {first}".rstrip(": ")


def make_verification(
    settings: Settings,
    test_command: str | None,
    worktree: Path,
    tree: Git,
    environments: EnvironmentCache,
    record: StepRecorder,
    say: Callable[[str], None],
    *,
    restored: bool = False,
) -> Verification:
    """The sandbox (backend and environment recipe chosen once, recorded), the static
    check of changed code and the run's tests; runs setup (again, unrecorded, when the
    worktree was `restored` on this machine after setup had run elsewhere). `tree` is the
    worktree's git."""
    choice: SandboxChoice = record(
        "choose_sandbox", lambda: choose_sandbox(settings, worktree, test_command)
    )
    say(f"sandbox: {choice.backend}")
    sandbox = sandbox_for(settings, choice.backend)
    verification = Verification(settings, test_command, worktree, sandbox, record, say, tree=tree)
    verification.run_setup(choice.recipe, environments, restored=restored)
    return verification


def run_agent(
    runtime: Runtime,
    settings: Settings,
    tree: Git,
    task: Task,
    verification: Verification,
    *,
    read_only: Mapping[str, str],
    run_id: str,
    say: Callable[[str], None],
    started_at: float,
    record: StepRecorder,
    should_stop: Callable[[], bool] | None = None,
    review_finish: Callable[[], str | None] | None = None,
    next_task: Callable[[str], str | None] | None = None,
) -> AgentResult:
    """Run the agent on `task` in the worktree `tree`; usage and the trajectory (gated)
    go to the run record. A finish is reviewed by `review_finish` (default: the
    verification's static check and tests); `next_task` may follow it with another task.

    The clock the limits read is a recorded step too: a run resumed long after its start
    replays the same decisions up to its last step, and only then meets its time limit."""
    seq = iter(range(1_000_000))
    store = runtime.store

    def on_event(event: dict[str, Any]) -> None:
        store.add_event(run_id, next(seq), event)
        say(describe_event(event))

    agent = Agent(
        runtime.model(settings),
        get_protocol(protocol_for(settings.model, settings.protocol)),
        workspace_for(tree, read_only),
        verification.sandbox,
        limits_of(settings),
        command_timeout_s=settings.command_timeout_s,
        record=record,
        on_event=on_event,
        should_stop=should_stop,
        clock=lambda: float(record("clock", time.time)),
        review_finish=review_finish or verification.review_finish,
        next_task=next_task,
    )
    result = agent.run(task, started_at=started_at)
    store.update(run_id, exit_status=str(result.exit_status), **usage_of(result))
    return result


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_steps=settings.max_steps,
        max_usd=settings.max_usd,
        max_wall_s=settings.max_wall_s,
        max_format_errors=settings.max_format_errors,
        max_repeated_turns=settings.max_repeated_turns,
    )
