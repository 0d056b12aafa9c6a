"""`iterate_on_feedback`: a durable run that answers review comments on a pull request.

One run per PR at a time (the per-PR queue), taking every unaddressed comment that arrived
until it started: it checks out the PR's branch, lets the agent change the code with the
plan, the last report and the comments as its task, commits, pushes (never forced),
updates the REPORT, replies in each thread naming the commit, resolves the threads, keeps
one progress comment current and posts a final status whatever the outcome. Every forge
side effect is a recorded step that looks before it writes, so a replayed step never
posts twice.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Any

from dbos import DBOS

from devbot.agent import AgentResult, Task
from devbot.config import Settings
from devbot.plans.plan import Plan, parse_plan_text
from devbot.plans.report import parse_report
from devbot.redact import redact
from devbot.runs import progress
from devbot.runs import worktree as worktrees
from devbot.runs.agent_run import file_listing, make_verification, run_agent
from devbot.runs.base_config import settings_from_branch
from devbot.runs.change_guard import Refusal, check_change_set
from devbot.runs.feedback_state import FeedbackState
from devbot.runs.forges import feedback_forge_for, may_trigger
from devbot.runs.report_builder import RunFacts, agent_figures, commit_report
from devbot.runs.state import store_for
from devbot.runs.store import RunRecord
from devbot.runs.verify import testing_notes, tests_failure
from devbot.templating import render
from devbot.tools.inside import inside_path, read_inside
from devbot.tools.jail import PathOutsideWorkspace
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import COMMENT_MARKER, FeedbackForge, same_login, with_marker
from devbot.vcs.git import Commit, Git, GitError

FEEDBACK_WORKTREES = "feedback-worktrees"
MAX_COMMENT_CHARS = 6000


def _step(name: str, fn: Any) -> Any:
    return DBOS.run_step({"name": name}, fn)


def feedback_request(
    run_id: str, repo: Path, number: int, settings: Settings, flags: dict[str, Any]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "repo": str(repo),
        "number": number,
        "settings": asdict(settings),
        "flags": flags,
        "started_at": time.time(),
    }


@DBOS.workflow(name="devbot.feedback_run", max_recovery_attempts=20)
def feedback_run_workflow(request: dict[str, Any]) -> dict[str, Any]:
    run = FeedbackRun(request)
    try:
        return run.execute()
    except Exception as exc:
        return run.fail_safely(f"internal error: {type(exc).__name__}: {exc}")


def _stamp(text: str) -> float:
    """Epoch seconds of a forge timestamp (ISO 8601); 0 when unreadable."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _marker(kind: str, key: object) -> str:
    return f"<!-- devbot:{kind}:{key} -->"


def _post_once(forge: FeedbackForge, number: int, key: str, body: str) -> int:
    """Post `body` on the PR unless devbot's own comment carrying `key` is there already."""
    for comment in forge.list_feedback(number):
        if key in comment.body and same_login(comment.author, forge.identity()):
            return comment.id
    return forge.post_comment(number, with_marker(f"{body}\n{key}", COMMENT_MARKER))


class FeedbackRun:
    """One feedback run; `_do_*` methods are the bodies of recorded steps."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.run_id: str = request["run_id"]
        self.repo = Path(request["repo"])
        self.number: int = request["number"]
        self.flags: dict[str, Any] = request["flags"]
        self.started_at: float = request["started_at"]
        self.server_settings = Settings(**request["settings"])
        self.settings = self.server_settings
        self.scope = str(self.repo)
        self.store = store_for(self.settings, self.repo)
        self.state = FeedbackState(self.store.engine)
        self.forge = feedback_forge_for(self.settings, self.repo)
        self.git = Git.repository(self.repo)
        self.worktree = self.settings.state_dir(self.repo) / FEEDBACK_WORKTREES / self.run_id
        self.progress_id: int | None = None
        self.comments: list[dict[str, Any]] = []

    def say(self, line: str) -> None:
        progress.emit(self.run_id, line)

    def _debounce(self) -> None:
        """Wait until no comment came for `feedback_debounce_s` (at most ten such windows),
        so a burst of comments becomes one run; the readings are recorded steps."""
        window = self.server_settings.feedback_debounce_s
        waited = 0.0
        while waited < 10 * window:
            quiet: float = _step("debounce", lambda: self.state.quiet_for(self.run_id))
            if quiet >= window:
                return
            DBOS.sleep(window - quiet)
            waited += window - quiet

    def execute(self) -> dict[str, Any]:
        self._debounce()
        cutoff: float = _step("begin", lambda: self.state.begin(self.run_id).trigger_at)
        pr: dict[str, Any] = _step("load_pull_request", self._do_load_pr)
        self.settings = Settings(**_step("base_settings", lambda: self._do_settings(pr["base"])))
        self.store.create(
            RunRecord(
                id=self.run_id,
                kind="feedback",
                repo=str(self.repo),
                plan_path="",
                plan_sha="",
                title=f"feedback on #{self.number}: {pr['title']}",
                status="running",
                branch=pr["head"],
                base_branch=pr["base"],
                pr_url=pr["url"],
                created_at=self.started_at,
            )
        )
        if pr["head_repo"] != self.forge.full_name:
            where = pr["head_repo"] or "a repository that is gone"
            return self._finish(
                "failed",
                f"the pull request's branch lives in {where}; devbot pushes only to branches "
                f"of {self.forge.full_name}",
            )
        collected: dict[str, Any] = _step("collect_comments", lambda: self._do_collect(cutoff))
        self.comments = collected["comments"]
        notes = [f"- ignored (edited after the trigger): {c}" for c in collected["edited"]]
        notes += [f"- ignored (no write permission): {c}" for c in collected["unauthorised"]]
        if not self.comments:
            return self._finish("done", "nothing to address: no unaddressed comment", notes=notes)
        self.progress_id = _step(
            "progress_comment",
            lambda: _post_once(
                self.forge, self.number, _marker("progress", self.run_id), self._progress("started")
            ),
        )
        prepared: dict[str, Any] = _step("prepare_worktree", lambda: self._do_prepare(pr))
        self._update_progress("the agent is working")
        verification = make_verification(
            self.settings, prepared["test_command"], self.worktree, _step, self.say
        )
        result = run_agent(
            self.settings,
            self.git.worktree(self.worktree),
            Task(
                title=f"Address review feedback on pull request #{self.number}",
                body=prepared["task_body"],
                context=prepared["context"],
            ),
            verification,
            store=self.store,
            run_id=self.run_id,
            say=self.say,
            started_at=self.started_at,
            record=_step,
        )
        tests = verification.final(str(result.exit_status) == "submitted")
        status, reason = _judge(result, tests)
        work: Commit = _step("commit_work", lambda: self._do_commit_work(result))
        work_sha = work.sha or ""
        head_sha: str = _step(
            "commit_report",
            lambda: self._do_commit_report(prepared, result, tests, status, reason, work.dropped),
        )
        refusal: Refusal = _step(
            "check_change_set",
            lambda: check_change_set(
                self.git.worktree(self.worktree), prepared["start_sha"], head_sha, self.settings
            ),
        )
        if refusal:
            reason = f"{refusal.reason()}; the work is kept in {self.worktree}"
            return self._finish("failed", reason, result=result, notes=notes)
        pushed: dict[str, Any] = _step("push", lambda: self._do_push(prepared["branch"], head_sha))
        if not pushed["pushed"]:
            return self._finish("failed", pushed["error"], result=result, notes=notes)
        changed = head_sha != prepared["start_sha"] and work_sha != prepared["start_sha"]
        if status == "done":
            answer_sha = work_sha if changed else head_sha
            _step("reply_in_threads", lambda: self._do_replies(answer_sha, result, changed))
            _step("resolve_threads", self._do_resolve)
            _step(
                "mark_addressed",
                lambda: self.state.mark_addressed(
                    self.scope, self.number, [c["id"] for c in self.comments], self.run_id, head_sha
                ),
            )
        _step("remove_worktree", self._do_remove_worktree)
        return self._finish(status, reason, result=result, head_sha=head_sha, notes=notes)

    # -- steps ---------------------------------------------------------------------------

    def _do_load_pr(self) -> dict[str, Any]:
        pr = self.forge.get_pull_request(self.number)
        if pr is None:
            raise LookupError(f"pull request #{self.number} not found")
        return {
            "title": pr.title,
            "body": pr.body,
            "head": pr.head,
            "base": pr.base,
            "url": pr.url,
            "head_repo": pr.head_repo,
        }

    def _do_settings(self, base: str) -> dict[str, Any]:
        """Settings with `devbot.toml` read from the base branch, never from the PR branch."""
        settings = settings_from_branch(
            self.git, base, self.flags, remote=self.server_settings.remote
        )
        return asdict(replace(settings, database_url=self.server_settings.database_url))

    def _do_collect(self, cutoff: float) -> dict[str, Any]:
        addressed = self.state.addressed(self.scope, self.number)
        received = self.state.received(self.scope, self.number)
        kept: list[dict[str, Any]] = []
        edited: list[int] = []
        unauthorised: list[int] = []
        for comment in self.forge.list_feedback(self.number):
            if comment.id in addressed or same_login(comment.author, self.forge.identity()):
                continue
            if comment.author_type == "Bot" or comment.author.endswith("[bot]"):
                continue
            requested = (comment.review_state or "").lower() == "changes_requested"
            if comment.kind == "review" and not comment.body.strip() and not requested:
                continue
            arrived = received.get(comment.id)
            created, updated = _stamp(comment.created_at), _stamp(comment.updated_at)
            if arrived is None:
                if created + 2 > cutoff:
                    continue  # its own delivery will bring it to a later run
                arrived = cutoff
            elif arrived > cutoff:
                continue  # arrived after this run started: the next run takes it
            if int(updated) > arrived:
                edited.append(comment.id)
                continue
            if not may_trigger(self.forge, self.scope, comment.author):
                unauthorised.append(comment.id)
                continue
            body = clean_untrusted(redact(comment.body))[:MAX_COMMENT_CHARS]
            kept.append(asdict(replace(comment, body=body)))
        return {"comments": kept, "edited": edited, "unauthorised": unauthorised}

    def _do_prepare(self, pr: dict[str, Any]) -> dict[str, Any]:
        git, remote, branch = self.git, self.settings.remote, pr["head"]
        has_remote = remote in git.run("remote").split()
        if has_remote:
            git.fetch(remote, branch)
            git.fetch(remote, pr["base"])
        head_ref = f"{remote}/{branch}" if has_remote else branch
        base_ref = f"{remote}/{pr['base']}" if has_remote else pr["base"]
        if self.worktree.exists():
            start_sha = git.worktree(self.worktree).run("rev-parse", "HEAD")
            git.worktree(self.worktree).run("reset", "--hard", "--quiet", "HEAD")
        else:
            self.worktree.parent.mkdir(parents=True, exist_ok=True)
            git.add_detached_worktree(self.worktree, head_ref)
            start_sha = git.worktree(self.worktree).head_sha()
        base_sha = git.run("merge-base", base_ref, start_sha)
        plan_rel, report_rel = _find_report(self.worktree, self.settings.plan_dirs)
        test_command = None
        if plan_rel:
            test_command = _plan(self.worktree, plan_rel, self.settings).test_command
        prepared = {
            "test_command": test_command,
            "branch": branch,
            "base_branch": pr["base"],
            "start_sha": start_sha,
            "base_sha": base_sha,
            "plan_path": plan_rel,
            "report_path": report_rel,
        }
        # the task is read from the worktree here, in the step, so that a run resumed after
        # `remove_worktree` replays it from the record instead of reading files now gone
        prepared["task_body"] = self._task_body(pr, prepared)
        prepared["context"] = file_listing(git.worktree(self.worktree))
        return prepared

    def _do_commit_work(self, result: AgentResult) -> Commit:
        git = self.git.worktree(self.worktree)
        summary = result.summary.strip() or result.message
        ids = ", ".join(str(c["id"]) for c in self.comments)
        dropped = git.commit_all(
            f"devbot: address review feedback on #{self.number}\n\n{redact(summary)}\n\n"
            f"Comments: {ids}\nRun: {self.run_id} ({result.exit_status})\n"
        ).dropped
        return Commit(git.head_sha(), dropped)

    def _do_commit_report(
        self,
        prepared: dict[str, Any],
        result: AgentResult,
        tests: dict[str, Any],
        status: str,
        reason: str,
        dropped: tuple[str, ...],
    ) -> str:
        git = self.git.worktree(self.worktree)
        report_rel, plan_rel = prepared["report_path"], prepared["plan_path"]
        if not report_rel:
            return git.head_sha()
        previous = parse_report(read_inside(self.worktree, report_rel))
        round_note = f"Review feedback on PR #{self.number} (run {self.run_id}): " + (
            result.summary.strip() or result.message
        )
        facts = RunFacts(
            title=previous.title.removeprefix("Report: "),
            report_path=report_rel,
            plan_path=plan_rel,
            date=dt.date.today(),
            tags=tuple(previous.tags),
            status="completed" if status == "done" else "failed",
            summary=f"{previous.summary}\n\n{round_note}".strip(),
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
        message = f"devbot: report after review feedback on #{self.number}\n\nRun: {self.run_id}\n"
        return commit_report(git, facts, prepared["base_sha"], message)

    def _do_push(self, branch: str, sha: str) -> dict[str, Any]:
        remote = self.settings.remote
        try:
            worktrees.push(self.git, remote, sha, branch)
        except GitError as exc:
            return {
                "pushed": False,
                "error": f"push of {branch} failed (never forced); the work is kept in "
                f"{self.worktree}: {exc}",
            }
        self.say(f"pushed {sha[:10]} to {remote}/{branch}")
        return {"pushed": True, "error": ""}

    def _do_replies(self, sha: str, result: AgentResult, changed: bool) -> None:
        identity = self.forge.identity()
        listed = [
            c for c in self.forge.list_feedback(self.number) if same_login(c.author, identity)
        ]
        answered = {c.in_reply_to for c in listed if c.in_reply_to and "devbot:reply:" in c.body}
        summary = redact(result.summary.strip() or result.message)
        if not changed:
            summary = "No code change was needed. " + summary
        for comment in self.comments:
            if comment["kind"] != "review_comment" or comment["id"] in answered:
                continue
            key = _marker("reply", comment["id"])
            if any(key in c.body for c in listed):
                continue
            body = render("devbot.runs", "feedback_reply.txt", sha=sha, summary=summary).strip()
            target = comment["in_reply_to"] or comment["id"]
            self.forge.reply_to_review_comment(
                self.number, target, with_marker(f"{body}\n{key}", COMMENT_MARKER)
            )

    def _do_resolve(self) -> None:
        threads = {c["thread_id"] for c in self.comments if c.get("thread_id")}
        for thread_id in sorted(threads):
            self.forge.resolve_thread(thread_id)

    def _do_remove_worktree(self) -> None:
        worktrees.remove(self.git, self.worktree)

    # -- helpers -------------------------------------------------------------------------

    def _task_body(self, pr: dict[str, Any], prepared: dict[str, Any]) -> str:
        plan_text, report_text = clean_untrusted(pr["body"]), "(none)"
        if prepared["plan_path"]:
            plan_text = _plan(self.worktree, prepared["plan_path"], self.settings).body
        if prepared["report_path"]:
            report_text = read_inside(self.worktree, prepared["report_path"])
        comments = "\n".join(_describe_comment(c) for c in self.comments)
        return redact(
            render(
                "devbot.runs",
                "feedback_task.txt",
                number=self.number,
                pr_title=clean_untrusted(pr["title"]),
                plan_path=prepared["plan_path"] or "the pull request's description",
                plan=plan_text.strip(),
                report=report_text.strip(),
                comments=comments,
            )
        )

    def _progress(self, stage: str) -> str:
        return render(
            "devbot.runs",
            "feedback_progress.txt",
            count=len(self.comments),
            run_id=self.run_id,
            stage=stage,
        ).strip()

    def _update_progress(self, stage: str) -> None:
        if self.progress_id is None:
            return
        progress_id = self.progress_id
        body = with_marker(
            f"{self._progress(stage)}\n{_marker('progress', self.run_id)}", COMMENT_MARKER
        )
        _step(f"progress: {stage}", lambda: self.forge.update_comment(progress_id, redact(body)))

    def _finish(
        self,
        status: str,
        reason: str,
        *,
        result: AgentResult | None = None,
        head_sha: str = "",
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        finished_at: float = _step("finished_at", time.time)
        duration = finished_at - self.started_at
        tokens = (result.prompt_tokens + result.completion_tokens) if result else 0
        body = render(
            "devbot.runs",
            "feedback_status.txt",
            run_id=self.run_id,
            status=status,
            reason=reason,
            comments=", ".join(str(c["id"]) for c in self.comments) or "none",
            commit=head_sha or "none pushed",
            exit_status=str(result.exit_status) if result else "-",
            duration_s=f"{duration:.1f}",
            tokens=f"{tokens:,}",
            prompt_tokens=f"{result.prompt_tokens:,}" if result else 0,
            completion_tokens=f"{result.completion_tokens:,}" if result else 0,
            cost_usd=f"{result.cost_usd:.4f}" if result else "0.0000",
            notes="\n".join(notes or []),
        ).strip()
        key = _marker("status", self.run_id)
        _step("final_status", lambda: _post_once(self.forge, self.number, key, redact(body)))
        self._update_progress(f"finished ({status}), see the status comment")
        _step("finish_state", lambda: self.state.finish(self.run_id, status))
        values: dict[str, Any] = {
            "status": "completed" if status == "done" else "failed",
            "message": reason,
            "head_sha": head_sha,
            "finished_at": finished_at,
        }
        if result is not None:
            values.update(
                exit_status=str(result.exit_status),
                steps=result.steps,
                model_calls=result.model_calls,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                cost_usd=result.cost_usd,
            )
        self.store.update(self.run_id, **values)
        self.say(f"feedback run {status}: {reason}")
        return {"status": status, "message": reason, "head_sha": head_sha}

    def fail_safely(self, reason: str) -> dict[str, Any]:
        """Last resort after a crash of ours: still tell the PR, never raise."""
        try:
            return self._finish("failed", redact(reason))
        except Exception as exc:  # the forge itself may be what failed
            self.say(f"feedback run failed: {redact(reason)}; status not posted: {exc}")
            return {"status": "failed", "message": reason, "head_sha": ""}


def _judge(result: AgentResult, tests: dict[str, Any]) -> tuple[str, str]:
    if str(result.exit_status) != "submitted":
        return "failed", f"the agent stopped: {result.exit_status}: {result.message}"
    failure = tests_failure(tests)
    if failure:
        return "failed", failure
    return "done", result.message or "the agent addressed the comments"


def _describe_comment(comment: dict[str, Any]) -> str:
    where = ""
    if comment.get("path"):
        where = f" on `{comment['path']}`" + (
            f" line {comment['line']}" if comment.get("line") else ""
        )
    text = render(
        "devbot.runs",
        "feedback_comment.txt",
        id=comment["id"],
        author=comment["author"],
        kind=comment["kind"].replace("_", " ")
        + (f", {comment['review_state']}" if comment.get("review_state") else ""),
        where=where,
        body=comment["body"] or "(no text)",
    )
    if comment.get("diff_hunk"):
        text += f"\nDiff hunk:\n```diff\n{comment['diff_hunk']}\n```\n"
    return text


def _find_report(worktree: Path, plan_dirs: tuple[str, ...]) -> tuple[str, str]:
    """(plan path, report path) of the newest REPORT on the branch; ("", "") when none.

    Only regular files inside the worktree count: a plan folder, report or plan that is a
    symbolic link out of the worktree is ignored (the branch is not trusted)."""
    reports: list[str] = []
    for folder in plan_dirs:
        try:
            real = inside_path(worktree, folder)
        except PathOutsideWorkspace:
            continue
        if real.is_dir():
            reports += [f"{folder}/{p.name}" for p in real.glob("*__REPORT__*.md")]
    for report_rel in sorted(reports, key=lambda rel: PurePosixPath(rel).name, reverse=True):
        try:
            plan_rel = parse_report(read_inside(worktree, report_rel)).plan_file
        except (OSError, ValueError):
            continue
        if plan_rel and _plan_text(worktree, plan_rel) is None:
            plan_rel = ""
        return plan_rel, report_rel
    return "", ""


def _plan_text(worktree: Path, plan_rel: str) -> str | None:
    try:
        return read_inside(worktree, plan_rel)
    except (OSError, ValueError):
        return None


def _plan(worktree: Path, plan_rel: str, settings: Settings) -> Plan:
    text = read_inside(worktree, plan_rel, settings.max_plan_bytes)
    return parse_plan_text(text, worktree / plan_rel, settings.max_plan_bytes)
