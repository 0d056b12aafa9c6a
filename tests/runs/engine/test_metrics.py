"""`/metrics` in the Prometheus text format: read back with Prometheus's own parser
(prometheus-client), its figures checked against what happened."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from devbot.runs.engine.metrics import Family, render
from tests.fixtures.engine import PlanRunner
from tests.fixtures.fleet import metric_samples as samples
from tests.fixtures.webhook import StartServer

HELLO = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"


def test_labels_and_help_are_escaped_as_the_format_says() -> None:
    family = Family("devbot_x", "gauge", 'a "quoted" help\\ with\na newline')
    family.add(1.5, kind='a "b"\\c\nd')
    parsed = list(text_string_to_metric_families(render([family])))
    assert parsed[0].samples[0].labels == {"kind": 'a "b"\\c\nd'}
    assert parsed[0].samples[0].value == 1.5


def test_a_finished_run_shows_in_every_figure(plan_runner: PlanRunner) -> None:
    usage = {"prompt_tokens": 900, "completion_tokens": 40}
    record = plan_runner.run([{"text": HELLO, "usage": usage}])
    assert record.status == "completed"
    text = plan_runner.engine.metrics().text()

    found = samples(text)
    assert found[("devbot_runs", (("kind", "plan"), ("status", "completed")))] == 1
    assert found[("devbot_model_tokens_total", (("kind", "prompt"),))] == 900
    assert found[("devbot_model_tokens_total", (("kind", "completion"),))] == 40
    assert found[("devbot_run_duration_seconds_count", (("kind", "plan"),))] == 1
    assert found[("devbot_run_duration_seconds_bucket", (("kind", "plan"), ("le", "+Inf")))] == 1
    assert found[("devbot_queue_depth", (("queue", "devbot-runs"),))] == 0
    assert found[("devbot_workspace_checkpoints", ())] == 0  # deleted when the run ended
    alive = found[("devbot_workers", (("state", "alive"),))]
    assert alive >= 1


def test_the_webhook_server_counts_its_answers_by_outcome(
    plan_runner: PlanRunner, webhook_server: StartServer
) -> None:
    repo = plan_runner.repo.work
    settings = plan_runner.settings([])
    server = webhook_server(repo, settings, identity="devbot-user")
    assert server.post("ping", {"zen": "hi"})[0] == 200
    assert server.post("ping", {"zen": "hi"}, secret=b"wrong")[0] == 401
    assert server.post("ping", {"zen": "hi"}, secret=b"wrong")[0] == 401
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as answer:
        kind = answer.headers["content-type"]
        text = answer.read().decode()
    assert kind.startswith("text/plain; version=0.0.4")
    found = samples(text)
    (executor,) = [
        dict(labels)["executor"] for name, labels in found if name == "devbot_build_info"
    ]

    def answered(outcome: str) -> float:
        labels = (("executor", executor), ("outcome", outcome))
        return found[("devbot_webhook_deliveries_total", labels)]

    assert answered("bad_signature") == 2
    assert answered("pong") == 1
