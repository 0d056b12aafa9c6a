"""The pieces that bound the server before authentication, one by one: the byte budget, the
streamed body read, the incremental signature, the log rate limit and the open-file limit."""

from __future__ import annotations

import asyncio
import logging
import resource
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from devbot.triggers.webhook.body import Refused, check_declared, read_body
from devbot.triggers.webhook.connections import FD_RESERVE, connection_cap
from devbot.triggers.webhook.limits import ByteBudget
from devbot.triggers.webhook.log_limit import RateLimitFilter
from devbot.triggers.webhook.signature import Verifier, sign, well_formed

SECRET = b"s3cret"


def test_a_hold_grows_within_the_budget_and_returns_all_of_it() -> None:
    budget = ByteBudget(100)
    with budget.hold() as first, budget.hold() as second:
        assert first.ensure(60) and first.ensure(40)  # 40 is already held
        assert not second.ensure(41)
        assert budget.used == 60 and second.held == 0
        assert second.ensure(40)
    assert budget.used == 0


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(*parts: bytes, max_bytes: int = 10, budget: int = 100) -> tuple[bytes, bool]:
    verifier = Verifier(SECRET)
    with ByteBudget(budget).hold() as hold:
        chunks = asyncio.run(read_body(_chunks(*parts), verifier, max_bytes, hold))
    body = b"".join(chunks)
    return body, verifier.matches(sign(SECRET, body))


def test_a_body_is_hashed_as_it_streams_and_refused_past_the_cap_or_budget() -> None:
    assert _read(b"abc", b"defg", b"hij") == (b"abcdefghij", True)
    with pytest.raises(Refused) as too_large:
        _read(b"abcdef", b"ghijk")
    assert too_large.value.status == 413
    with pytest.raises(Refused) as busy:
        _read(b"abcdef", b"ghij", budget=8)
    assert busy.value.status == 503


def test_a_declared_length_is_refused_before_the_body_is_read() -> None:
    budget = ByteBudget(50)
    with budget.hold() as hold:
        check_declared("40", 100, hold)
        assert budget.used == 40
    for declared, status in (("101", 413), ("60", 503)):
        with pytest.raises(Refused) as refused, budget.hold() as hold:
            check_declared(declared, 100, hold)
        assert refused.value.status == status
    with budget.hold() as hold:
        check_declared("chunked, not a number", 100, hold)
        check_declared(None, 100, hold)
    assert budget.used == 0


def test_only_a_signature_of_githubs_shape_is_worth_reading_a_body_for() -> None:
    good = sign(SECRET, b"{}")
    assert well_formed(good)
    for bad in (None, "", "sha256=", "sha1=" + "0" * 40, good.upper(), good + "0", "sha256=é"):
        assert not well_formed(bad)
        assert not Verifier(SECRET).matches(bad)
    verifier = Verifier(SECRET)
    verifier.update(b"{")
    verifier.update(b"}")
    assert verifier.matches(good)
    assert not verifier.matches(sign(b"other", b"{}"))


def _record(line: int) -> logging.LogRecord:
    warning = logging.WARNING
    return logging.LogRecord("uvicorn.error", warning, "h11.py", line, "bad %s", ("x",), None)


def test_repeated_log_messages_pass_at_a_bounded_rate() -> None:
    now = [0.0]
    limit = RateLimitFilter(burst=3, interval_s=60, clock=lambda: now[0])
    records = [_record(10) for _ in range(1000)]
    passed = [limit.filter(record) for record in records]
    assert passed == [True] * 4 + [False] * 996
    assert records[0].getMessage() == "bad x"
    assert records[3].getMessage() == "bad x [similar messages suppressed for 60 s]"
    assert limit.filter(_record(20))  # another kind has its own allowance
    now[0] = 61.0
    summary = _record(10)
    assert limit.filter(summary)
    assert summary.getMessage() == ("bad x [suppressed 996 similar messages before this one]")
    now[0] = 200.0
    quiet = _record(10)
    assert limit.filter(quiet) and quiet.getMessage() == "bad x"


def test_the_connection_cap_leaves_descriptors_under_the_open_file_limit() -> None:
    assert connection_cap(1000, 20_000) == 1000
    assert connection_cap(1000, 1024) == 1024 - FD_RESERVE
    assert connection_cap(1000, resource.RLIM_INFINITY) == 1000


def test_the_soft_open_file_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(hard, 256)
    code = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({low}, {hard}))\n"
        "from devbot.triggers.webhook.connections import raise_fd_limit\n"
        "print(raise_fd_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    expected = hard if hard != resource.RLIM_INFINITY else low
    assert out.split() == [str(expected), str(expected)]
