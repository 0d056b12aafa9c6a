"""The dashboard shows attacker-controlled text (model replies, plans from issues, reports,
diffs, command output) as text: no script runs, no element is injected, no link leads to
`javascript:`. See SECURITY.md, "The dashboard"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import expect

from devbot.runs.state.store import RunRecord
from devbot.triggers.dashboard.render import Pages, safe_link
from tests.fixtures.dashboard import StartDashboard, off_loop
from tests.fixtures.engine import PlanRunner, plan_text

SCRIPT = "<script>window.__pwned = 'script'</script>"
IMG = "<img src=x onerror=\"window.__pwned = 'img'\">"
HOSTILE_REPLY = (
    f"Thinking about {SCRIPT} and {IMG}.\n"
    f"@@WRITE evil.html\n{SCRIPT}\n{IMG}\n@@END\n"
    f"@@FINISH\nDone {SCRIPT}\n@@END\n"
)


def test_a_model_reply_with_script_and_img_onerror_renders_as_text(
    plan_runner: PlanRunner, dashboard: StartDashboard, page: Any
) -> None:
    served = dashboard()
    settings = plan_runner.settings([{"text": HOSTILE_REPLY, "delay": 1.0}], sandbox="local")
    plan = plan_runner.write_plan(plan_text(f"Mind {IMG}", title=f"Evil {SCRIPT}"), "evil")
    record = off_loop(lambda: plan_runner.launch(settings).submit_plan(plan, settings).record)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(f"{served.url}/runs/{record.id}")
    reply = page.locator("#ev-0 pre.content")  # arrives by the live stream
    expect(reply).to_contain_text(SCRIPT)
    expect(reply).to_contain_text(IMG)
    expect(page.locator("[data-field=status]")).to_have_text("completed", timeout=30_000)
    expect(page.locator("#ev-0 pre.content")).to_contain_text(IMG)  # rendered on reload
    expect(page.locator("main > h1")).to_have_text(f"Evil {SCRIPT}")
    expect(page.locator("pre.diff")).to_contain_text(f"+{IMG}")
    expect(page.locator("article.plan")).to_contain_text(f"Mind {IMG}")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0
    assert dialogs == []
    page.goto(served.url + "/")
    expect(page.locator("tr.run td.title")).to_have_text(f"Evil {SCRIPT}")
    assert page.evaluate("window.__pwned") is None


def test_every_field_of_a_run_is_escaped_in_pages_and_events(
    plan_runner: PlanRunner, dashboard: StartDashboard
) -> None:
    store = plan_runner.open().store
    hostile = f'{SCRIPT}"><svg onload=alert(1)>'
    store.create(
        RunRecord(
            id="r1",
            kind="plan",
            repo=f"/srv/{hostile}",
            plan_path=f"ai-plans/{hostile}.md",
            plan_sha="s",
            title=hostile,
            message=hostile,
            branch=f"devbot/{hostile}",
            pr_url=f"javascript:alert(1)//{hostile}",
        )
    )
    store.add_event("r1", 0, {"step": hostile, "kind": hostile, "content": hostile})
    action = {"type": hostile, "path": hostile, "command": hostile}
    store.add_event("r1", 1, {"step": 1, "kind": "action", "content": hostile, "action": action})
    client = dashboard().client()
    for path in ("/", "/runs/r1", "/?" + urlencode({"repo": f"/srv/{hostile}"})):
        body = client.get(path).body
        assert "<script>window.__pwned" not in body, path
        assert "<svg onload" not in body, path
        assert 'href="javascript:' not in body, path
    assert "&lt;script&gt;window.__pwned" in client.get("/runs/r1").body


def test_markdown_of_plans_and_reports_keeps_no_html_and_no_script_links() -> None:
    pages = Pages()
    text = (
        "---\ntitle: <b onmouseover=x>t</b>\n---\n"
        "# Report\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n"
        "[click](javascript:alert(1)) [enc](jav&#x09;ascript:alert(1)) "
        "[data](data:text/html,<script>alert(1)</script>) [vb](VBScript:msgbox)\n"
        "![pixel](https://tracker.example/p.png) [fine](https://example.com/a) [rel](#top)\n"
    )
    html = str(pages.document(text))
    assert "<script" not in html and "<img" not in html and "<b " not in html
    assert "&lt;script&gt;" in html and "&lt;b onmouseover=x&gt;" in html
    assert "javascript:" not in html.replace("[click](javascript:", "")
    assert 'href="data:' not in html and 'href="VBScript' not in html.lower()
    assert '<a href="https://example.com/a" rel="nofollow noopener noreferrer">fine</a>' in html
    assert '<a href="https://tracker.example/p.png"' in html  # an image only as a link
    assert 'href="#top"' in html
    for url in ("javascript:x", " JavaScript:x", "java\tscript:x", "data:x", "file:///etc"):
        assert not safe_link(url), url
