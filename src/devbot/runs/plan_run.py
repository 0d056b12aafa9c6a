"""The plan run: a durable workflow from a plan to a pushed branch, a report and a PR.

Each model turn and each side effect is a recorded DBOS step, so a run resumed after a crash
replays what is recorded and continues from the first step that is not. Every step that
touches the outside world checks it first (commit only when the tree changed, push a known
sha, look the PR up before opening one), because a step may run again if the process dies
after doing it but before recording it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from dbos import DBOS

from devbot.agent import AgentResult, Task
from devbot.config import ConfigError, Settings
from devbot.plans.plan import Plan, parse_plan_text, report_filename_for
from devbot.plans.report import Status
from devbot.runs import progress
from devbot.runs import worktree as worktrees
from devbot.runs.agent_run import file_listing, make_verification, run_agent
from devbot.runs.change_guard import Refusal, check_change_set
from devbot.runs.report_builder import RunFacts, agent_figures, commit_report
from devbot.runs.state import forge_for, store_for
from devbot.runs.verify import Verification, testing_notes, tests_failure
from devbot.tools.inside import read_inside, write_inside
from devbot.vcs.git import Commit, Git, GitError

T = TypeVar("T")

WORKTREES_DIR = "worktrees"
_CLOSES = re.compile(r"(?:Closes|Fixes|Resolves) #\d+")


def _step(name: str, fn: Any) -> Any:
    return DBOS.run_step({"name": name}, fn)


def plan_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_request(
    run_id: str, repo: Path, plan_rel: str, plan_text: str, settings: Settings
) -> dict[str, Any]:
    """The workflow's only input: plain data, recorded by DBOS, replayed on recovery."""
    return {
        "run_id": run_id,
        "repo": str(repo),
        "plan_rel": plan_rel,
        "plan_text": plan_text,
        "settings": asdict(settings),
        "started_at": time.time(),
    }


MAX_RECOVERY_ATTEMPTS = 20


class WorkspaceLost(RuntimeError):
    """The run's worktree is gone although recorded steps already changed it."""


def failure_reason(exc: Exception) -> str:
    """What to tell the user when a run cannot go on; recorded-state mismatches say so."""
    from dbos._error import DBOSUnexpectedStepError

    if isinstance(exc, DBOSUnexpectedStepError):
        return (
            "this run's recorded steps do not fit this version of devbot "
            f"({exc}); start it again with `devbot runs retry`"
        )
    if isinstance(exc, WorkspaceLost):
        return str(exc)
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


@DBOS.workflow(name="devbot.plan_run", max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
def plan_run_workflow(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return PlanRun(request).execute()
    except Exception as exc:  # the run record must never stay "running" after a crash of ours
        settings = Settings(**request["settings"])
        message = failure_reason(exc)
        store_for(settings, Path(request["repo"])).update(
            request["run_id"], status="failed", message=message, finished_at=time.time()
        )
        progress.emit(request["run_id"], f"run failed: {message}")
        return {"status": "failed", "message": message, "head_sha": "", "pushed": False}


class PlanRun:
    """One plan run; methods named `_do_*` are the bodies of recorded steps."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.run_id: str = request["run_id"]
        self.repo = Path(request["repo"])
        self.plan_rel: str = request["plan_rel"]
        self.started_at: float = request["started_at"]
        self.settings = Settings(**request["settings"])
        self.plan: Plan = parse_plan_text(
            request["plan_text"], self.repo / self.plan_rel, self.settings.max_plan_bytes
        )
        self.store = store_for(self.settings, self.repo)
        self.git = Git.repository(self.repo)
        self.worktree = self.settings.state_dir(self.repo) / WORKTREES_DIR / self.run_id

    def say(self, line: str) -> None:
        progress.emit(self.run_id, line)

    def execute(self) -> dict[str, Any]:
        self.store.update(self.run_id, status="running")
        prepared: dict[str, Any] = _step("prepare_workspace", self._do_prepare)
        published = bool(self.store.get(self.run_id).head_sha)  # then the worktree was removed
        if not self.worktree.is_dir() and not published:
            raise WorkspaceLost(
                f"the run's worktree {self.worktree} is gone on this machine; every worker "
                "must see the repository at the same shared path"
            )
        self.say(f"branch {prepared['branch']} from {prepared['base_branch']} in {self.worktree}")

        verification = self._verification()
        result = self._run_agent(verification, prepared["context"])
        cancelled = str(result.exit_status) == "cancelled" or self._cancel_requested()
        submitted = str(result.exit_status) == "submitted"
        tests = verification.final(submitted, run_tests=not cancelled)
        status, reason = self._judge(result, tests)
        if cancelled:
            status, reason = "cancelled", "cancelled on request (devbot runs cancel)"

        work: Commit = _step("commit_work", lambda: self._do_commit_work(result))
        head_sha: str = _step(
            "commit_report",
            lambda: self._do_commit_report(prepared, result, tests, status, reason, work.dropped),
        )
        self.say(f"committed {head_sha[:10]} on {prepared['branch']}")
        refusal: Refusal = _step(
            "check_change_set",
            lambda: check_change_set(
                self.git.worktree(self.worktree), prepared["base_sha"], head_sha, self.settings
            ),
        )
        if refusal:
            message = f"{refusal.reason()}; the work is kept in {self.worktree}"
            self.store.update(
                self.run_id,
                status="failed",
                message=message,
                finished_at=_step("finished_at", time.time),
            )
            self.say(f"run failed: {message}")
            return {"status": "failed", "message": message, "head_sha": head_sha, "pushed": False}

        outcome: dict[str, Any] = _step(
            "push_and_open_pr", lambda: self._do_publish(prepared, head_sha, status, reason)
        )
        if outcome["pushed"]:
            _step("remove_worktree", self._do_remove_worktree)
        final_status = status if outcome["pushed"] else "failed"
        message = reason if outcome["pushed"] else outcome["error"]
        self.store.update(
            self.run_id,
            status=final_status,
            message=message,
            head_sha=head_sha,
            pr_url=outcome.get("pr_url", ""),
            finished_at=_step("finished_at", time.time),
        )
        self.say(f"run {final_status}: {message}")
        return {"status": final_status, "message": message, "head_sha": head_sha, **outcome}

    def _verification(self) -> Verification:
        return make_verification(
            self.settings, self.plan.test_command, self.worktree, _step, self.say
        )

    def _run_agent(self, verification: Verification, context: str) -> AgentResult:
        task = Task(title=self.plan.title, body=self.plan.body, context=context)
        return run_agent(
            self.settings,
            self.git.worktree(self.worktree),
            task,
            verification,
            store=self.store,
            run_id=self.run_id,
            say=self.say,
            started_at=self.started_at,
            record=_step,
            should_stop=self._cancel_requested,
        )

    def _cancel_requested(self) -> bool:
        """A recorded check, so a resumed run replays the same answer at the same point."""
        return bool(_step("cancel_check", lambda: self.store.cancel_requested(self.run_id)))

    def _judge(self, result: AgentResult, tests: dict[str, Any]) -> tuple[Status, str]:
        if str(result.exit_status) != "submitted":
            return "failed", f"{result.exit_status}: {result.message}"
        failure = tests_failure(tests)
        if failure is not None:
            return "failed", failure
        return "completed", result.message or "the agent finished the plan"

    def _do_prepare(self) -> dict[str, Any]:
        settings = self.settings
        worktrees.repair_interrupted(self.git, self.worktree)
        previous = self.store.previous_run_for_plan(str(self.repo), self.plan_rel, self.run_id)
        own_branch = self.store.get(self.run_id).branch  # chosen before a crash cut this short
        checkout = worktrees.check_out(
            self.git,
            self.worktree,
            remote=settings.remote,
            base_branch=self.plan.base_branch or settings.base_branch,
            new_branch=f"{settings.branch_prefix}{self.plan.slug}",
            existing_branch=own_branch or (previous.branch if previous else None),
            reserve=lambda branch: self.store.update(self.run_id, branch=branch),
        )
        if _text_inside(self.worktree, self.plan_rel) != self.plan.text:
            write_inside(self.worktree, self.plan_rel, self.plan.text)
        today = dt.date.today()
        if checkout.reused and previous is not None and previous.report_path:
            report_rel = previous.report_path
        else:
            report_rel = str(
                PurePosixPath(self.plan_rel).parent / report_filename_for(self.plan, today)
            )
        self.store.update(
            self.run_id,
            branch=checkout.branch,
            base_branch=checkout.base_branch,
            report_path=report_rel,
        )
        return {
            "branch": checkout.branch,
            "base_branch": checkout.base_branch,
            "base_sha": checkout.base_sha,
            "report_path": report_rel,
            "date": today.isoformat(),
            "context": file_listing(
                self.git.worktree(self.worktree)
            ),  # kept: the worktree is gone after the push
        }

    def _commit_message(self, result: AgentResult) -> str:
        summary = result.summary.strip() or result.message
        return (
            f"devbot: {self.plan.title}\n\n{summary}\n\n"
            f"Plan: {self.plan_rel}\nRun: {self.run_id} ({result.exit_status})\n"
        )

    def _do_commit_work(self, result: AgentResult) -> Commit:
        git = self.git.worktree(self.worktree)
        dropped = git.commit_all(self._commit_message(result)).dropped
        return Commit(git.head_sha(), dropped)

    def _do_commit_report(
        self,
        prepared: dict[str, Any],
        result: AgentResult,
        tests: dict[str, Any],
        status: Status,
        reason: str,
        dropped: tuple[str, ...],
    ) -> str:
        facts = RunFacts(
            title=self.plan.title,
            report_path=prepared["report_path"],
            plan_path=self.plan_rel,
            date=dt.date.fromisoformat(prepared["date"]),
            tags=self.plan.tags,
            status=status,
            summary=result.summary,
            exit_message=reason,
            model=self.settings.model,
            protocol=self.settings.protocol,
            sandbox=tests.get("sandbox", self.settings.sandbox),
            branch=prepared["branch"],
            base_branch=prepared["base_branch"],
            testing_notes=testing_notes(tests),
            dropped=dropped,
            **agent_figures(result),
        )
        message = f"devbot: report for {self.plan.slug} ({status})\n\nRun: {self.run_id}\n"
        return commit_report(self.git.worktree(self.worktree), facts, prepared["base_sha"], message)

    def _do_publish(
        self, prepared: dict[str, Any], head_sha: str, status: str, reason: str
    ) -> dict[str, Any]:
        branch = prepared["branch"]
        try:
            worktrees.push(self.git, self.settings.remote, head_sha, branch)
        except GitError as exc:
            return {
                "pushed": False,
                "error": f"push of {branch} failed; the work is kept in {self.worktree}: {exc}",
            }
        self.store.update(self.run_id, head_sha=head_sha)
        self.say(f"pushed {branch} to {self.settings.remote}")
        title = self.plan.title if status == "completed" else f"[{status}] {self.plan.title}"
        report_text = read_inside(self.worktree, prepared["report_path"])
        pr = forge_for(self.settings, self.repo).open_or_update_pull_request(
            title=title,
            body=_pr_body(report_text, reason) + _closing_refs(self.plan.body),
            head=branch,
            base=prepared["base_branch"],
        )
        self.say(f"pull request #{pr.number}: {pr.url}")
        return {"pushed": True, "pr_url": pr.url, "pr_number": pr.number, "error": ""}

    def _do_remove_worktree(self) -> None:
        worktrees.remove(self.git, self.worktree)


def _text_inside(worktree: Path, relative: str) -> str | None:
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
