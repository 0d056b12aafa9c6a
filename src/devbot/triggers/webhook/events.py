"""Decide what a delivery asks for, reading only the fields devbot needs, defensively.

GitHub's payloads vary by event, action and version, and typed parsers reject many real
ones; so each field is read where it is needed, and a field devbot needs that is missing or
of the wrong type makes the delivery malformed (400), never a crash. Everything that needs
the forge (permission, a PR's branch) is left to the durable workflow.

Who did what comes from the fields GitHub fills in (a PR's `user`, its head repository, a
comment's author), compared with devbot's own login (`identity`), never from text anyone
can write, such as devbot's markers in a body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from devbot.config import Settings
from devbot.runs.requests import CiTrigger, FeedbackTrigger, IssueTrigger, Trigger
from devbot.untrusted import clean_untrusted
from devbot.vcs.forge import FAILING_CONCLUSIONS, Comment, CommentKind, same_login

CI_EVENTS = frozenset({"check_suite", "check_run", "workflow_run"})
HANDLED_EVENTS = frozenset(
    {"pull_request_review_comment", "pull_request_review", "issue_comment", "issues", *CI_EVENTS}
)
MAX_PULL_REQUESTS = 5
"""A commit's CI result is acted on for at most this many of the pull requests it heads."""


class Malformed(ValueError):
    """A delivery lacks a field devbot needs, or has it with the wrong type."""


@dataclass(frozen=True)
class Decision:
    verdict: Literal["accepted", "ignored"]
    reason: str
    action: str = ""
    trigger: Trigger | None = None


@dataclass(frozen=True)
class _Delivery:
    """What every trigger of one delivery carries."""

    action: str
    delivery_id: str
    received_at: float
    sender: str


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"field {key!r} must be an object")
    return value


def _integer(parent: dict[str, Any], key: str) -> int:
    value = parent.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"field {key!r} must be an integer")
    return value


def _text(parent: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = parent.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"field {key!r} must be a string")
    return value


def _optional_int(parent: dict[str, Any], key: str) -> int | None:
    value = parent.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_text(parent: dict[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) else None


def is_bot(user: dict[str, Any]) -> bool:
    login = user.get("login")
    return user.get("type") == "Bot" or (isinstance(login, str) and login.endswith("[bot]"))


def mentions(body: str, mention: str) -> bool:
    """True when the visible text names `mention` as a word (not inside an HTML comment)."""
    if not mention:
        return False
    pattern = rf"(?<![\w@/.-]){re.escape(mention)}(?![\w-])"
    return re.search(pattern, clean_untrusted(body), re.IGNORECASE) is not None


def _comment(kind: CommentKind, raw: dict[str, Any], **overrides: Any) -> Comment:
    user = _object(raw, "user")
    values: dict[str, Any] = {
        "id": _integer(raw, "id"),
        "kind": kind,
        "author": _text(user, "login", required=True),
        "body": _text(raw, "body"),
        "created_at": _text(raw, "created_at"),
        "updated_at": _text(raw, "updated_at") or _text(raw, "created_at"),
        "path": _optional_text(raw, "path"),
        "line": _optional_int(raw, "line") or _optional_int(raw, "original_line"),
        "diff_hunk": _optional_text(raw, "diff_hunk"),
        "in_reply_to": _optional_int(raw, "in_reply_to_id"),
        "url": _text(raw, "html_url"),
        "author_type": _text(user, "type") or "User",
    }
    values.update(overrides)
    return Comment(**values)


def _login_of(parent: dict[str, Any]) -> str:
    user = parent.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) else ""


def _opened_by(issue_or_pull: dict[str, Any], identity: str) -> bool:
    """Whether devbot (`identity`) opened this pull request, as GitHub records it."""
    return same_login(_login_of(issue_or_pull), identity)


def classify(
    event: str,
    payload: Any,
    settings: Settings,
    delivery_id: str,
    received_at: float,
    identity: str,
) -> Decision:
    """What to do with one verified delivery; raises Malformed for an unusable body.
    `identity` is devbot's own login on the forge."""
    if not isinstance(payload, dict):
        raise Malformed("the body must be a JSON object")
    action = payload.get("action")
    action = action if isinstance(action, str) else ""
    if event not in HANDLED_EVENTS:
        return Decision("ignored", f"event {event!r} is not handled", action)
    sender = _object(payload, "sender")
    if event in CI_EVENTS:  # CI is reported by apps and bots: whose PR it is decides later
        _object(payload, "repository")
        base = _Delivery(action, delivery_id, received_at, _text(sender, "login"))
        return _ci_event(event, payload, base)
    if is_bot(sender):
        return Decision("ignored", "sent by a bot", action)
    _object(payload, "repository")
    base = _Delivery(action, delivery_id, received_at, _text(sender, "login", required=True))
    if event == "issues":
        return _issue_event(payload, settings, base)
    if event == "issue_comment":
        return _issue_comment(payload, settings, base, identity)
    return _review_event(event, payload, settings, base, identity)


def _feedback(
    base: _Delivery, number: int, comment: Comment, owner: bool, mentioned: bool
) -> FeedbackTrigger:
    return FeedbackTrigger(
        base.delivery_id, base.received_at, base.sender, number, comment, owner, mentioned
    )


def _own_or_bot(raw: dict[str, Any], identity: str) -> str | None:
    user = raw.get("user")
    if same_login(_login_of(raw), identity):
        return "devbot's own comment"
    if isinstance(user, dict) and is_bot(user):
        return "written by a bot"
    return None


def _review_event(
    event: str, payload: dict[str, Any], settings: Settings, base: _Delivery, identity: str
) -> Decision:
    action = base.action
    pull = _object(payload, "pull_request")
    number = _integer(pull, "number")
    if event == "pull_request_review_comment":
        if action != "created":
            return Decision("ignored", f"review comment {action or 'without action'}", action)
        raw = _object(payload, "comment")
        comment = _comment("review_comment", raw)
    else:
        if action != "submitted":
            return Decision("ignored", f"review {action or 'without action'}", action)
        raw = _object(payload, "review")
        state = _text(raw, "state").lower()
        if not _text(raw, "body").strip() and state != "changes_requested":
            return Decision("ignored", "review without a body or requested changes", action)
        submitted = _text(raw, "submitted_at")
        comment = _comment(
            "review", raw, review_state=state, created_at=submitted, updated_at=submitted
        )
    skip = _own_or_bot(raw, identity)
    if skip:
        return Decision("ignored", skip, action)
    owner = _opened_by(pull, identity)
    mentioned = mentions(comment.body, settings.mention)
    if not owner and not mentioned:
        return Decision("ignored", "not devbot's pull request and devbot is not mentioned", action)
    return Decision(
        "accepted", "feedback", action, _feedback(base, number, comment, owner, mentioned)
    )


def _issue_comment(
    payload: dict[str, Any], settings: Settings, base: _Delivery, identity: str
) -> Decision:
    action = base.action
    if action != "created":
        return Decision("ignored", f"comment {action or 'without action'}", action)
    issue = _object(payload, "issue")
    number = _integer(issue, "number")
    raw = _object(payload, "comment")
    comment = _comment("issue_comment", raw)
    skip = _own_or_bot(raw, identity)
    if skip:
        return Decision("ignored", skip, action)
    mentioned = mentions(comment.body, settings.mention)
    if isinstance(issue.get("pull_request"), dict):
        owner = _opened_by(issue, identity)
        if not owner and not mentioned:
            return Decision(
                "ignored", "not devbot's pull request and devbot is not mentioned", action
            )
        trigger = _feedback(base, number, comment, owner, mentioned)
        return Decision("accepted", "feedback", action, trigger)
    if not mentioned:
        return Decision("ignored", "comment on an issue without a mention", action)
    return Decision("accepted", "issue plan", action, _issue_plan(base, issue, comment))


def _issue_event(payload: dict[str, Any], settings: Settings, base: _Delivery) -> Decision:
    action = base.action
    if action != "labeled":
        return Decision("ignored", f"issue {action or 'without action'}", action)
    label = payload.get("label")
    name = label.get("name") if isinstance(label, dict) else None
    if not isinstance(name, str) or name.lower() != settings.issue_label.lower():
        return Decision("ignored", f"label is not {settings.issue_label!r}", action)
    issue = _object(payload, "issue")
    if isinstance(issue.get("pull_request"), dict):
        return Decision("ignored", "the label is on a pull request", action)
    return Decision("accepted", "issue plan", action, _issue_plan(base, issue, None))


def _issue_plan(base: _Delivery, issue: dict[str, Any], comment: Comment | None) -> IssueTrigger:
    return IssueTrigger(
        base.delivery_id,
        base.received_at,
        base.sender,
        _integer(issue, "number"),
        _text(issue, "title"),
        _text(issue, "body"),
        comment,
    )


def _ci_event(event: str, payload: dict[str, Any], base: _Delivery) -> Decision:
    """A failed check suite, check run or workflow run of a commit on pull requests."""
    action = base.action
    if action != "completed":
        return Decision("ignored", f"{event} {action or 'without action'}", action)
    raw = _object(payload, event)
    conclusion = _text(raw, "conclusion")
    if conclusion not in FAILING_CONCLUSIONS:
        return Decision("ignored", f"{event} concluded {conclusion or 'nothing'}", action)
    pulls = raw.get("pull_requests")
    if event == "check_run" and not pulls:
        pulls = _object(raw, "check_suite").get("pull_requests")
    if not isinstance(pulls, list):
        raise Malformed("field 'pull_requests' must be a list")
    numbers = tuple(dict.fromkeys(_integer(p, "number") for p in pulls if isinstance(p, dict)))[
        :MAX_PULL_REQUESTS
    ]
    if not numbers:
        return Decision("ignored", f"{event} of a commit that heads no pull request", action)
    app = raw.get("app")
    name = _text(raw, "name") or (_text(app, "name") if isinstance(app, dict) else "") or event
    trigger = CiTrigger(
        base.delivery_id,
        base.received_at,
        base.sender,
        numbers,
        _text(raw, "head_sha", required=True),
        clean_untrusted(name)[:200],
        conclusion,
    )
    return Decision("accepted", "ci failure", action, trigger)
