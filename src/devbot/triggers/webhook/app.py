"""The webhook HTTP app: `POST /webhook` and `GET /healthz`.

Each delivery is checked before anything else (signature of the raw body, read as it
streams in within the limits), then read defensively; an accepted one is stored (dedupe on
`X-GitHub-Delivery`) and answered 202 at once. The work itself happens in a durable workflow
started by the dispatcher, never here. This module is imported only by `devbot serve`, so
FastAPI never slows other commands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from devbot.config import Settings
from devbot.runs.engine.metrics import CONTENT_TYPE, WebhookCounts
from devbot.runs.state.inbox import Inbox, Item
from devbot.triggers.webhook.body import Refused, check_declared, read_body
from devbot.triggers.webhook.events import Malformed, classify
from devbot.triggers.webhook.limits import ByteBudget, Limits
from devbot.triggers.webhook.signature import Verifier, well_formed

log = logging.getLogger("devbot.webhook")


class BatchWriter:
    """Stores deliveries in batches: requests that arrive while a commit is under way go
    into the next commit together (group commit), so one commit serves many deliveries."""

    def __init__(self, inbox: Inbox, max_batch: int = 500) -> None:
        self.inbox, self.max_batch = inbox, max_batch
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[bool]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def record(self, item: Item) -> bool:
        """True when the delivery is new (stored now), False for a known id."""
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _run(self, queue: asyncio.Queue[tuple[Item, asyncio.Future[bool]]]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < self.max_batch:
                batch.append(queue.get_nowait())
            try:
                results = await run_in_threadpool(
                    self.inbox.record_many, [item for item, _ in batch]
                )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), is_new in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(is_new)


def create_app(
    *,
    secret: bytes,
    settings: Settings,
    inbox: Inbox,
    on_accepted: Callable[[], None],
    identity: str,
    limits: Limits | None = None,
    counts: WebhookCounts | None = None,
    metrics: Callable[[], str] | None = None,
) -> FastAPI:
    """`identity`: devbot's own login on the forge, which tells its PRs and comments apart.
    `counts` keeps each answer's outcome; `metrics` (the exposition) is served at
    `GET /metrics`, answered from a cache so a flood of scrapes stays cheap."""
    if not secret:
        raise ValueError("a webhook secret is required")
    limits = limits or Limits()
    budget = ByteBudget(limits.body_budget_bytes)
    writer = BatchWriter(inbox)
    app = FastAPI(title="devbot webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    def answer(code: int, status: str, **extra: Any) -> JSONResponse:
        if counts is not None:
            counts.count(status)
        return JSONResponse({"status": status, **extra}, status_code=code)

    def refuse(code: int, status: str) -> JSONResponse:
        """An answer sent before the body was read to its end: the connection is closed
        rather than read on (and a busy server says when to come back)."""
        if counts is not None:
            counts.count(status)
        headers = {"Connection": "close"}
        if code == 503:
            headers["Retry-After"] = str(limits.retry_after_s)
        return JSONResponse({"status": status}, status_code=code, headers=headers)

    async def authenticated_body(request: Request) -> bytes | JSONResponse:
        signature = request.headers.get("x-hub-signature-256")
        if not well_formed(signature):
            return refuse(401, "bad signature")
        verifier = Verifier(secret)
        with budget.hold() as hold:
            try:
                check_declared(request.headers.get("content-length"), limits.max_body_bytes, hold)
                parts = await read_body(request.stream(), verifier, limits.max_body_bytes, hold)
            except Refused as refused:
                return refuse(refused.status, refused.reason)
            if not verifier.matches(signature):
                return answer(401, "bad signature")
        return b"".join(parts)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    async def exposition() -> PlainTextResponse:
        if metrics is None:
            return PlainTextResponse("no metrics here\n", status_code=404)
        text = await run_in_threadpool(metrics)
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        try:
            body = await authenticated_body(request)
        except ClientDisconnect:
            return answer(400, "disconnected")  # never sent: the client is gone
        if isinstance(body, JSONResponse):
            return body
        event = request.headers.get("x-github-event", "").strip()
        delivery_id = request.headers.get("x-github-delivery", "").strip()
        if not event or not delivery_id or len(delivery_id) > 100:
            return answer(400, "malformed", reason="X-GitHub-Event and X-GitHub-Delivery needed")
        if event == "ping":
            return answer(200, "pong")
        try:
            payload = json.loads(body)
            decision = classify(event, payload, settings, delivery_id, time.time(), identity)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, Malformed) else "the body is not JSON"
            return answer(400, "malformed", reason=reason)
        if decision.trigger is None:
            return answer(200, "ignored", reason=decision.reason)
        is_new = await writer.record((delivery_id, event, decision.action, decision.trigger))
        if not is_new:
            return answer(200, "duplicate")
        on_accepted()
        return answer(202, "accepted")

    return app
