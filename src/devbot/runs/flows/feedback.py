"""The feedback run: answer the review comments on a pull request with new commits.

One run per PR at a time (the per-PR queue), taking every unaddressed comment that arrived
until it started. What it adds to the skeleton: it waits for a burst of comments to end,
reads `devbot.toml` from the PR's base branch, works on the PR's branch with the plan, the
last report and the comments as the task, updates the REPORT, and after the push replies in
each thread naming the commit and resolves the threads; it keeps one progress comment
current and posts a final status whatever the outcome. Every forge side effect is a
recorded step that looks before it writes, so a replayed step never posts twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from dbos import DBOS

from devbot.agent import Task
from devbot.config import Settings
from devbot.plans.plan import Plan
from devbot.plans.report import parse_report
from devbot.redact import redact
from devbot.runs.flows.base_config import settings_from_branch
from devbot.runs.flows.branch_docs import find_report, read_plan
from devbot.runs.flows.comments import Collected, collect_comments, describe_comment
from devbot.runs.flows.report import RunFacts
from devbot.runs.flows.skeleton import DurableRun, Ending, Outcome, Prepared, Published
from devbot.runs.requests import FeedbackRequest, RunResult
from devbot.runs.runtime import FEEDBACK_WORKTREES_DIR, Runtime
from devbot.runs.state.store import RunRecord
from devbot.templating import render
from devbot.tools.inside import read_inside
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import COMMENT_MARKER, FeedbackForge, PullRequest, same_login
from devbot.vcs.forge import with_marker as marked
from devbot.vcs.git import Git


def _marker(kind: str, key: object) -> str:
    return f"<!-- devbot:{kind}:{key} -->"


def _post_once(forge: FeedbackForge, number: int, key: str, body: str) -> int:
    """Post `body` on the PR unless devbot's own comment carrying `key` is there already."""
    for comment in forge.list_feedback(number):
        if key in comment.body and same_login(comment.author, forge.identity()):
            return comment.id
    return forge.post_comment(number, marked(f"{body}\n{key}", COMMENT_MARKER))


class FeedbackRun(DurableRun):
    kind = "feedback"
    title = "feedback run"
    publish_step = "push"

    def __init__(self, runtime: Runtime, request: FeedbackRequest) -> None:
        super().__init__(
            runtime,
            request.run_id,
            request.repository,
            request.settings,
            request.started_at,
            FEEDBACK_WORKTREES_DIR,
        )
        self.number, self.flags = request.number, request.flags
        self.server_settings = request.settings
        self.scope = request.repository.key
        self.state = runtime.feedback
        self.forge = runtime.feedback_forge(request.settings, request.repository)
        self.progress_id: int | None = None
        self.collected = Collected(())

    def execute(self) -> RunResult:
        self._debounce()
        cutoff: float = self.step("begin", lambda: self.state.begin(self.run_id).trigger_at)
        pr: PullRequest = self.step("load_pull_request", self._do_load_pr)
        self.settings = self.step("base_settings", lambda: self._do_settings(pr.base))
        self._record(pr)
        if pr.head_repo != self.forge.full_name:
            where = pr.head_repo or "a repository that is gone"
            return self.conclude(
                "failed",
                f"the pull request's branch lives in {where}; devbot pushes only to branches "
                f"of {self.forge.full_name}",
            )
        self.collected = self.step(
            "collect_comments",
            lambda: collect_comments(self.runtime, self.forge, self.scope, self.number, cutoff),
        )
        if not self.collected.comments:
            return self.conclude("completed", "nothing to address: no unaddressed comment")
        key = _marker("progress", self.run_id)
        self.progress_id = self.step(
            "progress_comment",
            lambda: _post_once(self.forge, self.number, key, self._progress("started")),
        )
        prepared = self.prepare("prepare_worktree", lambda: self._do_prepare(pr))
        self._update_progress("the agent is working")
        return self.end(prepared, self.work(prepared))

    def _debounce(self) -> None:
        """Wait until no comment came for `feedback_debounce_s` (at most ten such windows),
        so a burst of comments becomes one run; the readings are recorded steps."""
        window = self.server_settings.feedback_debounce_s
        waited = 0.0
        while waited < 10 * window:
            quiet: float = self.step("debounce", self._quiet_for)
            if quiet >= window:
                return
            DBOS.sleep(window - quiet)
            waited += window - quiet

    def _quiet_for(self) -> float:
        """Seconds since the newest comment this run took in; 0 while a comment on the PR
        was received but not scheduled yet (on a busy machine its delivery's workflow may
        reach the schedule after the window, though the comment came within it)."""
        unsettled = self.runtime.inbox.unsettled_comments(self.number)
        if unsettled - set(self.state.received(self.scope, self.number)):
            return 0.0
        return self.state.quiet_for(self.run_id)

    def _record(self, pr: PullRequest) -> None:
        self.store.create(
            RunRecord(
                id=self.run_id,
                kind="feedback",
                repo=self.scope,
                plan_path="",
                plan_sha="",
                title=f"feedback on #{self.number}: {pr.title}",
                status="running",
                branch=pr.head,
                base_branch=pr.base,
                pr_url=pr.url,
                created_at=self.started_at,
            )
        )

    # -- recorded steps ------------------------------------------------------------------

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
        body = self._task_body(pr, plan, plan_rel, report_rel)
        title = f"Address review feedback on pull request #{self.number}"
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

    # -- what the skeleton asks of a feedback run ----------------------------------------

    def commit_message(self, outcome: Outcome) -> str:
        summary = outcome.result.summary.strip() or outcome.result.message
        ids = ", ".join(str(c.id) for c in self.collected.comments)
        return (
            f"devbot: address review feedback on #{self.number}\n\n{summary}\n\n"
            f"Comments: {ids}\nRun: {self.run_id} ({outcome.result.exit_status})\n"
        )

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
        summary = outcome.result.summary.strip() or outcome.result.message
        round_note = f"Review feedback on PR #{self.number} (run {self.run_id}): {summary}"
        return self.facts(
            prepared,
            outcome,
            dropped,
            title=previous.title.removeprefix("Report: "),
            date=dt.date.fromisoformat(prepared.date),
            tags=tuple(previous.tags),
            summary=f"{previous.summary}\n\n{round_note}".strip(),
        )

    def report_message(self, outcome: Outcome) -> str:
        return f"devbot: report after review feedback on #{self.number}\n\nRun: {self.run_id}\n"

    def publish(self, prepared: Prepared, outcome: Outcome, head: str) -> Published:
        return self.push(prepared.branch, head) or Published(True)

    def after_publish(self, prepared: Prepared, outcome: Outcome, work: str, head: str) -> None:
        if outcome.status != "completed":
            return
        changed = head != prepared.start_sha and work != prepared.start_sha
        answer = work if changed else head
        self.step("reply_in_threads", lambda: self._do_replies(answer, outcome, changed))
        self.step("resolve_threads", self._do_resolve)
        ids = [c.id for c in self.collected.comments]
        self.step(
            "mark_addressed",
            lambda: self.state.mark_addressed(self.scope, self.number, ids, self.run_id, head),
        )

    def tell(self, ending: Ending) -> None:
        said = "done" if ending.status == "completed" else ending.status
        result = ending.outcome.result if ending.outcome else None
        body = render(
            "devbot.runs",
            "feedback_status.txt",
            run_id=self.run_id,
            status=said,
            reason=ending.reason,
            comments=", ".join(str(c.id) for c in self.collected.comments) or "none",
            commit=ending.head or "none pushed",
            exit_status=str(result.exit_status) if result else "-",
            duration_s=f"{ending.finished_at - self.started_at:.1f}",
            tokens=f"{result.prompt_tokens + result.completion_tokens:,}" if result else 0,
            prompt_tokens=f"{result.prompt_tokens:,}" if result else 0,
            completion_tokens=f"{result.completion_tokens:,}" if result else 0,
            cost_usd=f"{result.cost_usd:.4f}" if result else "0.0000",
            notes="\n".join(self.collected.notes()),
        ).strip()
        key = _marker("status", self.run_id)
        self.step("final_status", lambda: _post_once(self.forge, self.number, key, body))
        self._update_progress(f"finished ({said}), see the status comment")
        self.step("finish_state", lambda: self.state.finish(self.run_id, said))

    # -- forge side effects ----------------------------------------------------------------

    def _do_replies(self, sha: str, outcome: Outcome, changed: bool) -> None:
        identity = self.forge.identity()
        listed = [
            c for c in self.forge.list_feedback(self.number) if same_login(c.author, identity)
        ]
        answered = {c.in_reply_to for c in listed if c.in_reply_to and "devbot:reply:" in c.body}
        summary = outcome.result.summary.strip() or outcome.result.message
        if not changed:
            summary = "No code change was needed. " + summary
        for comment in self.collected.comments:
            if comment.kind != "review_comment" or comment.id in answered:
                continue
            key = _marker("reply", comment.id)
            if any(key in c.body for c in listed):
                continue
            body = render("devbot.runs", "feedback_reply.txt", sha=sha, summary=summary).strip()
            self.forge.reply_to_review_comment(
                self.number,
                comment.in_reply_to or comment.id,
                marked(f"{body}\n{key}", COMMENT_MARKER),
            )

    def _do_resolve(self) -> None:
        threads = {c.thread_id for c in self.collected.comments if c.thread_id}
        for thread_id in sorted(threads):
            self.forge.resolve_thread(thread_id)

    def _progress(self, stage: str) -> str:
        count = len(self.collected.comments)
        return render(
            "devbot.runs", "feedback_progress.txt", count=count, run_id=self.run_id, stage=stage
        ).strip()

    def _update_progress(self, stage: str) -> None:
        if self.progress_id is None:
            return
        progress_id = self.progress_id
        key = _marker("progress", self.run_id)
        body = marked(f"{self._progress(stage)}\n{key}", COMMENT_MARKER)
        self.step(f"progress: {stage}", lambda: self.forge.update_comment(progress_id, body))

    def _task_body(self, pr: PullRequest, plan: Plan | None, plan_rel: str, report_rel: str) -> str:
        plan_text = plan.body if plan else clean_untrusted(pr.body)
        report_text = read_inside(self.worktree, report_rel) if report_rel else "(none)"
        comments = "\n".join(describe_comment(c) for c in self.collected.comments)
        return redact(  # the model's provider is outside too: no secret goes into a prompt
            render(
                "devbot.runs",
                "feedback_task.txt",
                number=self.number,
                pr_title=clean_untrusted(pr.title),
                plan_path=plan_rel or "the pull request's description",
                plan=plan_text.strip(),
                report=report_text.strip(),
                comments=comments,
            )
        )
