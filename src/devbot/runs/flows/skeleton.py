"""The one skeleton of every durable run: prepare, work, end.

    prepare    (the kind of run)  a worktree on the right branch, the task for the agent
    work       (shared)           sandbox and setup, the agent, the tests, one verdict
    end        (shared)           commit the work -> report -> check the change set -> push
                                  (and for plan runs the PR) -> after-push -> remove the
                                  worktree -> conclude (tell the forge, the run record)

A run kind fills in what differs: how it prepares, what its commit message and report say,
how it publishes and what it tells the forge at the end. Each side effect is a recorded DBOS
step that checks the world before it acts, so a step that runs again after a crash does no
harm; a run resumed after a crash replays recorded steps and goes on from the first one
that is not.

A run names its repository by the remote; its worktree comes from the process's own copy
(`Runtime.local_repository`: the served checkout, or a mirror). Every step that may change
the worktree keeps it in the run database before it is recorded (`checkpoint.py`), so a run
taken over by a worker on another machine gets its worktree back exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from dbos import DBOS

from devbot.agent import AgentResult, Task
from devbot.agent.context import RepositoryContext
from devbot.agent.limits import ExitStatus
from devbot.agent.protocols import protocol_for
from devbot.config import ConfigError
from devbot.plans.report import Status
from devbot.runs.flows import worktree as worktrees
from devbot.runs.flows.agent import (
    CONTEXT_CACHE_DIR,
    kept_from_the_agent,
    make_verification,
    repository_context,
    run_agent,
)
from devbot.runs.flows.change_guard import Refusal, check_change_set
from devbot.runs.flows.checkpoint import WorkspaceKeeper, WorkspaceLost, restore, restoring
from devbot.runs.flows.report import RunFacts, agent_figures, commit_report
from devbot.runs.flows.verify import (
    TestSummary,
    Verification,
    resolve_test_command,
    testing_notes,
    tests_failure,
)
from devbot.runs.requests import RunRequest, RunResult
from devbot.runs.runtime import Runtime
from devbot.sandbox.environment import ENVIRONMENTS_DIR, EnvironmentCache
from devbot.templating import render
from devbot.vcs.git import Commit, GitError

T = TypeVar("T")
WORKSPACE_STEPS = frozenset(
    {"setup", "action", "verify", "commit_task", "commit_work", "commit_report"}
)
"""Steps that may change the worktree: each keeps it (a checkpoint) before it is recorded."""


def step(name: str, fn: Callable[[], T]) -> T:
    """One recorded step: DBOS runs `fn` once and a replay returns what it recorded."""
    return DBOS.run_step({"name": name}, fn)


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


@dataclass(frozen=True)
class Prepared:
    """The worktree a run works in (recorded by its prepare step) and the agent's task."""

    branch: str
    base_branch: str
    base_sha: str
    """The report counts the changes since here."""
    start_sha: str
    """The change-set guard checks the commits since here."""
    report_path: str
    plan_path: str
    date: str
    task: Task
    test_command: str | None
    context: str = ""
    """What the agent was told about the repository, in one line (for the report)."""


@dataclass(frozen=True)
class Outcome:
    """What the agent did and the one verdict on it."""

    result: AgentResult
    tests: TestSummary
    status: Status
    reason: str


@dataclass(frozen=True)
class Ending:
    """How a run ends, as it is told: `head` only when it was pushed."""

    status: Status
    reason: str
    outcome: Outcome | None
    head: str
    finished_at: float


@dataclass(frozen=True)
class Published:
    """The push (and, for plan runs, the pull request)."""

    pushed: bool
    error: str = ""
    pr_url: str = ""


def judge(result: AgentResult, tests: TestSummary, cancelled: bool) -> tuple[Status, str]:
    """The run's status and why, from the agent's exit and the last test run."""
    if cancelled:
        return "cancelled", "cancelled on request (devbot runs cancel)"
    if result.exit_status != ExitStatus.SUBMITTED:
        return "failed", f"{result.exit_status}: {result.message}"
    failure = tests_failure(tests)
    if failure is not None:
        return "failed", failure
    return "completed", result.message


class DurableRun(ABC):
    """One run; subclasses fill in the parts marked abstract. `_do_*` methods are bodies of
    recorded steps."""

    kind: str
    title: str
    """How its progress lines name it ("run", "feedback run")."""
    publish_step: str
    cancellable: bool = False

    def __init__(self, runtime: Runtime, request: RunRequest, worktrees_dir: str) -> None:
        """`worktrees_dir`: the folder of the process's state where the worktree goes."""
        self.runtime, self.run_id = runtime, request.run_id
        self.repository, self.settings = request.repository, request.settings
        self.started_at = request.started_at
        self.store = runtime.store
        self.local = runtime.local_repository(self.repository, self.settings)
        self.git, self.remote = self.local.git, self.local.remote
        self.worktree = runtime.state_dir / worktrees_dir / self.run_id
        self.tree = self.git.worktree(self.worktree)
        self.keeper: WorkspaceKeeper | None = None
        self.restored = False
        """The worktree was rebuilt from its checkpoint in this process (a takeover)."""

    def say(self, line: str) -> None:
        self.runtime.progress.emit(self.run_id, line)

    def step(self, name: str, fn: Callable[[], T]) -> T:
        """A recorded step; when the process is stopping, the run parks before it. A step
        that may change the worktree keeps it before the step is recorded."""
        self.runtime.checkpoint(self.run_id)
        keeper = self.keeper
        if keeper is not None and name in WORKSPACE_STEPS:
            return step(name, lambda: keeper.after(fn()))
        return step(name, fn)

    def prepare(self, name: str, fn: Callable[[], Prepared]) -> Prepared:
        """The kind's prepare step (`fn` makes the worktree); the worktree is kept at its
        end, and put back from its last checkpoint when this machine lacks it."""

        def prepare_and_keep() -> Prepared:
            prepared = fn()
            self._keeper(prepared).keep()
            return prepared

        prepared: Prepared = self.step(name, prepare_and_keep)
        self.keeper = self._keeper(prepared)
        self._ensure_workspace()
        return prepared

    def check_out_branch(
        self, plan_path: str, slug: str, base_branch: str | None, new_report: str
    ) -> tuple[worktrees.Checkout, str]:
        """The worktree on the run's branch (for the prepare step of plan and spec runs): the
        branch it reserved before a crash cut this short, else that of the newest earlier
        run of `plan_path` (continued, with its PR and its report), else a new
        `branch_prefix + slug` from the base; and the report's path (`new_report` unless
        an earlier run's is continued), both kept in the run record."""
        previous = self.store.previous_run_for_plan(self.repository.key, plan_path, self.run_id)
        own_branch = self.store.get(self.run_id).branch
        with self.local.synced() as git:
            worktrees.repair_interrupted(git, self.worktree)
            checkout = worktrees.check_out(
                git,
                self.worktree,
                remote=self.remote,
                base_branch=base_branch or self.settings.base_branch,
                new_branch=f"{self.settings.branch_prefix}{slug}",
                existing_branch=own_branch or (previous.branch if previous else None),
                reserve=lambda branch: self.store.update(self.run_id, branch=branch),
            )
        report = new_report
        if checkout.reused:
            self.say(f"continuing branch {checkout.branch} (and its PR) from an earlier run")
            if previous is not None and previous.report_path:
                report = previous.report_path
        self.store.update(
            self.run_id,
            branch=checkout.branch,
            base_branch=checkout.base_branch,
            report_path=report,
        )
        return checkout, report

    def _keeper(self, prepared: Prepared) -> WorkspaceKeeper:
        return WorkspaceKeeper(self.runtime.checkpoints, self.run_id, self.tree, prepared.start_sha)

    def _ensure_workspace(self) -> None:
        """A worktree this machine lacks (another worker began the run) is rebuilt from the
        run's checkpoint, also after the push (publishing may not be recorded yet); once the
        run has ended there is none to rebuild, nor any need."""
        if self.worktree.is_dir() and not restoring(self.worktree):
            return
        checkpoint = self.runtime.checkpoints.get(self.run_id)
        if checkpoint is None:
            if self.store.get(self.run_id).head_sha:
                return  # the run ended (its checkpoint goes last): a replay needs no worktree
            raise WorkspaceLost(
                f"the run's worktree {self.worktree} is gone and no checkpoint of it was kept; "
                "`devbot runs retry` starts the run anew"
            )
        restore(self.local, self.worktree, checkpoint)
        self.restored = True
        self.say(
            f"worktree restored from its checkpoint at {checkpoint.head[:10]} in {self.worktree}"
        )

    def run(self) -> RunResult:
        """`execute`, and whatever goes wrong in it still ends the run with its reason."""
        with self.runtime.running(self.run_id):
            try:
                return self.execute()
            except Exception as exc:  # the run record must never stay "running" after a crash
                self.runtime.checkpoint(self.run_id)  # unless the process is stopping: park
                return self.fail(failure_reason(exc))

    @abstractmethod
    def execute(self) -> RunResult: ...

    def context_for(
        self, task_text: str, test_command: str | None, own_documents: Collection[str]
    ) -> RepositoryContext:
        """What the agent is told about the repository; called in the prepare step, whose
        record keeps it once the worktree is gone."""
        context = repository_context(
            self.tree,
            self.settings,
            task_text,
            resolve_test_command(test_command, self.settings, self.worktree),
            own_documents,
            self.runtime.state_dir / CONTEXT_CACHE_DIR,
        )
        self.say(f"repository context: {context.summary()}")
        return context

    # -- work: the same for every kind of run ----------------------------------------------

    def work(self, prepared: Prepared) -> Outcome:
        verification = make_verification(
            self.settings,
            prepared.test_command,
            self.worktree,
            self.tree,
            EnvironmentCache(self.runtime.state_dir / ENVIRONMENTS_DIR),
            self.step,
            self.say,
            restored=self.restored,
        )
        result = run_agent(
            self.runtime,
            self.settings,
            self.tree,
            prepared.task,
            verification,
            read_only=self.read_only(prepared),
            run_id=self.run_id,
            say=self.say,
            started_at=self.started_at,
            record=self.step,
            should_stop=self.cancel_requested if self.cancellable else None,
            review_finish=self.finish_review(verification),
            next_task=self.next_task_hook(),
        )
        cancelled = self.cancellable and (
            result.exit_status == ExitStatus.CANCELLED or self.cancel_requested()
        )
        tests = verification.final(
            result.exit_status == ExitStatus.SUBMITTED, run_tests=not cancelled
        )
        status, reason = self.verdict(result, tests, cancelled)
        return Outcome(result, tests, status, reason)

    def read_only(self, prepared: Prepared) -> dict[str, str]:
        """What the agent may read but not change, each with the reason it is told."""
        return kept_from_the_agent(prepared.plan_path, prepared.report_path)

    def finish_review(self, verification: Verification) -> Callable[[], str | None]:
        """What reviews the agent's finish (the static check, then the tests)."""
        return verification.review_finish

    def next_task_hook(self) -> Callable[[str], str | None] | None:
        """What may follow an accepted finish with another task (see `Agent.next_task`)."""
        return None

    def verdict(
        self, result: AgentResult, tests: TestSummary, cancelled: bool
    ) -> tuple[Status, str]:
        return judge(result, tests, cancelled)

    def cancel_requested(self) -> bool:
        """A recorded check, so a resumed run replays the same answer at the same point."""
        return self.step("cancel_check", lambda: self.store.cancel_requested(self.run_id))

    # -- end: the same ending for every kind of run --------------------------------------

    def end(self, prepared: Prepared, outcome: Outcome) -> RunResult:
        if outcome.result.exit_status == ExitStatus.MODEL_ERROR and outcome.result.steps == 0:
            self.step("remove_worktree", self._do_remove_worktree)
            return self.conclude("failed", self._model_unusable(outcome), outcome)
        work: Commit = self.step("commit_work", lambda: self._do_commit_work(outcome))
        head: str = self.step(
            "commit_report", lambda: self._do_commit_report(prepared, outcome, work)
        )
        self.say(f"committed {head[:10]} on {prepared.branch}")
        refusal: Refusal = self.step(
            "check_change_set",
            lambda: check_change_set(self.tree, prepared.start_sha, head, self.settings),
        )
        if refusal:
            kept = f"{refusal.reason()}; the work is kept in {self.worktree}"
            return self.conclude("failed", kept, outcome)
        published: Published = self.step(
            self.publish_step, lambda: self.publish(prepared, outcome, head)
        )
        if not published.pushed:
            return self.conclude("failed", published.error, outcome)
        self.after_publish(prepared, outcome, work.sha or head, head)
        self.step("remove_worktree", self._do_remove_worktree)
        return self.conclude(outcome.status, outcome.reason, outcome, head, published.pr_url)

    def _do_remove_worktree(self) -> None:
        with self.local.locked() as git:
            worktrees.remove(git, self.worktree)

    def _model_unusable(self, outcome: Outcome) -> str:
        """Why a run whose model never answered ends with nothing to push, and what to fix."""
        provider = self.settings.model.partition("/")[0]
        keys = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
        key_hint = f", the key in `{keys[provider]}`" if provider in keys else ""
        base = self.settings.api_base
        base_hint = f" and that `api_base` ({base}) answers" if base else ""
        return render(
            "devbot.runs",
            "model_unusable.txt",
            model=self.settings.model,
            message=outcome.result.message,
            key_hint=key_hint,
            base_hint=base_hint,
            run_id=self.run_id,
        ).strip()

    def _do_commit_work(self, outcome: Outcome) -> Commit:
        dropped = self.tree.commit_all(self.commit_message(outcome)).dropped
        return Commit(self.tree.head_sha(), dropped)

    def _do_commit_report(self, prepared: Prepared, outcome: Outcome, work: Commit) -> str:
        facts = self.report_facts(prepared, outcome, work.dropped)
        if facts is None:
            return self.tree.head_sha()
        message = self.report_message(outcome)
        return commit_report(self.tree, facts, prepared.base_sha, message)

    def push(self, branch: str, sha: str) -> Published | None:
        """Push `sha` to `branch` (never forced); a Published failure when the remote refuses."""
        try:
            with self.local.locked() as git:
                worktrees.push(git, self.remote, sha, branch)
        except GitError as exc:
            return Published(
                False,
                f"push of {branch} failed (never forced); the work is kept in "
                f"{self.worktree}: {exc}",
            )
        self.store.update(self.run_id, head_sha=sha)  # a replay then knows it was published
        self.say(f"pushed {sha[:10]} to {self.remote}/{branch}")
        return None

    def conclude(
        self,
        status: Status,
        reason: str,
        outcome: Outcome | None = None,
        head: str = "",
        pr_url: str = "",
    ) -> RunResult:
        """The end of every run: when it finished, what the forge is told, the run record.
        `head` is given only when it was pushed."""
        finished_at: float = self.step("finished_at", time.time)
        self.tell(Ending(status, reason, outcome, head, finished_at))
        values: dict[str, Any] = {"status": status, "message": reason, "finished_at": finished_at}
        if head:
            values["head_sha"] = head
        if pr_url:  # a run that pushed to an existing PR keeps the PR its record names
            values["pr_url"] = pr_url
        self.store.update(self.run_id, **values)
        self.runtime.checkpoints.delete(self.run_id)
        self.say(f"{self.title} {status}: {reason}")
        return RunResult(status, reason, head, bool(head), pr_url)

    def fail(self, reason: str) -> RunResult:
        """Last resort after a crash of ours: still end the run and tell, never raise."""
        try:
            return self.conclude("failed", reason)
        except Exception as exc:  # the forge or the recorded steps may be what failed
            self.store.update(self.run_id, status="failed", message=reason, finished_at=time.time())
            self.runtime.checkpoints.delete(self.run_id)
            self.say(f"{self.title} failed: {reason} (not told: {exc})")
            return RunResult("failed", reason)

    def facts(
        self,
        prepared: Prepared,
        outcome: Outcome,
        dropped: tuple[str, ...],
        *,
        title: str,
        date: dt.date,
        tags: tuple[str, ...],
        summary: str,
    ) -> RunFacts:
        """The report's facts: what a kind of run says (title, summary), the rest measured."""
        return RunFacts(
            title=title,
            report_path=prepared.report_path,
            plan_path=prepared.plan_path,
            date=date,
            tags=tags,
            status=outcome.status,
            summary=summary,
            exit_message=outcome.reason,
            model=self.settings.model,
            protocol=protocol_for(self.settings.model, self.settings.protocol),
            sandbox=outcome.tests.sandbox,
            branch=prepared.branch,
            base_branch=prepared.base_branch,
            testing_notes=testing_notes(outcome.tests),
            dropped=dropped,
            context=prepared.context,
            **agent_figures(outcome.result),
        )

    # -- what a kind of run fills in -----------------------------------------------------

    @abstractmethod
    def commit_message(self, outcome: Outcome) -> str: ...

    @abstractmethod
    def report_facts(
        self, prepared: Prepared, outcome: Outcome, dropped: tuple[str, ...]
    ) -> RunFacts | None:
        """The facts of the report to commit, or None when the run keeps no report."""

    @abstractmethod
    def report_message(self, outcome: Outcome) -> str: ...

    @abstractmethod
    def publish(self, prepared: Prepared, outcome: Outcome, head: str) -> Published: ...

    def after_publish(  # noqa: B027 - most kinds of run do nothing after the push
        self, prepared: Prepared, outcome: Outcome, work: str, head: str
    ) -> None:
        """What follows a successful push (replies in threads, for a feedback run)."""

    def tell(self, ending: Ending) -> None:  # noqa: B027 - plan runs tell nothing more
        """What the forge is told at the end (a status comment, for a feedback run)."""
