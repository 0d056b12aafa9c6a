"""The spec run: a Spec Kit feature folder becomes a pushed branch with its tasks ticked,
a report and a pull request showing the task list.

What it adds to the skeleton: its worktree is a new branch from the base (or the feature's
branch from an earlier run, whose ticks it keeps), the feature's documents are committed
on it, and the agent works through `tasks.md` one task at a time in one conversation: when
the agent finishes a task, devbot (not the model) ticks its checkbox and commits the task's
work (the recorded step `commit_task`), then hands it the next task. Each turn and action
is still a recorded step, and the run's limits bound all tasks together.

The rule that ends a run early (Spec Kit's `/speckit.implement`: halt when a sequential
task fails, go on with the other parallel ones): a task the agent gives up on (a finish
starting `NOT DONE:`) or that a limit cut short stays unticked; when it is marked `[P]`,
the other `[P]` tasks next to it in its phase are still worked on; then, or at once for
any other task, the run stops and the tasks after it are not attempted.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from devbot.agent import AgentResult, Task
from devbot.plans.plan import PlanError, read_plan_text
from devbot.plans.report import Status
from devbot.plans.speckit import (
    CONSTITUTION,
    CONTRACTS,
    DOCUMENTS,
    MAX_CONTRACT_FILES,
    Feature,
    SpecTask,
    documents_context,
    feature_folder,
    merge_ticks,
    parse_feature,
    parse_tasks,
    progress_markdown,
    tick,
)
from devbot.runs.flows import worktree as worktrees
from devbot.runs.flows.plan import text_inside
from devbot.runs.flows.report import RunFacts
from devbot.runs.flows.skeleton import DurableRun, Outcome, Prepared, Published, judge
from devbot.runs.flows.verify import TestSummary, Verification
from devbot.runs.requests import RunResult, SpecRequest
from devbot.runs.runtime import WORKTREES_DIR, Runtime
from devbot.templating import render
from devbot.tools.inside import inside_path, read_inside, write_inside
from devbot.tools.jail import PathOutsideWorkspace

GAVE_UP = "NOT DONE"
"""How the agent's finish says it could not do a task."""
SUBJECT_CHARS = 72

TaskState = Literal["done", "done before", "not done", "not attempted"]


def read_feature(repo: Path, folder: str, max_bytes: int) -> Feature:
    """Read and validate the feature folder `folder` (relative to the checkout `repo`):
    its documents, `contracts/` (text files only; others are named as left out) and the
    constitution. Never through a link out of the repository; each file at most
    `max_bytes` (`max_plan_bytes`). PlanError says what is wrong where, also when every
    task is ticked already (nothing to run)."""
    folder = feature_folder(folder)
    try:
        real = inside_path(repo, folder)
    except PathOutsideWorkspace as exc:
        raise PlanError(f"{folder}/", f"not a folder inside the repository: {exc}") from None
    if not real.is_dir():
        raise PlanError(f"{folder}/", "no such feature folder")
    documents: dict[str, str] = {}
    skipped: list[str] = []
    names = [f"{folder}/{name}" for name in DOCUMENTS] + [CONSTITUTION]
    for path in names + _contract_files(repo, folder):
        try:
            found = inside_path(repo, path)
        except PathOutsideWorkspace:
            skipped.append(f"{path} (a link out of the repository)")
            continue
        if not found.is_file():
            continue
        try:
            documents[path] = read_plan_text(found, max_bytes, path)
        except PlanError as exc:
            if path.startswith(f"{folder}/{CONTRACTS}/"):
                skipped.append(f"{path} ({exc.reason})")
                continue
            raise
    feature = parse_feature(folder, documents, skipped)
    if all(task.done for task in feature.tasks):
        raise PlanError(feature.tasks_path, "every task is ticked ([X]): nothing to do")
    return feature


def _contract_files(repo: Path, folder: str) -> list[str]:
    """The files under the feature's `contracts/` (sorted, at most MAX_CONTRACT_FILES)."""
    try:
        contracts = inside_path(repo, f"{folder}/{CONTRACTS}")
    except PathOutsideWorkspace:
        return []
    if not contracts.is_dir():
        return []
    found = sorted(
        Path(top, name).relative_to(repo).as_posix()
        for top, _dirs, files in os.walk(contracts)
        for name in files
    )
    if len(found) > MAX_CONTRACT_FILES:
        raise PlanError(
            f"{folder}/{CONTRACTS}/",
            f"{len(found)} files; at most {MAX_CONTRACT_FILES} contracts are read",
        )
    return found


@dataclass(frozen=True)
class TaskOutcome:
    task: SpecTask
    state: TaskState
    note: str = ""


class TaskQueue:
    """The tasks the run works on, in file order, and the rule that stops it early."""

    def __init__(self, tasks: Sequence[SpecTask]) -> None:
        self.tasks = tuple(tasks)
        self.pending = [task for task in self.tasks if not task.done]
        self.index = 0
        self.stopped = False
        self.failed_group: int | None = None
        self.settled: dict[str, TaskOutcome] = {}

    @property
    def current(self) -> SpecTask | None:
        if self.stopped or self.index >= len(self.pending):
            return None
        return self.pending[self.index]

    def is_last(self) -> bool:
        return self.index >= len(self.pending) - 1

    def settle(self, done: bool, note: str) -> None:
        """The current task ends (done, or not: why); the queue moves on or stops."""
        task = self.current
        if task is None:
            return
        self.settled[task.id] = TaskOutcome(task, "done" if done else "not done", note)
        self.index += 1
        if not done:
            if not task.parallel:
                self.stopped = True
            self.failed_group = task.group
        following = self.current
        if following is not None and self.failed_group not in (None, following.group):
            self.stopped = True

    def outcomes(self) -> list[TaskOutcome]:
        """Every task of tasks.md with what became of it."""
        return [
            self.settled.get(task.id)
            or TaskOutcome(task, "done before" if task.done else "not attempted")
            for task in self.tasks
        ]

    def done_count(self) -> int:
        return sum(o.state in ("done", "done before") for o in self.outcomes())


def describe_task(task: SpecTask) -> str:
    """The task as the agent is given it: its line, phase and story, and its sub-items."""
    where = f"\n(phase: {task.phase})" if task.phase else ""
    details = f"\n{task.details}" if task.details else ""
    return f"{task.label}{where}{details}"


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


class SpecRun(DurableRun):
    kind = "spec"
    title = "spec run"
    publish_step = "push_and_open_pr"
    cancellable = True

    def __init__(self, runtime: Runtime, request: SpecRequest) -> None:
        super().__init__(runtime, request, WORKTREES_DIR)
        self.feature = request.feature
        self.queue = TaskQueue(self.feature.tasks)

    def execute(self) -> RunResult:
        self.store.update(self.run_id, status="running")
        prepared = self.prepare("prepare_workspace", self._do_prepare)
        self.say(f"branch {prepared.branch} from {prepared.base_branch} in {self.worktree}")
        tasks_path = self.feature.tasks_path
        text: str = self.step("read_tasks", lambda: read_inside(self.worktree, tasks_path))
        self.queue = TaskQueue(parse_tasks(text, tasks_path))
        if self.queue.current is None:
            self.step("remove_worktree", self._do_remove_worktree)
            every = f"every task of {tasks_path} is ticked on {prepared.branch} already"
            return self.conclude("completed", f"nothing to do: {every}")
        return self.end(prepared, self.work(prepared))

    # -- prepare ------------------------------------------------------------------------

    def _do_prepare(self) -> Prepared:
        feature, today = self.feature, dt.date.today()
        checkout, report_rel = self.check_out_branch(
            feature.folder,
            feature.slug,
            None,
            f"{feature.folder}/{today:%y%m%d}__REPORT__{feature.slug}.md",
        )
        self._commit_documents()
        return self._prepared(checkout, report_rel, today)

    def _prepared(self, checkout: worktrees.Checkout, report_rel: str, today: dt.date) -> Prepared:
        """The first message: the feature's documents (its tasks.md as the worktree has it,
        ticks included) and the first task not ticked; the repository context (kept in the
        step's record: the worktree is gone after the push)."""
        feature = self.feature
        tasks_text = read_inside(self.worktree, feature.tasks_path)
        tasks = parse_tasks(tasks_text, feature.tasks_path)
        shown = replace(
            feature,
            documents=tuple(
                (path, tasks_text if path == feature.tasks_path else text)
                for path, text in feature.documents
            ),
        )
        queue = TaskQueue(tasks)
        first = queue.current
        body = render(
            "devbot.runs",
            "spec_task.txt",
            folder=feature.folder,
            title=feature.title,
            tasks_path=feature.tasks_path,
            documents=documents_context(shown, self.settings.spec_context_tokens),
            progress=_progress(queue),
            task=describe_task(first) if first else "(none: every task is ticked)",
        )
        ranking = "\n".join(text for path, text in shown.documents if path.endswith(".md"))
        context = self.context_for(ranking, None, (*feature.paths, report_rel))
        return Prepared(
            branch=checkout.branch,
            base_branch=checkout.base_branch,
            base_sha=checkout.base_sha,
            start_sha=checkout.base_sha,
            report_path=report_rel,
            plan_path=feature.folder,
            date=today.isoformat(),
            task=Task(title=f"{feature.title} ({feature.folder})", body=body, context=context.text),
            test_command=None,
            context=context.summary(),
        )

    def _commit_documents(self) -> None:
        """Write the feature's documents into the worktree as the run was given them, with
        the ticks the branch has already (an earlier run's), and commit them if they
        changed anything."""
        feature = self.feature
        for path, text in feature.documents:
            on_branch = text_inside(self.worktree, path)
            if path == feature.tasks_path and on_branch is not None:
                text = merge_ticks(text, on_branch, path)
            if on_branch != text:
                write_inside(self.worktree, path, text)
        self.tree.commit_all(
            f"devbot: the Spec Kit feature {feature.folder} ({feature.title})\n\n"
            f"Its documents as the run was given them.\nRun: {self.run_id}\n"
        )

    # -- work: one task at a time --------------------------------------------------------

    def read_only(self, prepared: Prepared) -> dict[str, str]:
        """The feature's documents and the report: the agent reads them, devbot writes them."""
        documents = {
            path: render("devbot.runs", "read_only_feature.txt", path=path).strip()
            for path in self.feature.paths
        }
        report = render("devbot.runs", "read_only_report.txt", path=prepared.report_path)
        return documents | {prepared.report_path: report.strip()}

    def finish_review(self, verification: Verification) -> Callable[[], str | None]:
        """The static check after each task; the tests too after the last one."""

        def review() -> str | None:
            if self.queue.is_last():
                return verification.review_finish()
            return verification.review_code()

        return review

    def next_task_hook(self) -> Callable[[str], str | None]:
        return self._next_task

    def _next_task(self, summary: str) -> str | None:
        """The current task ends with the agent's finish: ticked and committed when done;
        the next task's message, or None when the run is through or stops here."""
        task = self.queue.current
        if task is None:
            return None
        done = not summary.strip().upper().startswith(GAVE_UP)
        self.step("commit_task", lambda: self._do_commit_task(task, done, summary))
        self.say(f"{task.id} {'done, ticked' if done else 'not done'}: {_first_line(summary)}")
        self.queue.settle(done, _first_line(summary))
        following = self.queue.current
        if following is None:
            return None
        template = "spec_task_done.txt" if done else "spec_task_not_done.txt"
        return render(
            "devbot.runs",
            "spec_next_task.txt",
            previous=render("devbot.runs", template, task_id=task.id).strip(),
            progress=_progress(self.queue),
            task=describe_task(following),
        )

    def _do_commit_task(self, task: SpecTask, done: bool, summary: str) -> str:
        """Tick `task` in tasks.md (when done) and commit the worktree: one commit per task,
        as Spec Kit suggests. Run again after a crash, it finds the tick and the commit
        made and makes neither twice."""
        path = self.feature.tasks_path
        if done:
            text = read_inside(self.worktree, path)
            try:
                ticked = tick(text, task)
            except ValueError:  # a command of the agent's removed the line: nothing to tick
                ticked = text
            if ticked != text:
                write_inside(self.worktree, path, ticked)
        verdict = "" if done else " (not done)"
        subject = f"devbot: {task.id}{verdict} {task.description}"
        if len(subject) > SUBJECT_CHARS:
            subject = subject[: SUBJECT_CHARS - 3].rstrip() + "..."
        self.tree.commit_all(
            f"{subject}\n\n{summary.strip()}\n\nTask: {task.label}\n"
            f"Feature: {self.feature.folder}\nRun: {self.run_id}\n"
        )
        return self.tree.head_sha()

    def verdict(
        self, result: AgentResult, tests: TestSummary, cancelled: bool
    ) -> tuple[Status, str]:
        """Completed only when every task is done and the tests pass."""
        if self.queue.current is not None:  # a limit or a cancel cut the current task short
            self.queue.settle(False, f"{result.exit_status}: {result.message}")
        status, reason = judge(result, tests, cancelled)
        counts = f"{self.queue.done_count()} of {len(self.queue.tasks)} tasks done"
        missing = [o for o in self.queue.outcomes() if o.state in ("not done", "not attempted")]
        if status == "completed" and missing:
            first = missing[0]
            why = f": {first.note}" if first.note else ""
            return "failed", f"{first.task.id} {first.state}{why}; {counts}"
        return status, f"{reason}; {counts}"

    # -- end -------------------------------------------------------------------------------

    def commit_message(self, outcome: Outcome) -> str:
        return (
            f"devbot: {self.feature.title}: work left after the last task\n\n"
            f"{outcome.reason}\n\nFeature: {self.feature.folder}\n"
            f"Run: {self.run_id} ({outcome.result.exit_status})\n"
        )

    def report_facts(
        self, prepared: Prepared, outcome: Outcome, dropped: tuple[str, ...]
    ) -> RunFacts:
        facts = self.facts(
            prepared,
            outcome,
            dropped,
            title=self.feature.title,
            date=dt.date.fromisoformat(prepared.date),
            tags=("spec-kit",),
            summary=self._summary(),
        )
        return replace(facts, own_documents=self.feature.paths)

    def _summary(self) -> str:
        """The report's summary: how many tasks are done, then one bullet per task."""
        outcomes = self.queue.outcomes()
        lines = [f"{_counts(self.queue, self.feature.tasks_path)}", ""]
        for outcome in outcomes:
            note = f" — {outcome.note}" if outcome.note else ""
            lines.append(f"- {outcome.state.capitalize()}: {outcome.task.label}{note}")
        return "\n".join(lines)

    def report_message(self, outcome: Outcome) -> str:
        return (
            f"devbot: report for {self.feature.folder} ({outcome.status})\n\nRun: {self.run_id}\n"
        )

    def publish(self, prepared: Prepared, outcome: Outcome, head: str) -> Published:
        refused = self.push(prepared.branch, head)
        if refused is not None:
            return refused
        title = self.feature.title
        if outcome.status != "completed":
            title = f"[{outcome.status}] {title}"
        tasks = parse_tasks(read_inside(self.worktree, self.feature.tasks_path), "tasks.md")
        notes = {
            o.task.id: f"{o.state}: {o.note}" if o.note else o.state
            for o in self.queue.outcomes()
            if o.state in ("not done", "not attempted")
        }
        body = render(
            "devbot.runs",
            "spec_pr_body.txt",
            counts=_counts(self.queue, self.feature.tasks_path),
            tasks=progress_markdown(tasks, notes),
            folder=self.feature.folder,
            reason=outcome.reason,
        )
        pr = self.runtime.forge(self.settings, self.repository).open_or_update_pull_request(
            title=title, body=body, head=prepared.branch, base=prepared.base_branch
        )
        self.say(f"pull request #{pr.number}: {pr.url}")
        return Published(True, pr_url=pr.url)


def _progress(queue: TaskQueue) -> str:
    return f"{queue.done_count()} of {len(queue.tasks)} tasks done"


def _counts(queue: TaskQueue, tasks_path: str) -> str:
    return f"{_progress(queue)} in `{tasks_path}`, ticked on this branch."
