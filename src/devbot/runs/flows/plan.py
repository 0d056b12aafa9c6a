"""The plan run: a plan becomes a pushed branch, a report and a pull request.

What it adds to the skeleton: its worktree is a new branch from the base (or the plan's
branch from an earlier run), the plan itself is committed on it, the report is the plan's,
and publishing opens or updates the one PR of the branch. `devbot runs cancel` stops it at
a step boundary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path, PurePosixPath

from devbot.agent import Task
from devbot.plans.plan import report_filename_for
from devbot.runs.flows.report import RunFacts
from devbot.runs.flows.skeleton import DurableRun, Outcome, Prepared, Published
from devbot.runs.requests import PlanRequest, RunResult
from devbot.runs.runtime import WORKTREES_DIR, Runtime
from devbot.tools.inside import read_inside, write_inside

_CLOSES = re.compile(r"(?:Closes|Fixes|Resolves) #\d+")


def plan_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PlanRun(DurableRun):
    kind = "plan"
    title = "run"
    publish_step = "push_and_open_pr"
    cancellable = True

    def __init__(self, runtime: Runtime, request: PlanRequest) -> None:
        super().__init__(runtime, request, WORKTREES_DIR)
        self.plan, self.plan_rel = request.plan, request.plan_rel

    def execute(self) -> RunResult:
        self.store.update(self.run_id, status="running")
        prepared = self.prepare("prepare_workspace", self._do_prepare)
        self.say(f"branch {prepared.branch} from {prepared.base_branch} in {self.worktree}")
        return self.end(prepared, self.work(prepared))

    def _do_prepare(self) -> Prepared:
        today = dt.date.today()
        folder = PurePosixPath(self.plan_rel).parent
        checkout, report_rel = self.check_out_branch(
            self.plan_rel,
            self.plan.slug,
            self.plan.base_branch,
            str(folder / report_filename_for(self.plan, today)),
        )
        if text_inside(self.worktree, self.plan_rel) != self.plan.text:
            write_inside(self.worktree, self.plan_rel, self.plan.text)
        # the task context is kept in the record: the worktree is gone after the push
        context = self.context_for(
            f"{self.plan.title}\n{self.plan.body}",
            self.plan.test_command,
            (self.plan_rel, report_rel),
        )
        return Prepared(
            branch=checkout.branch,
            base_branch=checkout.base_branch,
            base_sha=checkout.base_sha,
            start_sha=checkout.base_sha,
            report_path=report_rel,
            plan_path=self.plan_rel,
            date=today.isoformat(),
            task=Task(title=self.plan.title, body=self.plan.body, context=context.text),
            test_command=self.plan.test_command,
            context=context.summary(),
        )

    def commit_message(self, outcome: Outcome) -> str:
        summary = outcome.result.summary.strip() or outcome.result.message
        return (
            f"devbot: {self.plan.title}\n\n{summary}\n\n"
            f"Plan: {self.plan_rel}\nRun: {self.run_id} ({outcome.result.exit_status})\n"
        )

    def report_facts(
        self, prepared: Prepared, outcome: Outcome, dropped: tuple[str, ...]
    ) -> RunFacts:
        return self.facts(
            prepared,
            outcome,
            dropped,
            title=self.plan.title,
            date=dt.date.fromisoformat(prepared.date),
            tags=self.plan.tags,
            summary=outcome.result.summary,
        )

    def report_message(self, outcome: Outcome) -> str:
        return f"devbot: report for {self.plan.slug} ({outcome.status})\n\nRun: {self.run_id}\n"

    def publish(self, prepared: Prepared, outcome: Outcome, head: str) -> Published:
        refused = self.push(prepared.branch, head)
        if refused is not None:
            return refused
        title = self.plan.title
        if outcome.status != "completed":
            title = f"[{outcome.status}] {title}"
        report_text = read_inside(self.worktree, prepared.report_path)
        pr = self.runtime.forge(self.settings, self.repository).open_or_update_pull_request(
            title=title,
            body=_pr_body(report_text, outcome.reason) + _closing_refs(self.plan.body),
            head=prepared.branch,
            base=prepared.base_branch,
        )
        self.say(f"pull request #{pr.number}: {pr.url}")
        return Published(True, pr_url=pr.url)


def text_inside(worktree: Path, relative: str) -> str | None:
    """The file's text, or None when there is no regular file inside the worktree there."""
    try:
        return read_inside(worktree, relative)
    except (OSError, ValueError):
        return None


def _closing_refs(plan_body: str) -> str:
    """`Closes #N` lines of the plan (issue plans from webhooks), so the PR closes the issue."""
    refs = [line.strip() for line in plan_body.splitlines() if _CLOSES.fullmatch(line.strip())]
    return "".join(f"{ref}\n" for ref in refs)


def _pr_body(report_text: str, reason: str) -> str:
    summary = report_text.split("# Summary", 1)[-1].split("\n# ", 1)[0].strip()
    return f"{summary}\n\n---\nOpened by devbot. {reason}\n"
