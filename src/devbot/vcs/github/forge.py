"""`GitHubForge`: pull requests, comments, reactions and review threads on GitHub.

devbot recognises its own work by its author: `identity()` is the login GitHub reports for
devbot's credentials; the markers in bodies are for readers and never trusted. The open PR
for a branch is looked up before one is created (and again when GitHub answers that one
already exists), so a repeated step never opens a second PR. Review-thread ids and resolving
a thread need GraphQL; everything else is REST.
"""

from __future__ import annotations

import re
from typing import Any

from devbot.vcs.forge import (
    COMMENT_MARKER,
    PR_MARKER,
    Annotation,
    CheckRun,
    Comment,
    PullRequest,
    with_marker,
)
from devbot.vcs.github.client import GitHubClient, GitHubError
from devbot.vcs.github.repo import RepoRef

MAX_CHECK_RUNS = 300
_ACTIONS_JOB = re.compile(r"/actions/runs/\d+/jobs?/(\d+)")
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")

_THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 100) { nodes { databaseId } } }
      }
    }
  }
}
"""

_RESOLVE_MUTATION = """
mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""


class GitHubForge:
    """A FeedbackForge for one GitHub (or GitHub Enterprise) repository."""

    name = "github"

    def __init__(self, client: GitHubClient, repo: RepoRef, draft: bool = False) -> None:
        self.client = client
        self.repo = repo
        self.full_name = repo.full_name
        self.draft = draft
        self._base = f"/repos/{repo.owner}/{repo.name}"
        self._identity: str | None = None

    def identity(self) -> str:
        """The token's user (`GET /user`), or `<slug>[bot]` for a GitHub App (`GET /app`)."""
        if self._identity is None:
            app_jwt = self.client.app_jwt()
            if app_jwt is None:
                self._identity = str(self.client.get("/user")["login"])
            else:
                app = self.client.call("GET", "/app", token=app_jwt).data
                self._identity = f"{app['slug']}[bot]"
        return self._identity

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The open PR whose head is `head` in this repository, if any."""
        found = self._find(head)
        return _pull_request(found) if found else None

    def open_or_update_pull_request(
        self, *, title: str, body: str, head: str, base: str
    ) -> PullRequest:
        """Update the open PR for `head` (title, body) or open one (draft per settings)."""
        body = with_marker(body, PR_MARKER)
        existing = self._find(head)
        if existing is None:
            try:
                created = self.client.post(
                    f"{self._base}/pulls",
                    {"title": title, "head": head, "base": base, "body": body, "draft": self.draft},
                )
                return _pull_request(created)
            except GitHubError as exc:
                existing = self._find(head) if exc.status == 422 else None
                if existing is None:
                    raise
        updated = self.client.patch(
            f"{self._base}/pulls/{existing['number']}", {"title": title, "body": body}
        )
        return _pull_request(updated)

    def get_pull_request(self, number: int) -> PullRequest | None:
        try:
            return _pull_request(self.client.get(f"{self._base}/pulls/{number}"))
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def permission(self, user: str) -> str:
        """The user's role on the repository ("none" for unknown users)."""
        try:
            answer = self.client.get(f"{self._base}/collaborators/{user}/permission")
        except GitHubError as exc:
            if exc.status == 404:
                return "none"
            raise
        role = str(answer.get("role_name") or "")
        return role if role in PERMISSIONS else str(answer.get("permission") or "none")

    def list_feedback(self, number: int) -> list[Comment]:
        """Review comments (with thread ids), reviews with a body or changes requested, and
        conversation comments, oldest first. devbot's own comments are included: filter them
        by author (`identity()`)."""
        threads = self.review_threads(number)
        comments = [
            _review_comment(raw, threads.get(int(raw["id"])))
            for raw in self.client.paginate(f"{self._base}/pulls/{number}/comments")
        ]
        for raw in self.client.paginate(f"{self._base}/pulls/{number}/reviews"):
            if (raw.get("body") or "").strip() or raw.get("state") == "CHANGES_REQUESTED":
                comments.append(_review(raw))
        comments.extend(
            _issue_comment(raw)
            for raw in self.client.paginate(f"{self._base}/issues/{number}/comments")
        )
        return sorted(comments, key=lambda comment: (comment.created_at, comment.id))

    def review_threads(self, number: int) -> dict[int, str]:
        """Review comment id -> id of its review thread (GraphQL node id)."""
        threads: dict[int, str] = {}
        after: str | None = None
        while True:
            variables = {"owner": self.repo.owner, "name": self.repo.name, "number": number}
            data = self.client.graphql(_THREADS_QUERY, {**variables, "after": after})
            pull = ((data.get("repository") or {}).get("pullRequest")) or {}
            page = pull.get("reviewThreads") or {}
            for thread in page.get("nodes") or []:
                for comment in (thread.get("comments") or {}).get("nodes") or []:
                    threads[int(comment["databaseId"])] = str(thread["id"])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return threads
            after = info.get("endCursor")

    def add_reaction(self, comment: Comment, content: str) -> None:
        """React to a review or conversation comment; GitHub has no reactions on reviews."""
        if content not in REACTIONS:
            raise ValueError(f"reaction {content!r}: choose one of {sorted(REACTIONS)}")
        kind = {"review_comment": "pulls", "issue_comment": "issues"}.get(comment.kind)
        if kind is not None:
            self.client.post(
                f"{self._base}/{kind}/comments/{comment.id}/reactions", {"content": content}
            )

    def post_comment(self, number: int, body: str) -> int:
        """A conversation comment on the PR (or issue) `number`; returns its id."""
        answer = self.client.post(
            f"{self._base}/issues/{number}/comments", {"body": with_marker(body, COMMENT_MARKER)}
        )
        return int(answer["id"])

    def update_comment(self, comment_id: int, body: str) -> None:
        self.client.patch(
            f"{self._base}/issues/comments/{comment_id}",
            {"body": with_marker(body, COMMENT_MARKER)},
        )

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> int:
        """A reply in the thread of review comment `comment_id`; returns the reply's id."""
        answer = self.client.post(
            f"{self._base}/pulls/{number}/comments/{comment_id}/replies",
            {"body": with_marker(body, COMMENT_MARKER)},
        )
        return int(answer["id"])

    def resolve_thread(self, thread_id: str) -> None:
        self.client.graphql(_RESOLVE_MUTATION, {"threadId": thread_id})

    # -- checks and Actions (ChecksForge) -------------------------------------------------

    def check_runs(self, sha: str) -> list[CheckRun]:
        """The latest run of each check of `sha` (at most MAX_CHECK_RUNS)."""
        found: list[CheckRun] = []
        page = 1
        while len(found) < MAX_CHECK_RUNS:
            answer = self.client.get(
                f"{self._base}/commits/{sha}/check-runs",
                {"filter": "latest", "per_page": 100, "page": page},
            )
            runs = (answer.get("check_runs") or []) if isinstance(answer, dict) else []
            found.extend(_check_run(raw) for raw in runs)
            if len(runs) < 100 or len(found) >= int(answer.get("total_count") or 0):
                break
            page += 1
        return found[:MAX_CHECK_RUNS]

    def annotations(self, check_run_id: int, limit: int) -> list[Annotation]:
        raw = self.client.get(
            f"{self._base}/check-runs/{check_run_id}/annotations", {"per_page": min(limit, 100)}
        )
        return [
            Annotation(
                path=str(item.get("path") or ""),
                line=int(item.get("start_line") or 0),
                level=str(item.get("annotation_level") or ""),
                message=str(item.get("message") or ""),
                title=str(item.get("title") or ""),
            )
            for item in (raw or [])[:limit]
            if isinstance(item, dict)
        ]

    def job_log(self, job_id: int, max_bytes: int) -> tuple[str, int]:
        """The tail of an Actions job's log: GitHub answers with a redirect to a short-lived
        download URL, fetched without devbot's credentials and never held whole. A job
        without a log (expired, or never written) has ""."""
        try:
            data, cut = self.client.download_tail(
                f"{self._base}/actions/jobs/{job_id}/logs", max_bytes
            )
        except GitHubError as exc:
            if exc.status in (404, 410):  # no log (any more): logs expire
                return "", 0
            raise
        return data.decode("utf-8", errors="replace"), cut

    def rerun_job(self, job_id: int) -> None:
        self.client.post(f"{self._base}/actions/jobs/{job_id}/rerun", {})

    def _find(self, head: str) -> dict[str, Any] | None:
        found = self.client.get(
            f"{self._base}/pulls", {"head": f"{self.repo.owner}:{head}", "state": "open"}
        )
        return found[0] if found else None


def _pull_request(raw: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(raw["number"]),
        title=str(raw.get("title") or ""),
        body=str(raw.get("body") or ""),
        head=str(raw["head"]["ref"]),
        base=str(raw["base"]["ref"]),
        url=str(raw.get("html_url") or ""),
        state=str(raw.get("state") or "open"),
        author=_user(raw)[0],
        head_repo=str(((raw["head"].get("repo") or {}).get("full_name")) or ""),
        head_sha=str(raw["head"].get("sha") or ""),
    )


def _check_run(raw: dict[str, Any]) -> CheckRun:
    output = raw.get("output") if isinstance(raw.get("output"), dict) else {}
    app = raw.get("app") if isinstance(raw.get("app"), dict) else {}
    slug = str((app or {}).get("slug") or "")
    job = _ACTIONS_JOB.search(str(raw.get("details_url") or raw.get("html_url") or ""))
    job_id = int(job.group(1)) if job else (int(raw["id"]) if slug == "github-actions" else None)
    return CheckRun(
        id=int(raw["id"]),
        name=str(raw.get("name") or ""),
        status=str(raw.get("status") or ""),
        conclusion=str(raw.get("conclusion") or ""),
        url=str(raw.get("html_url") or raw.get("details_url") or ""),
        title=str((output or {}).get("title") or ""),
        summary=str((output or {}).get("summary") or ""),
        app=slug,
        job_id=job_id,
    )


def _user(raw: dict[str, Any]) -> tuple[str, str]:
    user = raw.get("user") or {}
    return str(user.get("login") or "ghost"), str(user.get("type") or "User")


def _review_comment(raw: dict[str, Any], thread_id: str | None) -> Comment:
    author, author_type = _user(raw)
    line = raw.get("line") or raw.get("original_line")
    reply_to = raw.get("in_reply_to_id")
    return Comment(
        id=int(raw["id"]),
        kind="review_comment",
        author=author,
        author_type=author_type,
        body=str(raw.get("body") or ""),
        created_at=str(raw.get("created_at") or ""),
        updated_at=str(raw.get("updated_at") or ""),
        path=raw.get("path"),
        line=int(line) if line else None,
        diff_hunk=raw.get("diff_hunk"),
        in_reply_to=int(reply_to) if reply_to else None,
        thread_id=thread_id,
        url=str(raw.get("html_url") or ""),
    )


def _review(raw: dict[str, Any]) -> Comment:
    author, author_type = _user(raw)
    submitted = str(raw.get("submitted_at") or "")
    return Comment(
        id=int(raw["id"]),
        kind="review",
        author=author,
        author_type=author_type,
        body=str(raw.get("body") or ""),
        created_at=submitted,
        updated_at=submitted,
        review_state=raw.get("state"),
        url=str(raw.get("html_url") or ""),
    )


def _issue_comment(raw: dict[str, Any]) -> Comment:
    author, author_type = _user(raw)
    return Comment(
        id=int(raw["id"]),
        kind="issue_comment",
        author=author,
        author_type=author_type,
        body=str(raw.get("body") or ""),
        created_at=str(raw.get("created_at") or ""),
        updated_at=str(raw.get("updated_at") or ""),
        url=str(raw.get("html_url") or ""),
    )
