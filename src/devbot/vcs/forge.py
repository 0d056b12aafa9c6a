"""Forges hold pull requests. `LocalForge` keeps them in a SQLite file: for demos, tests and
repositories with no hosted forge. Every forge finds the PR for a branch before opening one,
so a repeated step never opens a second PR.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

from devbot.outward import outward

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pull_requests (
        number INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        head TEXT NOT NULL,
        base TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open'
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS one_open_pr_per_head
        ON pull_requests (head) WHERE state = 'open'""",
)
_COLUMNS = "number, title, body, head, base, state"

PR_MARKER = "<!-- devbot:pr -->"
"""Hidden in the body of every pull request devbot opens, for people and tools reading it.
It proves nothing (anyone can write it): devbot knows its own PRs by their author."""
COMMENT_MARKER = "<!-- devbot -->"
"""Hidden in every comment and reply devbot posts; like PR_MARKER, never a proof."""


def with_marker(body: str, marker: str) -> str:
    """`body` ending with `marker` (once), so the marker survives edits of the text above it."""
    return body if marker in body else f"{body.rstrip()}\n\n{marker}\n"


def same_login(first: str, second: str) -> bool:
    """GitHub logins compare without case."""
    return bool(first) and first.lower() == second.lower()


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    head: str
    base: str
    url: str
    state: str = "open"
    author: str = ""
    """Login of who opened it, as the forge records it."""
    head_repo: str = ""
    """`owner/name` of the repository the head branch lives in ("" when unknown or gone)."""
    head_sha: str = ""
    """The commit the head branch points at, as the forge last saw it."""


class Forge(Protocol):
    """Where pull requests live (local SQLite, GitHub, ...)."""

    name: str

    def find_pull_request(self, head: str) -> PullRequest | None: ...

    def open_or_update_pull_request(
        self, *, title: str, body: str, head: str, base: str
    ) -> PullRequest: ...


CommentKind = Literal["review_comment", "issue_comment", "review"]


@dataclass(frozen=True)
class Comment:
    """One piece of feedback on a pull request, with the context the agent needs."""

    id: int
    kind: CommentKind
    author: str
    body: str
    created_at: str
    updated_at: str
    path: str | None = None
    line: int | None = None
    diff_hunk: str | None = None
    in_reply_to: int | None = None
    thread_id: str | None = None
    review_state: str | None = None
    url: str = ""
    author_type: str = "User"
    """GitHub's user type: "User", "Bot" or "Organization"."""


class FeedbackForge(Forge, Protocol):
    """A forge where reviewers talk back: GitHub. Permission names follow GitHub's API."""

    full_name: str
    """`owner/name` of the repository this forge works on."""

    def identity(self) -> str:
        """The login devbot acts as here (the token's user, or the App's `<slug>[bot]`)."""
        ...

    def permission(self, user: str) -> str:
        """ "admin", "maintain", "write", "triage", "read" or "none" for `user` on the repo."""
        ...

    def get_pull_request(self, number: int) -> PullRequest | None: ...

    def list_feedback(self, number: int) -> list[Comment]:
        """Review comments, reviews with a body or changes requested, conversation comments."""
        ...

    def add_reaction(self, comment: Comment, content: str) -> None: ...

    def post_comment(self, number: int, body: str) -> int: ...

    def update_comment(self, comment_id: int, body: str) -> None: ...

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> int: ...

    def resolve_thread(self, thread_id: str) -> None: ...


FAILING_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})
"""Conclusions of a check that say the code (or its CI) is broken; `cancelled` is a person's
choice and `action_required` waits for one, so neither starts a fix."""


@dataclass(frozen=True)
class CheckRun:
    """One check of a commit (a GitHub Actions job, or another app's check)."""

    id: int
    name: str
    status: str
    """"queued", "in_progress" or "completed" (GitHub adds "waiting", "requested", "pending")."""
    conclusion: str
    """"success", "failure", ... ("" until completed)."""
    url: str = ""
    title: str = ""
    summary: str = ""
    app: str = ""
    """The slug of the app that made it ("github-actions" for workflow jobs)."""
    job_id: int | None = None
    """The Actions job behind it, whose log can be read and which can be re-run."""

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def failed(self) -> bool:
        return self.completed and self.conclusion in FAILING_CONCLUSIONS


@dataclass(frozen=True)
class Annotation:
    """A line a check pointed at (a compiler error, a failed assertion)."""

    path: str
    line: int
    level: str
    message: str
    title: str = ""


class ChecksForge(Protocol):
    """A forge that runs CI on commits and tells its results: GitHub (checks, Actions)."""

    def check_runs(self, sha: str) -> list[CheckRun]:
        """The latest run of every check of commit `sha`."""
        ...

    def annotations(self, check_run_id: int, limit: int) -> list[Annotation]: ...

    def job_log(self, job_id: int, max_bytes: int) -> tuple[str, int]:
        """The last `max_bytes` of the job's log, and how many bytes before them were cut
        ("" when the job has no log)."""
        ...

    def rerun_job(self, job_id: int) -> None: ...


class LocalForge:
    """Pull requests in a SQLite file; safe for several processes sharing the file."""

    name = "local"

    def __init__(self, path: Path, repo_name: str | None = None, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.repo_name = repo_name or _repo_name(self.path)
        self.timeout_s = timeout_s

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The open PR whose head is `head`, if any."""
        with self._transaction() as db:
            return self._find(db, head)

    def open_or_update_pull_request(
        self, *, title: str, body: str, head: str, base: str
    ) -> PullRequest:
        """Update the open PR for `head` (title, body) or open one; both in one transaction.
        Title and body pass the outward gate."""
        title, body = outward(title), outward(body)
        with self._transaction() as db:
            existing = self._find(db, head)
            if existing is not None:
                db.execute(
                    "UPDATE pull_requests SET title = ?, body = ? WHERE number = ?",
                    (title, body, existing.number),
                )
                return replace(existing, title=title, body=body)
            cursor = db.execute(
                "INSERT INTO pull_requests (title, body, head, base) VALUES (?, ?, ?, ?)",
                (title, body, head, base),
            )
            return self._record((cursor.lastrowid or 0, title, body, head, base, "open"))

    def list_pull_requests(self) -> list[PullRequest]:
        with self._transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM pull_requests ORDER BY number").fetchall()
        return [self._record(row) for row in rows]

    def _find(self, db: sqlite3.Connection, head: str) -> PullRequest | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM pull_requests WHERE head = ? AND state = 'open'", (head,)
        ).fetchone()
        return self._record(row) if row else None

    def _record(self, row: tuple[int, str, str, str, str, str]) -> PullRequest:
        number, title, body, head, base, state = row
        url = f"local://{self.repo_name}/pull/{number}"
        return PullRequest(number, title, body, head, base, url, state)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write-locked transaction (BEGIN IMMEDIATE): a reader-then-writer never races."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(
            sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        ) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    db.execute(statement)
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _repo_name(path: Path) -> str:
    """`<repo>` for `<repo>/.devbot/x.sqlite`, else the file's stem."""
    parent = path.resolve().parent
    return parent.parent.name if parent.name == ".devbot" else path.stem
