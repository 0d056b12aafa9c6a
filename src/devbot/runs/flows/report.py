"""Build a run's REPORT from facts: git's diff for the files, the agent's result for the rest.

File lists and counts never come from the model's claims; the model only contributes its
summary text (and the bullets in it) as prose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devbot.agent import AgentResult
from devbot.outward import outward
from devbot.plans.report import FileChange, Report, Status, render_report
from devbot.tools.inside import write_inside
from devbot.vcs.git import Change, Git


@dataclass(frozen=True)
class RunFacts:
    """Everything the report states, gathered by the run."""

    title: str
    report_path: str
    plan_path: str
    date: dt.date
    tags: tuple[str, ...]
    status: Status
    summary: str
    exit_status: str
    exit_message: str
    model: str
    protocol: str
    sandbox: str
    steps: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    branch: str
    base_branch: str
    testing_notes: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    """Nested repositories and `.git`-named entries left out of the commit."""
    context: str = ""
    """What the agent was told about the repository, in one line."""
    own_documents: tuple[str, ...] = ()
    """More documents of the run (a Spec Kit feature's), left out of Files Changed."""


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def describe_change(change: Change) -> str:
    """One line from git's numstat: what kind of change, how many lines."""
    if change.binary:
        return {"A": "new binary file", "D": "deleted binary file"}.get(
            change.status, "binary file changed"
        )
    if change.status == "A":
        origin = f", moved from `{change.old_path}`" if change.old_path else ""
        return f"new file, {_lines(change.added_lines)}{origin}"
    if change.status == "D":
        return f"deleted ({_lines(change.deleted_lines)})"
    return f"+{change.added_lines} / -{change.deleted_lines} lines"


def _bullets(text: str) -> list[str]:
    return [
        line.strip()[2:].strip()
        for line in text.splitlines()
        if line.strip().startswith(("- ", "* "))
    ]


def _prose(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.strip().startswith(("- ", "* "))]
    return "\n".join(lines).strip()


def build_report(facts: RunFacts, changes: Sequence[Change]) -> Report:
    by_status: dict[str, list[FileChange]] = {"A": [], "M": [], "D": []}
    for change in changes:
        by_status[change.status].append(FileChange(change.path, describe_change(change)))

    summary = _prose(facts.summary) or facts.summary.strip()
    if facts.status != "completed":
        summary = f"Run {facts.status}: {facts.exit_message}\n\n{summary}".strip()
    key_changes = _bullets(facts.summary) or (
        [f"{len(changes)} file(s) changed, see Files Changed."] if changes else []
    )
    return Report(
        filename=facts.report_path,
        title=f"Report: {facts.title}",
        date=facts.date,
        plan_file=facts.plan_path,
        status=facts.status,
        created=by_status["A"],
        modified=by_status["M"],
        deleted=by_status["D"],
        tags=facts.tags,
        summary=summary,
        key_changes=key_changes,
        technical_decisions=_decisions(facts),
        testing_notes=list(facts.testing_notes),
        next_steps=_next_steps(facts),
    )


def _decisions(facts: RunFacts) -> list[str]:
    usage = (
        f"{facts.steps} agent steps, {facts.model_calls} model calls, "
        f"{facts.prompt_tokens:,} prompt + {facts.completion_tokens:,} completion tokens, "
        f"${facts.cost_usd:.4f}"
    )
    decisions = [
        f"Implemented by devbot with model `{facts.model}` over the `{facts.protocol}` action "
        f"protocol; commands ran in the `{facts.sandbox}` sandbox.",
        f"Run ended with exit status `{facts.exit_status}`: {facts.exit_message}",
        f"Cost: {usage}.",
    ]
    if facts.context:
        decisions.append(f"Repository context given to the agent: {facts.context}.")
    if facts.dropped:
        listed = ", ".join(f"`{path}`" for path in facts.dropped)
        decisions.append(
            f"Left out of the commit: {listed} (a nested git repository or a `.git` entry "
            "is never committed)."
        )
    return decisions


def _next_steps(facts: RunFacts) -> list[str]:
    if facts.status == "completed":
        return [
            f"Review the changes: `git diff {facts.base_branch}...{facts.branch}`.",
            "Comment on the pull request for changes; merge when satisfied.",
        ]
    return [
        f"The branch `{facts.branch}` holds the partial work; review it before retrying.",
        f"Address the reason the run ended ({facts.exit_status}) and run the plan again.",
    ]


def usage_of(result: AgentResult) -> dict[str, Any]:
    """What the agent used, as the run record and RunFacts name it."""
    return {
        "steps": result.steps,
        "model_calls": result.model_calls,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost_usd": result.cost_usd,
    }


def agent_figures(result: AgentResult) -> dict[str, Any]:
    """The RunFacts fields that come from the agent's result."""
    return {"exit_status": str(result.exit_status), **usage_of(result)}


def commit_report(git: Git, facts: RunFacts, base_sha: str, message: str) -> str:
    """Write the report on what changed since `base_sha` (the plan and the report themselves
    left out), secrets redacted, and commit it in the worktree `git` works on; the new head."""
    worktree = git.toplevel()
    own = {facts.plan_path, facts.report_path, *facts.own_documents}
    changes = [c for c in git.changes_between(base_sha, "HEAD") if c.path not in own]
    write_inside(worktree, facts.report_path, outward(render_report(build_report(facts, changes))))
    git.commit_all(message)
    return git.head_sha()
