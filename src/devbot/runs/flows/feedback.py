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

from dbos import DBOS

from devbot.plans.plan import Plan
from devbot.redact import redact
from devbot.runs.flows.ci_failures import describe, read_failures
from devbot.runs.flows.comments import Collected, collect_comments, describe_comment
from devbot.runs.flows.pull_request import PullRequestRun, marker, post_once
from devbot.runs.flows.skeleton import Ending, Outcome, Prepared
from devbot.runs.requests import FeedbackRequest, RunResult
from devbot.runs.runtime import Runtime
from devbot.templating import render
from devbot.tools.inside import read_inside
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import COMMENT_MARKER, PullRequest, same_login
from devbot.vcs.forge import with_marker as marked


class FeedbackRun(PullRequestRun):
    kind = "feedback"
    title = "feedback run"
    subject = "feedback"

    def __init__(self, runtime: Runtime, request: FeedbackRequest) -> None:
        super().__init__(runtime, request)
        self.state = runtime.feedback
        self.progress_id: int | None = None
        self.collected = Collected(())

    def execute(self) -> RunResult:
        self._debounce()
        cutoff: float = self.step("begin", lambda: self.state.begin(self.run_id).trigger_at)
        pr = self.load()
        refusal = self.foreign_branch(pr)
        if refusal:
            return self.conclude("failed", refusal)
        self.collected = self.step(
            "collect_comments",
            lambda: collect_comments(self.runtime, self.forge, self.scope, self.number, cutoff),
        )
        if not self.collected.comments:
            return self.conclude("completed", "nothing to address: no unaddressed comment")
        key = marker("progress", self.run_id)
        self.progress_id = self.step(
            "progress_comment",
            lambda: post_once(self.forge, self.number, key, self._progress("started")),
        )
        prepared = self.prepare_on_branch(pr)
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

    # -- what the skeleton asks of a feedback run ----------------------------------------

    def commit_message(self, outcome: Outcome) -> str:
        summary = outcome.result.summary.strip() or outcome.result.message
        ids = ", ".join(str(c.id) for c in self.collected.comments)
        return (
            f"devbot: address review feedback on #{self.number}\n\n{summary}\n\n"
            f"Comments: {ids}\nRun: {self.run_id} ({outcome.result.exit_status})\n"
        )

    def round_note(self, outcome: Outcome) -> str:
        summary = outcome.result.summary.strip() or outcome.result.message
        return f"Review feedback on PR #{self.number} (run {self.run_id}): {summary}"

    def report_message(self, outcome: Outcome) -> str:
        return f"devbot: report after review feedback on #{self.number}\n\nRun: {self.run_id}\n"

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
        values = self.figures(ending)
        said = values["status"]
        body = render(
            "devbot.runs",
            "feedback_status.txt",
            **values,
            comments=", ".join(str(c.id) for c in self.collected.comments) or "none",
            notes="\n".join(self.collected.notes()),
        ).strip()
        key = marker("status", self.run_id)
        self.step("final_status", lambda: post_once(self.forge, self.number, key, body))
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
            key = marker("reply", comment.id)
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
        key = marker("progress", self.run_id)
        body = marked(f"{self._progress(stage)}\n{key}", COMMENT_MARKER)
        self.step(f"progress: {stage}", lambda: self.forge.update_comment(progress_id, body))

    def task_for(
        self, pr: PullRequest, plan: Plan | None, plan_rel: str, report_rel: str
    ) -> tuple[str, str]:
        return f"Address review feedback on pull request #{self.number}", self._task_body(
            pr, plan, plan_rel, report_rel
        )

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
                ci=self._failed_checks(pr),
            )
        )

    def _failed_checks(self, pr: PullRequest) -> str:
        """The failed checks of the PR's head, for a comment that asks to fix CI (on any PR:
        here a writer asked); read in the prepare step, so a replay reads nothing again."""
        if not pr.head_sha:
            return ""
        checks = self.runtime.checks_forge(self.server_settings, self.repository)
        failures = read_failures(
            checks, tuple(checks.check_runs(pr.head_sha)), self.settings.ci_log_lines
        )
        if not failures:
            return ""
        return f"\n## Failed checks of the head commit {pr.head_sha}\n\n{describe(failures)}\n"
