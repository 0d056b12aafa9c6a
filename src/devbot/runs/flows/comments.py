"""Which review comments a feedback run answers, and how they are put to the agent.

Comments are text from people: they are cleaned of hidden text and secrets, clipped, and
only those of users with write permission count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from devbot.redact import redact
from devbot.runs.runtime import Runtime
from devbot.templating import render
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import Comment, FeedbackForge, same_login

MAX_COMMENT_CHARS = 6000


@dataclass(frozen=True)
class Collected:
    """The comments this run answers, and those it leaves aside (by id)."""

    comments: tuple[Comment, ...]
    edited: tuple[int, ...] = ()
    unauthorised: tuple[int, ...] = ()

    def notes(self) -> list[str]:
        return [f"- ignored (edited after the trigger): {c}" for c in self.edited] + [
            f"- ignored (no write permission): {c}" for c in self.unauthorised
        ]


def _stamp(text: str) -> float:
    """Epoch seconds of a forge timestamp (ISO 8601); 0 when unreadable."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def collect_comments(
    runtime: Runtime, forge: FeedbackForge, scope: str, number: int, cutoff: float
) -> Collected:
    """The comments of PR `number` a feedback run that began at `cutoff` answers: those not
    answered yet, written by people with write permission, unchanged since they arrived, and
    that arrived before the run began (later ones are the next run's); cleaned for a model."""
    addressed = runtime.feedback.addressed(scope, number)
    received = runtime.feedback.received(scope, number)
    kept: list[Comment] = []
    edited: list[int] = []
    unauthorised: list[int] = []
    for comment in forge.list_feedback(number):
        if comment.id in addressed or same_login(comment.author, forge.identity()):
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
        if not runtime.may_trigger(forge, comment.author, scope):
            unauthorised.append(comment.id)
            continue
        body = clean_untrusted(redact(comment.body))[:MAX_COMMENT_CHARS]
        kept.append(replace(comment, body=body))
    return Collected(tuple(kept), tuple(edited), tuple(unauthorised))


def describe_comment(comment: Comment) -> str:
    where = ""
    if comment.path:
        where = f" on `{comment.path}`" + (f" line {comment.line}" if comment.line else "")
    state = f", {comment.review_state}" if comment.review_state else ""
    text = render(
        "devbot.runs",
        "feedback_comment.txt",
        id=comment.id,
        author=comment.author,
        kind=comment.kind.replace("_", " ") + state,
        where=where,
        body=comment.body or "(no text)",
    )
    if comment.diff_hunk:
        text += f"\nDiff hunk:\n```diff\n{comment.diff_hunk}\n```\n"
    return text
