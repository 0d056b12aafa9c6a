"""The dashboard over HTTP: pages, the event stream, actions, access, and `devbot serve`."""

from __future__ import annotations

import http.client
import json
import re

import pytest

from devbot.runs.state.store import RunRecord
from devbot.triggers.cli import main
from devbot.triggers.dashboard.server import dashboard_for
from devbot.triggers.webhook.server import WebhookServer
from tests.fixtures.dashboard import TOKEN, HttpClient, StartDashboard
from tests.fixtures.engine import PlanRunner
from tests.fixtures.repo import OriginRepo
from tests.fixtures.webhook import IDENTITY, SECRET, post_delivery

HELLO = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_a_finished_run_page_shows_plan_trajectory_diff_report_and_pr(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    record = plan_runner.run([{"text": HELLO}], body="Create hello.txt with 'world'.")
    page = dashboard().client().get(f"/runs/{record.id}")
    assert page.status == 200
    assert "Create hello.txt with &#39;world&#39;." in page.body  # the plan
    assert 'id="ev-0" class="event model"' in page.body
    assert "WriteFile" in page.body and "hello.txt" in page.body
    assert '<span class="add">+world</span>' in page.body  # the diff against main
    assert "<h1>Summary</h1>" in page.body  # the report, rendered
    assert record.pr_url in page.body and "open" in page.body
    assert "data-live" not in page.body  # a finished run is not followed


def test_the_event_stream_sends_steps_after_the_given_one_then_ends(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    record = plan_runner.run([{"text": HELLO}])
    served = dashboard()
    connection = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=30)
    connection.request("GET", f"/runs/{record.id}/events", headers={"Last-Event-ID": "0"})
    answer = connection.getresponse()
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    stream = answer.read().decode()  # the run is over: the stream ends by itself
    ids = re.findall(r"^id: (\d+)$", stream, re.M)
    assert ids == [str(n) for n in range(1, len(plan_runner.store().events(record.id)))]
    run = json.loads(re.search(r"^event: run\ndata: (.*)$", stream, re.M).group(1))  # type: ignore[union-attr]
    assert run["status"] == "completed"
    assert stream.rstrip().endswith("event: end\ndata: {}")


def test_retry_from_the_dashboard_starts_a_new_run_and_shows_it(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    record = plan_runner.run([{"text": HELLO}])
    client = dashboard().client()
    form = client.get(f"/runs/{record.id}")
    answer = client.post(f"/runs/{record.id}/retry", {"csrf": csrf_of(form.body)})
    assert answer.status == 303
    new_id = answer.headers["location"].split("/")[2].split("?")[0]
    assert new_id != record.id
    assert client.get(answer.headers["location"]).status == 200
    plan_runner.engine.wait(new_id)
    assert plan_runner.store().get(new_id).status == "completed"


def test_operations_that_do_not_fit_the_run_say_why(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    record = plan_runner.run([{"text": HELLO}])
    client = dashboard().client()
    csrf = csrf_of(client.get(f"/runs/{record.id}").body)
    answer = client.post(f"/runs/{record.id}/cancel", {"csrf": csrf})
    assert answer.status == 409
    assert "already ended (completed); nothing to cancel" in answer.body
    assert client.post("/runs/nope/cancel", {"csrf": csrf}).status == 404
    assert client.post(f"/runs/{record.id}/delete", {"csrf": csrf}).status == 404
    assert client.get("/runs/nope").status == 404


def test_the_list_filters_and_pages_and_ignores_nonsense(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    store = plan_runner.open().store
    for n in range(3):
        store.create(
            RunRecord(
                id=f"r{n}",
                kind="plan",
                repo="/a" if n else "/b",
                plan_path="p.md",
                plan_sha="s",
                title=f"run {n}",
                created_at=1000.0 + n,
            )
        )
    client = dashboard().client()
    listed = client.get("/?repo=/a")
    assert listed.status == 200
    assert re.findall(r'data-run="(\w+)"', listed.body) == ["r2", "r1"]
    assert client.get("/?page=-3&kind=" + "x" * 5000).status == 200
    assert client.get("/?page=zebra").status == 200
    totals = client.get("/totals")
    assert totals.status == 200 and "<svg" in totals.body


def test_every_action_needs_the_csrf_token_of_its_session(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    plan_runner.open().store.create(
        RunRecord(id="r1", kind="plan", repo="/r", plan_path="p.md", plan_sha="s")
    )
    served = dashboard()
    client = served.client()
    assert client.post("/runs/r1/cancel", {}).status == 403
    other = served.client()
    other_csrf = csrf_of(other.get("/runs/r1").body)
    client.get("/")
    assert client.post("/runs/r1/cancel", {"csrf": other_csrf}).status == 403
    assert not plan_runner.store().cancel_requested("r1")
    assert (
        client.post("/runs/r1/cancel", {"csrf": csrf_of(client.get("/runs/r1").body)}).status == 303
    )
    assert plan_runner.store().cancel_requested("r1")


def test_off_the_loopback_every_page_and_action_needs_the_token(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    plan_runner.open().store.create(
        RunRecord(id="r1", kind="plan", repo="/r", plan_path="p.md", plan_sha="s")
    )
    served = dashboard(host="0.0.0.0", token=TOKEN)
    client = served.client()
    for path in ("/", "/runs/r1", "/runs/r1/events", "/totals"):
        assert client.get(path).status == 401, path
    assert client.post("/runs/r1/cancel", {"csrf": "x"}).status == 401
    assert not plan_runner.store().cancel_requested("r1")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/", headers=bearer).status == 200
    assert client.get("/", headers={"Authorization": "Bearer wrong-token-0000000"}).status == 401
    assert client.post("/runs/r1/cancel", {}, headers=bearer).status == 303
    assert client.get("/static/dashboard.css").status == 200


def test_login_sets_a_session_that_a_copied_cookie_of_another_session_cannot_use(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    served = dashboard(host="0.0.0.0", token=TOKEN)
    alice = served.client()
    csrf = csrf_of(alice.get("/login").body)
    assert alice.post("/login", {"csrf": csrf, "token": "wrong", "next": "/"}).status == 401
    answer = alice.post("/login", {"csrf": csrf, "token": TOKEN, "next": "//evil.example/"})
    assert answer.status == 303 and answer.headers["location"] == "/"
    assert alice.get("/").status == 200
    mallory = served.client()
    mallory.get("/login")
    mallory.cookies["devbot_auth"] = alice.cookies["devbot_auth"]
    assert mallory.get("/").status == 401


def test_wrong_tokens_are_limited(plan_runner: PlanRunner, dashboard: StartDashboard) -> None:
    served = dashboard(host="0.0.0.0", token=TOKEN)
    client = served.client()
    csrf = csrf_of(client.get("/login").body)
    codes = [client.post("/login", {"csrf": csrf, "token": f"guess-{n}"}).status for n in range(11)]
    assert codes == [401] * 10 + [429]
    assert client.post("/login", {"csrf": csrf, "token": TOKEN}).status == 429


def test_an_open_dashboard_answers_only_to_a_loopback_host(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    client = dashboard().client()
    assert client.get("/", headers={"Host": "attacker.example:8080"}).status == 400
    assert client.get("/", headers={"Host": "localhost:8080"}).status == 200
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    assert client.get("/", headers=forwarded).status == 401  # a proxy in front: log in


def test_login_always_asks_for_the_token_on_the_loopback_too(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    client = dashboard(token=TOKEN, login="always").client()
    assert client.get("/").status == 401
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_serve_shows_the_dashboard_beside_the_webhook(plan_runner: PlanRunner) -> None:
    record = plan_runner.run([{"text": HELLO}])
    engine = plan_runner.engine
    server = WebhookServer(
        engine.runtime,
        SECRET,
        identity=IDENTITY,
        port=0,
        dashboard=dashboard_for(engine, engine.runtime.settings, "127.0.0.1"),
    )
    server.start()
    try:
        client = HttpClient(server.url)
        assert client.get("/healthz").status == 200
        assert record.id in client.get("/").body
        assert client.get(f"/runs/{record.id}").status == 200
        assert post_delivery(server.url, "ping", {"zen": "hi"}) == (200, {"status": "pong"})
    finally:
        server.stop()


def test_ui_refuses_to_serve_off_the_loopback_without_a_token(
    origin_repo: OriginRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEVBOT_DASHBOARD_TOKEN", raising=False)
    assert main(["ui", "--repo", str(origin_repo.work), "--host", "0.0.0.0"]) == 2
    assert "set DEVBOT_DASHBOARD_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("DEVBOT_DASHBOARD_TOKEN", "short")
    assert main(["ui", "--repo", str(origin_repo.work)]) == 2
    assert "use at least 16" in capsys.readouterr().err
