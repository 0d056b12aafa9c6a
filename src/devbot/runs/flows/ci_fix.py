"""The CI-fix run: make the failed checks of a commit devbot pushed pass, with a new commit.

The delivery flow starts one per failed head commit of a devbot PR (`ci_fix_attempts` per
PR at most), on the PR's feedback queue, so it never works beside a feedback run of the same
PR. What it adds to the pull-request run: it waits until every check of the commit has
finished (or `ci_wait_s`), optionally re-runs the failed Actions jobs once and calls a pass
flaky, reads what failed (annotations, the error region of each job's log), and tells the
PR what failed, what was tried and how it ended.
"""

from __future__ import annotations

from dbos import DBOS

from devbot.plans.plan import Plan
from devbot.redact import redact
from devbot.runs.flows.ci_failures import CiFailure, describe, names, read_failures
from devbot.runs.flows.pull_request import PullRequestRun, marker, post_once
from devbot.runs.flows.skeleton import Ending, Outcome
from devbot.runs.requests import CiFixRequest, RunResult
from devbot.runs.runtime import Runtime
from devbot.templating import render
from devbot.tools.inside import read_inside
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import CheckRun, PullRequest


class CiFixRun(PullRequestRun):
    kind = "ci_fix"
    title = "CI fix run"
    subject = "CI fix"

    def __init__(self, runtime: Runtime, request: CiFixRequest) -> None:
        super().__init__(runtime, request)
        self.sha, self.attempt = request.head_sha, request.attempt
        self.checks = runtime.checks_forge(request.settings, request.repository)
        self.failures: tuple[CiFailure, ...] = ()
        self.flaky: tuple[str, ...] = ()

    def execute(self) -> RunResult:
        pr = self.load()
        refusal = self.foreign_branch(pr)
        if refusal:
            return self.conclude("failed", refusal)
        checks = self._await_checks()
        if self.settings.ci_rerun_flaky:
            checks = self._rerun_failed(checks)
        head: str = self.step("reload_pull_request", lambda: self._do_load_pr().head_sha)
        if head != self.sha:
            return self.conclude("completed", f"nothing to fix: #{self.number} moved on to {head}")
        self.failures = self.step(
            "read_failures",
            lambda: read_failures(self.checks, checks, self.settings.ci_log_lines),
        )
        if not self.failures:
            flaky = f" (flaky: {', '.join(self.flaky)} passed on re-run)" if self.flaky else ""
            return self.conclude("completed", f"nothing to fix: the checks pass{flaky}")
        self.say(f"failed checks on {self.sha[:10]}: {names(self.failures)}")
        prepared = self.prepare_on_branch(pr)
        return self.end(prepared, self.work(prepared))

    def _await_checks(self, first_wait_s: float = 0.0) -> tuple[CheckRun, ...]:
        """The checks of the commit once all have finished, or as they are after
        `ci_wait_s`; each look is a recorded step."""
        poll, waited = self.settings.ci_poll_s, first_wait_s
        if first_wait_s:
            DBOS.sleep(first_wait_s)
        while True:
            checks: tuple[CheckRun, ...] = self.step(
                "read_checks", lambda: tuple(self.checks.check_runs(self.sha))
            )
            running = [c.name for c in checks if not c.completed]
            if not running:
                return checks
            if waited >= self.settings.ci_wait_s:
                self.say(f"checks still running after {waited:.0f} s: {', '.join(running)}")
                return checks
            DBOS.sleep(poll)
            waited += poll

    def _rerun_failed(self, checks: tuple[CheckRun, ...]) -> tuple[CheckRun, ...]:
        """Re-run the failed Actions jobs once; those that pass then are flaky."""
        failed = [c for c in checks if c.failed and c.job_id is not None]
        if not failed:
            return checks
        self.say(f"re-running {', '.join(c.name for c in failed)} once")
        self.step("rerun_jobs", lambda: self._do_rerun([c.job_id or 0 for c in failed]))
        again = self._await_checks(first_wait_s=self.settings.ci_poll_s)
        passed = {c.name for c in again if c.completed and c.conclusion == "success"}
        self.flaky = tuple(c.name for c in failed if c.name in passed)
        return again

    def _do_rerun(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.checks.rerun_job(job_id)

    # -- what the skeleton asks of a CI-fix run -------------------------------------------

    def task_for(
        self, pr: PullRequest, plan: Plan | None, plan_rel: str, report_rel: str
    ) -> tuple[str, str]:
        plan_text = plan.body if plan else clean_untrusted(pr.body)
        report_text = read_inside(self.worktree, report_rel) if report_rel else "(none)"
        body = render(
            "devbot.runs",
            "ci_fix_task.txt",
            number=self.number,
            pr_title=clean_untrusted(pr.title),
            sha=self.sha,
            failures=describe(self.failures),
            plan_path=plan_rel or "the pull request's description",
            plan=plan_text.strip(),
            report=report_text.strip(),
        )
        # the model's provider is outside too: no secret goes into a prompt
        return f"Fix the failing CI of pull request #{self.number}", redact(body)

    def commit_message(self, outcome: Outcome) -> str:
        return (
            f"devbot: fix failing CI on #{self.number}\n\n{self._tried(outcome)}\n\n"
            f"Failed checks: {names(self.failures)} at {self.sha}\n"
            f"Run: {self.run_id} ({outcome.result.exit_status})\n"
        )

    def round_note(self, outcome: Outcome) -> str:
        return (
            f"CI fix on PR #{self.number} (run {self.run_id}; {names(self.failures)} failed "
            f"at {self.sha[:10]}): {self._tried(outcome)}"
        )

    def report_message(self, outcome: Outcome) -> str:
        return f"devbot: report after fixing CI on #{self.number}\n\nRun: {self.run_id}\n"

    def tell(self, ending: Ending) -> None:
        body = render(
            "devbot.runs",
            "ci_fix_status.txt",
            **self.figures(ending),
            attempt=self.attempt,
            limit=self.settings.ci_fix_attempts,
            sha=self.sha,
            checks=names(self.failures),
            tried=self._tried(ending.outcome) if ending.outcome else "nothing (no agent ran)",
        ).strip()
        key = marker("ci-status", self.run_id)
        self.step("final_status", lambda: post_once(self.forge, self.number, key, body))

    def _tried(self, outcome: Outcome) -> str:
        return outcome.result.summary.strip() or outcome.result.message
