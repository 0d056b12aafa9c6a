"""Fuzzing the webhook server's edge on loopback: requests no client library would send
(missing, duplicated, huge or non-ASCII headers, bogus Content-Length, chunked bodies with bad
chunk sizes) carrying random bytes, JSON of the wrong shape or deep nesting, signed or not.

Whatever arrives, the server answers with a 4xx, a 2xx or 503, or closes the connection,
within its timeouts; it never answers 500 and never stops answering `/healthz`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from devbot.config import load_settings
from devbot.triggers.webhook.limits import Limits
from devbot.triggers.webhook.signature import sign
from tests.fixtures.repo import OriginRepo
from tests.fixtures.webhook import IDENTITY, SECRET, RunningServer, StartServer, review_comment
from tests.security.raw_http import chunk, exchange

LIMITS = Limits(header_timeout_s=0.5, body_timeout_s=0.5)
ANSWERS = {200, 202, 400, 401, 404, 405, 413, 422, 503}
EVENTS = ["pull_request_review_comment"] * 3 + ["pull_request_review", "issue_comment", "ping"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "reshaped", "reshaped", "real", "nested", ""]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    payload: dict[str, Any] = review_comment()
    if kind == "real":
        return json.dumps(payload).encode()
    if kind == "reshaped":  # a real delivery with one field replaced by anything
        parent = draw(st.sampled_from([payload, payload["comment"], payload["pull_request"]]))
        parent[draw(st.sampled_from(sorted(parent)))] = draw(json_values)
        return json.dumps(payload).encode()
    if kind == "nested":
        depth = draw(st.integers(1, 200_000))
        return draw(st.sampled_from([b"[", b'{"a":', b"[{}, "])) * depth
    return b""


plain = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
header_values = st.one_of(
    plain.map(str.encode),
    plain.map(str.encode),
    plain.map(str.encode),
    st.binary(max_size=60),
    st.text(max_size=60).map(str.encode),
    st.just(b"x" * 20_000),
)


@st.composite
def signatures(draw: st.DrawFn, body: bytes) -> list[tuple[str, bytes]]:
    kind = draw(st.sampled_from(["valid"] * 4 + ["missing", "forged", "any", "twice"]))
    valid = sign(SECRET, body).encode()
    if kind == "missing":
        return []
    if kind == "forged":
        return [("X-Hub-Signature-256", b"sha256=" + b"0" * 64)]
    if kind == "any":
        return [("X-Hub-Signature-256", draw(header_values))]
    if kind == "twice":
        return [("X-Hub-Signature-256", draw(header_values)), ("X-Hub-Signature-256", valid)]
    return [("X-Hub-Signature-256", valid)]


@st.composite
def framed(draw: st.DrawFn, body: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """Headers that say how long the body is, and the bytes sent for it, honest or not."""
    kind = draw(st.sampled_from(["length", "length", "chunked", "chunked", "bad length", "bad"]))
    if kind == "length":
        return [("Content-Length", str(len(body)).encode())], body
    if kind == "bad length":
        declared = draw(
            st.sampled_from(
                [b"-1", b"abc", b"1e3", b"", b"99999999999999999999", b"26214401"]
                + [str(len(body) + delta).encode() for delta in (-1, 1, 100)]
            )
        )
        twice = draw(st.booleans())
        headers = [("Content-Length", declared)]
        return headers + ([("Content-Length", b"0")] if twice else []), body
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    sent = b"".join(chunk(piece) for piece in pieces if piece) + b"0\r\n\r\n"
    headers = [("Transfer-Encoding", b"chunked")]
    if kind == "chunked":
        return headers, sent
    bad_size = draw(st.sampled_from([b"zz", b"-1", b"ffffffffffffffffffff", b"1" * 30, b"10000"]))
    bad = bad_size + b"\r\n" + body[:10] + draw(st.sampled_from([b"\r\n", b"", b"x\r\n"]))
    extra = [("Content-Length", str(len(body)).encode())] if draw(st.booleans()) else []
    return headers + extra, bad


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    body = draw(bodies())
    headers: list[tuple[str, bytes]] = []
    if draw(st.integers(0, 7)):
        headers.append(("X-GitHub-Event", draw(st.sampled_from(EVENTS)).encode()))
    if draw(st.integers(0, 7)):
        headers.append(("X-GitHub-Delivery", str(uuid.uuid4()).encode()))
    headers += draw(signatures(body))
    framing, sent = draw(framed(body))
    headers += framing
    names = st.sampled_from(["X-Extra", "Content-Type", "Connection", "X-GitHub-Event", "Ä "])
    headers += draw(st.lists(st.tuples(names, header_values), max_size=2))
    headers = draw(st.permutations(headers))
    method = draw(st.sampled_from(["POST"] * 8 + ["GET", "P\x00ST"]))
    path = draw(st.sampled_from(["/webhook"] * 8 + ["/healthz", "/%ff", "/" + "a" * 9000]))
    lines = [f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode("latin-1")]
    lines += [name.encode("utf-8") + b": " + value + b"\r\n" for name, value in headers]
    return b"".join(lines) + b"\r\n" + sent


@pytest.fixture
def server(origin_repo: OriginRepo, webhook_server: StartServer) -> RunningServer:
    settings = load_settings(origin_repo.work, environ={})
    return webhook_server(
        origin_repo.work, settings, dispatch=False, limits=LIMITS, identity=IDENTITY
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_any_request_is_answered_within_limits_and_never_with_500(
    server: RunningServer, request: bytes
) -> None:
    try:
        answer = exchange(server.server.port, request, timeout=10)
    except TimeoutError:
        pytest.fail("no answer and no close within the server's timeouts")
    event(f"answer {answer.status if answer else 'none: closed'}")
    assert answer is None or answer.status in ANSWERS, answer
    healthz = exchange(server.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert healthz is not None and healthz.status == 200
