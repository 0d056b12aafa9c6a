"""Which CI deliveries (GitHub's published examples, made to fail) ask for a CI fix."""

from __future__ import annotations

from typing import Any

import pytest

from devbot.config import Settings
from devbot.runs.requests import CiTrigger, trigger_from_json, trigger_to_json
from devbot.triggers.webhook.events import Malformed, classify
from tests.fixtures.ci import ci_delivery

PULL = {
    "url": "https://api.github.com/repos/octo/hello/pulls/7",
    "id": 1,
    "number": 7,
    "title": "T",
    "head": {"ref": "devbot/task", "sha": "0" * 40},
    "base": {
        "ref": "main",
        "sha": "1" * 40,
        "repo": {
            "id": 9,
            "url": "https://api.github.com/repos/octo/hello",
            "name": "hello",
            "full_name": "octo/hello",
        },
    },
}
SHA = "a" * 40


def _classify(event: str, payload: Any) -> Any:
    return classify(event, payload, Settings(), "d-1", 1.0, "devbot-user")


@pytest.mark.parametrize("event", ["check_suite", "check_run", "workflow_run"])
def test_a_failed_ci_result_on_a_pull_request_is_a_ci_trigger(event: str) -> None:
    decision = _classify(event, ci_delivery(event, PULL, SHA, "failure", name="tests"))
    assert decision.verdict == "accepted"
    trigger = decision.trigger
    assert isinstance(trigger, CiTrigger)
    assert (trigger.numbers, trigger.head_sha, trigger.conclusion) == ((7,), SHA, "failure")
    assert trigger.sender == "github-actions[bot]"  # a bot reports CI: that is no reason to drop it
    assert trigger_from_json(trigger_to_json(trigger)) == trigger


@pytest.mark.parametrize("conclusion", ["success", "cancelled", "neutral", "skipped", None])
def test_other_conclusions_are_ignored(conclusion: str | None) -> None:
    payload = ci_delivery("check_suite", PULL, SHA, "failure")
    payload["check_suite"]["conclusion"] = conclusion
    assert _classify("check_suite", payload).verdict == "ignored"


def test_a_check_run_names_its_pull_requests_through_its_suite() -> None:
    payload = ci_delivery("check_run", PULL, SHA, "timed_out", name="lint")
    payload["check_run"]["pull_requests"] = []
    decision = _classify("check_run", payload)
    assert decision.verdict == "accepted" and decision.trigger.numbers == (7,)
    assert decision.trigger.check == "lint"


def test_a_commit_heading_no_pull_request_and_unfinished_runs_are_ignored() -> None:
    payload = ci_delivery("workflow_run", PULL, SHA, "failure")
    payload["workflow_run"]["pull_requests"] = []
    assert "no pull request" in _classify("workflow_run", payload).reason
    payload = ci_delivery("check_suite", PULL, SHA, "failure")
    payload["action"] = "requested"
    assert _classify("check_suite", payload).verdict == "ignored"


def test_a_malformed_ci_delivery_is_refused() -> None:
    payload = ci_delivery("check_suite", PULL, SHA, "failure")
    payload["check_suite"]["pull_requests"] = "7"
    with pytest.raises(Malformed):
        _classify("check_suite", payload)
