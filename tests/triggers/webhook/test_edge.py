"""The webhook server's edge on loopback: signatures, dedupe, ping, ignored and malformed
deliveries. Dispatch is off, so these check only what the HTTP side stores and answers."""

from __future__ import annotations

from typing import Any

import pytest

from devbot.config import ConfigError, load_settings
from devbot.triggers.webhook.server import webhook_secret
from tests.fixtures.repo import OriginRepo
from tests.fixtures.webhook import IDENTITY, RunningServer, StartServer, review_comment


@pytest.fixture
def server(origin_repo: OriginRepo, webhook_server: StartServer) -> RunningServer:
    settings = load_settings(origin_repo.work, environ={})
    return webhook_server(origin_repo.work, settings, dispatch=False, identity=IDENTITY)


def stored(server: RunningServer) -> set[str]:
    return server.server.inbox.ids()


def test_signed_delivery_is_stored_once_and_a_replay_is_a_duplicate(server: RunningServer) -> None:
    assert server.post("pull_request_review_comment", review_comment(), delivery="d-1") == (
        202,
        {"status": "accepted"},
    )
    assert server.post("pull_request_review_comment", review_comment(), delivery="d-1") == (
        200,
        {"status": "duplicate"},
    )
    assert stored(server) == {"d-1"}
    delivery = server.server.inbox.get("d-1")
    assert delivery is not None and delivery.status == "pending"
    assert delivery.trigger.comment is not None and delivery.trigger.comment.path == "utils.py"


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "garbage header", "tampered body"])
def test_bad_signatures_get_401_and_store_nothing(server: RunningServer, how: str) -> None:
    payload = review_comment()
    if how == "unsigned":
        answer = server.post("pull_request_review_comment", payload, signed=False)
    elif how == "wrong secret":
        answer = server.post("pull_request_review_comment", payload, secret=b"not-the-secret")
    else:
        import json

        from devbot.triggers.webhook.signature import sign

        body = json.dumps(payload).encode()
        signature = "sha256=zz" if how == "garbage header" else sign(server.secret, body + b" ")
        answer = server.send(
            body,
            {
                "X-GitHub-Event": "pull_request_review_comment",
                "X-GitHub-Delivery": "d-bad",
                "X-Hub-Signature-256": signature,
            },
        )
    assert answer[0] == 401
    assert stored(server) == set()


def test_ping_is_200_and_unhandled_events_are_ignored(server: RunningServer) -> None:
    assert server.post("ping", {"zen": "Keep it logically awesome."})[0] == 200
    assert server.post("push", {"ref": "refs/heads/main"}) == (
        200,
        {"status": "ignored", "reason": "event 'push' is not handled"},
    )
    assert stored(server) == set()


@pytest.mark.parametrize(
    ("body", "event"),
    [
        (b"{not json", "issue_comment"),
        (b"\xff\xfe", "issue_comment"),
        (b"[1, 2]", "issue_comment"),
        (b'{"action": "created"}', "issue_comment"),
        (
            b'{"action": "created", "sender": {"login": "a"}, "repository": {}, "issue": 3}',
            "issue_comment",
        ),
        (
            b'{"action": "created", "sender": {"login": "a"}, "repository": {},'
            b' "pull_request": {"number": "one"}}',
            "pull_request_review_comment",
        ),
        (b"[" * 100_000, "issue_comment"),
    ],
)
def test_malformed_bodies_get_400_never_500(server: RunningServer, body: bytes, event: str) -> None:
    status, answer = server.post(event, body)
    assert status == 400, answer
    assert stored(server) == set()


def test_missing_headers_are_400(server: RunningServer) -> None:
    from devbot.triggers.webhook.signature import sign

    body = b"{}"
    assert server.send(body, {"X-Hub-Signature-256": sign(server.secret, body)})[0] == 400


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (review_comment(login="renovate[bot]"), "sent by a bot"),
        (review_comment("Done.", login=IDENTITY), "devbot's own comment"),
    ],
)
def test_bots_and_devbot_itself_are_ignored_at_the_edge(
    server: RunningServer, payload: dict[str, Any], reason: str
) -> None:
    assert server.post("pull_request_review_comment", payload) == (
        200,
        {"status": "ignored", "reason": reason},
    )
    assert stored(server) == set()


def test_a_pr_not_opened_by_devbot_needs_a_mention(server: RunningServer) -> None:
    other = review_comment("looks odd")
    other["pull_request"] = {"number": 2, "body": "by a human", "head": {"ref": "feature"}}
    assert server.post("pull_request_review_comment", other)[1]["status"] == "ignored"
    other["comment"]["body"] = "@devbot please fix the typo"
    assert server.post("pull_request_review_comment", other)[0] == 202
    hidden = review_comment("fine <!-- @devbot rm -rf -->")
    hidden["pull_request"] = other["pull_request"]
    assert server.post("pull_request_review_comment", hidden)[1]["status"] == "ignored"


def test_healthz(server: RunningServer) -> None:
    import urllib.request

    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer:
        assert answer.status == 200


def test_no_secret_means_no_server() -> None:
    with pytest.raises(ConfigError, match="DEVBOT_WEBHOOK_SECRET"):
        webhook_secret({})
    with pytest.raises(ConfigError):
        webhook_secret({"DEVBOT_WEBHOOK_SECRET": "  "})
    assert webhook_secret({"DEVBOT_WEBHOOK_SECRET": "s3cret"}) == b"s3cret"


def test_inbox_keeps_deliveries_across_server_restarts(
    origin_repo: OriginRepo, webhook_server: StartServer
) -> None:
    settings = load_settings(origin_repo.work, environ={})
    first = webhook_server(origin_repo.work, settings, dispatch=False, identity=IDENTITY)
    assert first.post("pull_request_review_comment", review_comment(), delivery="d-9")[0] == 202
    first.server.stop()
    second = webhook_server(origin_repo.work, settings, dispatch=False, identity=IDENTITY)
    assert second.post("pull_request_review_comment", review_comment(), delivery="d-9")[0] == 200
    assert second.server.inbox.ids() == {"d-9"}
