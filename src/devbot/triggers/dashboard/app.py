"""The dashboard's HTTP app: run list, run page with its live trajectory, totals, actions.

    GET  /                      runs across repositories, newest first (?status, repo, kind, page)
    GET  /runs/ID               one run: plan, trajectory, tests, diff, report, PR, actions
    GET  /runs/ID/events        its trajectory as server-sent events, fed from the run database
    POST /runs/ID/cancel|resume|retry   the same operations as `devbot runs` (runs.engine.control)
    GET  /totals                runs and USD per day and per repository, with charts
    GET  /login, POST /login, POST /logout

A run may work in another process (a worker), so live updates come from the database: the
event stream polls the run's trajectory (an indexed lookup of events after the last one
sent) every EVENT_POLL_S, and its record a few times a second. `access.py` says who may see
what. Page routes are plain functions (FastAPI runs them in its thread pool, so database
and git calls never block the event loop).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from devbot.config import Settings
from devbot.runs.engine.control import cancel_run, resume_run, retry_run
from devbot.runs.engine.engine import Engine
from devbot.runs.state.store import ACTIVE_STATUSES, RunFilter, RunNotFound, RunStateError
from devbot.triggers.dashboard import access as rules
from devbot.triggers.dashboard.render import Pages, seconds, usd
from devbot.triggers.dashboard.views import (
    PullRequestStates,
    elapsed,
    run_detail,
    run_list,
    totals,
)

EVENT_POLL_S = 0.1
RECORD_EVERY = 4
"""The record (status, usage) is read every this many polls, and whenever events arrived."""
KEEPALIVE_S = 15.0
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ACTIONS = ("cancel", "resume", "retry")
DONE = {
    "cancel": "Cancel requested: the run stops at its next step boundary.",
    "resume": "Resumed: the run goes on from its last recorded step.",
    "retry": "Retry started: this is the new run.",
}
MAX_PARAM_CHARS = 500
MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass
class Visit:
    """One request as access rules see it: its session, and whether it is let in."""

    sid: str
    new_session: bool
    allowed: bool
    bearer: bool
    login_needed: bool


def create_dashboard(
    engine: Engine, settings: Settings, access: rules.Access, stopping: threading.Event
) -> FastAPI:
    """The dashboard over `engine`'s runtime; actions run with `settings` (the server's).
    Event streams end when `stopping` is set, so the server can stop."""
    runtime = engine.runtime
    pages = Pages()
    pr_states = PullRequestStates(runtime)
    app = FastAPI(title="devbot dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    def visit(request: Request) -> Visit:
        seen = _seen(request)
        sid, new = access.session_of(seen)
        bearer = access.bearer_ok(seen, time.time())
        return Visit(sid, new, access.allowed(seen, sid, bearer), bearer, access.login_needed(seen))

    def finish(response: Response, seen: Visit, request: Request) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if seen.new_session:
            response.set_cookie(
                rules.SESSION_COOKIE,
                seen.sid,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    def html(
        request: Request, seen: Visit, name: str, status: int = 200, **values: Any
    ) -> Response:
        body = pages.page(
            name,
            csrf=access.csrf_token(seen.sid),
            logged_in=seen.login_needed and seen.allowed,
            **values,
        )
        return finish(HTMLResponse(body, status_code=status), seen, request)

    def refused(request: Request, seen: Visit) -> Response | None:
        """The answer to a request that may not go on, or None."""
        if not access.host_allowed(_seen(request)):
            return finish(PlainTextResponse("unexpected Host", status_code=400), seen, request)
        if seen.allowed:
            return None
        return html(
            request,
            seen,
            "login.html",
            status=401,
            next=_local_path(str(request.url.path)),
            configured=access.token is not None,
            error="",
        )

    @app.get("/")
    def runs_page(request: Request) -> Response:
        seen = visit(request)
        if (denied := refused(request, seen)) is not None:
            return denied
        query = request.query_params
        where = RunFilter(**{key: _param(query.get(key)) for key in ("status", "repo", "kind")})
        page = _page_number(query.get("page"))
        listing = run_list(runtime, where, page)

        def link(to_page: int) -> str:
            values = {k: v for k, v in vars(where).items() if v} | {"page": to_page}
            return "/?" + urlencode(values)

        return html(request, seen, "runs.html", listing=listing, link=link, now=time.time())

    @app.get("/runs/{run_id}")
    def run_page(request: Request, run_id: str) -> Response:
        seen = visit(request)
        if (denied := refused(request, seen)) is not None:
            return denied
        done = DONE.get(request.query_params.get("did", ""), "")
        return _run_response(request, seen, run_id, notice=done)

    def _run_response(
        request: Request, seen: Visit, run_id: str, notice: str = "", error: str = ""
    ) -> Response:
        try:
            detail = run_detail(runtime, run_id, pr_states)
        except RunNotFound as exc:
            return html(
                request, seen, "message.html", status=404, title="No such run", text=str(exc)
            )
        events = [(seq, pages.event(seq, event)) for seq, event in detail.events]
        return html(
            request,
            seen,
            "run.html",
            status=409 if error else 200,
            run=detail,
            events=events,
            notice=notice,
            error=error,
            duration=seconds(elapsed(detail.record)),
        )

    @app.post("/runs/{run_id}/{action}")
    async def act(request: Request, run_id: str, action: str) -> Response:
        form = await _form(request)
        return await run_in_threadpool(act_now, request, run_id, action, form.get("csrf", ""))

    def act_now(request: Request, run_id: str, action: str, csrf: str) -> Response:
        seen = visit(request)
        if (denied := refused(request, seen)) is not None:
            return denied
        if not seen.bearer and not access.csrf_ok(seen.sid, csrf):
            text = "The form was stale or came from another site; reload the page and try again."
            return html(request, seen, "message.html", status=403, title="Refused", text=text)
        if action not in ACTIONS:
            return html(
                request, seen, "message.html", status=404, title="No such action", text=action
            )
        try:
            target = _operate(engine, settings, action, run_id)
        except RunNotFound as exc:
            return html(
                request, seen, "message.html", status=404, title="No such run", text=str(exc)
            )
        except RunStateError as exc:
            return _run_response(request, seen, run_id, error=str(exc))
        location = f"/runs/{target}?did={action}"
        return finish(RedirectResponse(location, status_code=303), seen, request)

    @app.get("/runs/{run_id}/events")
    async def run_events(request: Request, run_id: str) -> Response:
        seen = visit(request)
        if (denied := refused(request, seen)) is not None:
            return denied
        try:
            await run_in_threadpool(runtime.store.get, run_id)
        except RunNotFound:
            return finish(PlainTextResponse("no such run", status_code=404), seen, request)
        after = _after(request)
        stream = _stream(request, runtime.store, pages, run_id, after, stopping)
        response = StreamingResponse(stream, media_type="text/event-stream")
        response.headers["X-Accel-Buffering"] = "no"
        return finish(response, seen, request)

    @app.get("/totals")
    def totals_page(request: Request) -> Response:
        seen = visit(request)
        if (denied := refused(request, seen)) is not None:
            return denied
        return html(request, seen, "totals.html", totals=totals(runtime))

    @app.get("/login")
    def login_page(request: Request) -> Response:
        seen = visit(request)
        next_path = _local_path(request.query_params.get("next", "/"))
        if seen.allowed:
            return finish(RedirectResponse(next_path, status_code=303), seen, request)
        return html(
            request,
            seen,
            "login.html",
            next=next_path,
            configured=access.token is not None,
            error="",
        )

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        return await run_in_threadpool(log_in, request, form)

    def log_in(request: Request, form: dict[str, str]) -> Response:
        seen, now = visit(request), time.time()
        next_path = _local_path(form.get("next", "/"))
        if access.failures.blocked(now):
            error, status = "Too many wrong tokens; wait a minute.", 429
        elif not access.csrf_ok(seen.sid, form.get("csrf", "")):
            error, status = "The form was stale; try again.", 403
        elif not access.token_ok(form.get("token", "")):
            access.failures.add(now)
            error, status = "Wrong token.", 401
        else:
            response = RedirectResponse(next_path, status_code=303)
            response.set_cookie(
                rules.AUTH_COOKIE,
                access.login_cookie(seen.sid, now),
                max_age=rules.LOGIN_S,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return finish(response, seen, request)
        return html(
            request,
            seen,
            "login.html",
            status=status,
            next=next_path,
            configured=access.token is not None,
            error=error,
        )

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        form = await _form(request)
        seen = visit(request)
        response = RedirectResponse("/login", status_code=303)
        if access.csrf_ok(seen.sid, form.get("csrf", "")):
            response.delete_cookie(rules.AUTH_COOKIE)
        return finish(response, seen, request)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        body = resources.files("devbot.triggers.dashboard").joinpath("static", name).read_bytes()
        response = Response(body, media_type=STATIC[name])
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "max-age=300"
        return response

    return app


def _operate(engine: Engine, settings: Settings, action: str, run_id: str) -> str:
    """Cancel, resume or retry with the functions `devbot runs` uses; the run to show next."""
    if action == "cancel":
        return cancel_run(engine.runtime.store, run_id).record.id
    if action == "resume":
        return resume_run(engine, run_id).record.id
    return retry_run(engine, run_id, settings).id


async def _stream(
    request: Request,
    store: Any,
    pages: Pages,
    run_id: str,
    after: int,
    stopping: threading.Event,
) -> AsyncIterator[str]:
    """Server-sent events: `step` (an event's HTML, id = its seq), `run` (status and usage)
    when they change, `end` once the run is over and every event was sent."""
    shown: dict[str, str] = {}
    polls, quiet_since = 0, time.monotonic()
    while not stopping.is_set():
        fresh = await run_in_threadpool(store.events_after, run_id, after, 200)
        for seq, event in fresh:
            data = json.dumps({"seq": seq, "html": pages.event(seq, event)})
            yield f"id: {seq}\nevent: step\ndata: {data}\n\n"
            after = seq
        if fresh or polls % RECORD_EVERY == 0:
            record = await run_in_threadpool(store.get, run_id)
            summary = _summary(record)
            if summary != shown:
                shown = summary
                yield f"event: run\ndata: {json.dumps(summary)}\n\n"
            if record.status not in ACTIVE_STATUSES and not fresh:
                yield "event: end\ndata: {}\n\n"
                return
        if fresh:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        polls += 1
        await asyncio.sleep(EVENT_POLL_S)


def _summary(record: Any) -> dict[str, str]:
    return {
        "status": record.status,
        "steps": str(record.steps),
        "tokens": f"{record.prompt_tokens + record.completion_tokens:,}",
        "usd": usd(record.cost_usd),
        "duration": seconds(elapsed(record)),
        "message": record.message,
    }


async def _form(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form (the dashboard's own forms); empty otherwise."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {name: values[0] for name, values in fields.items()}


def _seen(request: Request) -> rules.Request:
    return rules.Request(
        client=request.client.host if request.client else "",
        host=request.headers.get("host", ""),
        headers=request.headers,
        cookies=request.cookies,
    )


def _param(value: str | None) -> str | None:
    return value[:MAX_PARAM_CHARS] if value else None


def _page_number(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), 1_000_000)
    except ValueError:
        return 1


def _after(request: Request) -> int:
    """The last event the browser has: `Last-Event-ID` on a reconnect, else `?after=`."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after", "-1")
    try:
        return max(int(raw), -1)
    except ValueError:
        return -1


def _local_path(path: str) -> str:
    """`path` when it is a path of this site, else `/` (no open redirect after login)."""
    if path.startswith("/") and not path.startswith(("//", "/\\")) and len(path) < 2000:
        return path
    return "/"
