"""Every example delivery GitHub publishes (npm @octokit/webhooks-examples) for the events
devbot meets, signed and posted to the real server: always 2xx, never a server error."""

from __future__ import annotations

import json
import uuid

from devbot.config import load_settings
from tests.fixtures.github_double import require_octokit
from tests.fixtures.repo import OriginRepo
from tests.fixtures.webhook import StartServer

EVENTS = (
    "pull_request_review_comment",
    "pull_request_review",
    "issue_comment",
    "issues",
    "pull_request",
    "push",
    "ping",
)


def test_every_published_example_gets_a_2xx(
    origin_repo: OriginRepo, webhook_server: StartServer
) -> None:
    directory = require_octokit()
    index = json.loads(
        (directory / "webhooks-examples" / "api.github.com" / "index.json").read_text("utf-8")
    )
    examples = {entry["name"]: entry["examples"] for entry in index}
    settings = load_settings(origin_repo.work, environ={})
    server = webhook_server(origin_repo.work, settings, dispatch=False, identity="devbot-user")
    answers: dict[str, int] = {}
    for event in EVENTS:
        assert examples.get(event), f"no published examples for {event}"
        for number, payload in enumerate(examples[event]):
            status, answer = server.post(event, payload, delivery=str(uuid.uuid4()))
            key = f"{event}[{number}] {payload.get('action', '')}"
            answers[key] = status
            assert 200 <= status < 300, f"{key}: {status} {answer}"
    assert len(answers) >= 80
