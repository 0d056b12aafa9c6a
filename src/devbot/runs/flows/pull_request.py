"""What every run on an existing pull request shares (feedback runs, CI fixes).

Such a run works on the PR's branch, not on a branch of its own: it loads the PR, reads
`devbot.toml` from the PR's base branch (never from the PR's branch), refuses a branch that
lives in another repository, checks the branch out in a detached worktree with the plan and
the last report found on it, adds a round to that report, pushes (never forced) and says
what happened in comments that it posts once, even when a step runs again after a crash.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from dataclasses import replace

from devbot.agent import Task
from devbot.config import Settings
from devbot.plans.plan import Plan
from devbot.plans.report import parse_report
from devbot.runs.flows.base_config import settings_from_branch
from devbot.runs.flows.branch_docs import find_report, read_plan
from devbot.runs.flows.report import RunFacts
from devbot.runs.flows.skeleton import DurableRun, Ending, Outcome, Prepared, Published
from devbot.runs.requests import CiFixRequest, FeedbackRequest
from devbot.runs.runtime import FEEDBACK_WORKTREES_DIR, Runtime
from devbot.runs.state.store import RunRecord
from devbot.vcs.forge import COMMENT_MARKER, FeedbackForge, PullRequest, same_login
from devbot.vcs.forge import with_marker as marked
from devbot.vcs.git import Git


def marker(kind: str, key: object) -> str:
    """The hidden key of one comment devbot posts, found again before posting twice."""
    return f"<!-- devbot:{kind}:{key} -->"


def post_once(forge: FeedbackForge, number: int, key: str, body: str) -> int:
    """Post `body` on the PR unless devbot's own comment carrying `key` is there already."""
    for comment in forge.list_feedback(number):
        if key in comment.body and same_login(comment.author, forge.identity()):
            return comment.id
    return forge.post_comment(number, marked(f"{body}\n{key}", COMMENT_MARKER))


class PullRequestRun(DurableRun):
    """A durable run on pull request `number` of its repository; subclasses say what the
    agent is asked (`task_for`) and what the report's new round says (`round_note`)."""

    publish_step = "push"
    subject: str
    """What the run record's title calls the run ("feedback", "CI fix")."""

    def __init__(self, runtime: Runtime, request: FeedbackRequest | CiFixRequest) -> None:
        super().__init__(runtime, request, FEEDBACK_WORKTREES_DIR)
        self.number, self.flags = request.number, request.flags
        self.server_settings = request.settings
        """The server's settings; `settings` becomes those of the PR's base branch."""
        self.scope = request.repository.key
        self.forge = runtime.feedback_forge(request.settings, request.repository)

    def load(self) -> PullRequest:
        """The PR and the base branch's settings (recorded steps), the run recorded."""
        pr: PullRequest = self.step("load_pull_request", self._do_load_pr)
        self.settings = self.step("base_settings", lambda: self._do_settings(pr.base))
        self.record(pr)
        return pr

    def foreign_branch(self, pr: PullRequest) -> str | None:
        """Why devbot may not push to the PR's branch, or None when it may."""
        if pr.head_repo == self.forge.full_name:
            return None
        where = pr.head_repo or "a repository that is gone"
        return (
            f"the pull request's branch lives in {where}; devbot pushes only to branches "
            f"of {self.forge.full_name}"
        )

    def record(self, pr: PullRequest) -> None:
        """The run record (made here, or by whoever queued the run), now running."""
        self.store.create(
            RunRecord(
                id=self.run_id,
                kind=self.kind,
                repo=self.scope,
                plan_path="",
                plan_sha="",
                created_at=self.started_at,
            )
        )
        self.store.update(
            self.run_id,
            title=f"{self.subject} on #{self.number}: {pr.title}",
            status="running",
            branch=pr.head,
            base_branch=pr.base,
            pr_url=pr.url,
        )

    def _do_load_pr(self) -> PullRequest:
        pr = self.forge.get_pull_request(self.number)
        if pr is None:
            raise LookupError(f"pull request #{self.number} not found")
        return pr

    def _do_settings(self, base: str) -> Settings:
        """Settings with `devbot.toml` read from the base branch, never from the PR branch."""
        with self.local.synced() as git:
            settings = settings_from_branch(git, base, self.flags, remote=self.remote)
        return replace(settings, database_url=self.server_settings.database_url)

    def prepare_on_branch(self, pr: PullRequest) -> Prepared:
        """The prepare step: the PR's branch in a detached worktree, the task for the agent."""
        return self.prepare("prepare_worktree", lambda: self._do_prepare(pr))

    def _do_prepare(self, pr: PullRequest) -> Prepared:
        with self.local.synced() as git:
            return self._prepare_worktree(git, pr)

    def _prepare_worktree(self, git: Git, pr: PullRequest) -> Prepared:
        remote = self.remote
        has_remote = remote in git.run("remote").split()
        if has_remote:
            git.fetch(remote, pr.head)
            git.fetch(remote, pr.base)
        head_ref = f"{remote}/{pr.head}" if has_remote else pr.head
        base_ref = f"{remote}/{pr.base}" if has_remote else pr.base
        if self.worktree.exists():
            start_sha = self.tree.run("rev-parse", "HEAD")
            self.tree.run("reset", "--hard", "--quiet", "HEAD")
        else:
            self.worktree.parent.mkdir(parents=True, exist_ok=True)
            git.add_detached_worktree(self.worktree, head_ref)
            start_sha = self.tree.head_sha()
        plan_rel, report_rel = find_report(self.worktree, self.settings.plan_dirs)
        plan = read_plan(self.worktree, plan_rel, self.settings) if plan_rel else None
        # the task is read from the worktree here, in the step, so that a run resumed after
        # `remove_worktree` replays it from the record instead of reading files now gone
        title, body = self.task_for(pr, plan, plan_rel, report_rel)
        test_command = plan.test_command if plan else None
        context = self.context_for(f"{title}\n{body}", test_command, (plan_rel, report_rel))
        return Prepared(
            branch=pr.head,
            base_branch=pr.base,
            base_sha=git.run("merge-base", base_ref, start_sha),
            start_sha=start_sha,
            report_path=report_rel,
            plan_path=plan_rel,
            date=dt.date.today().isoformat(),
            task=Task(title=title, body=body, context=context.text),
            test_command=test_command,
            context=context.summary(),
        )

    @abstractmethod
    def task_for(
        self, pr: PullRequest, plan: Plan | None, plan_rel: str, report_rel: str
    ) -> tuple[str, str]:
        """The agent's task (title, body), read in the prepare step."""

    @abstractmethod
    def round_note(self, outcome: Outcome) -> str:
        """What the report's summary gains for this run."""

    def report_facts(
        self, prepared: Prepared, outcome: Outcome, dropped: tuple[str, ...]
    ) -> RunFacts | None:
        if not prepared.report_path:
            return None
        # the report as the run found it: after a crash that cut this step short, HEAD may
        # already hold the report this step writes, and reading it would add the round twice
        text = self.tree.read_blob(prepared.start_sha, prepared.report_path)
        if text is None:
            return None
        previous = parse_report(text)
        return self.facts(
            prepared,
            outcome,
            dropped,
            title=previous.title.removeprefix("Report: "),
            date=dt.date.fromisoformat(prepared.date),
            tags=tuple(previous.tags),
            summary=f"{previous.summary}\n\n{self.round_note(outcome)}".strip(),
        )

    def publish(self, prepared: Prepared, outcome: Outcome, head: str) -> Published:
        return self.push(prepared.branch, head) or Published(True)

    def figures(self, ending: Ending) -> dict[str, str]:
        """What a status comment says of every run: how it ended, how long, what it cost."""
        result = ending.outcome.result if ending.outcome else None
        return {
            "run_id": self.run_id,
            "status": "done" if ending.status == "completed" else ending.status,
            "reason": ending.reason,
            "commit": ending.head or "none pushed",
            "exit_status": str(result.exit_status) if result else "-",
            "duration_s": f"{ending.finished_at - self.started_at:.1f}",
            "tokens": f"{result.prompt_tokens + result.completion_tokens:,}" if result else "0",
            "prompt_tokens": f"{result.prompt_tokens:,}" if result else "0",
            "completion_tokens": f"{result.completion_tokens:,}" if result else "0",
            "cost_usd": f"{result.cost_usd:.4f}" if result else "0.0000",
        }
