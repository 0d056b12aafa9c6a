"""devbot's retry policy with an injected sleep."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devbot.llm.base import Message, ModelError, ModelReply
from devbot.llm.errors import ClassifiedError
from devbot.llm.retry import RetryingModel, backoff_delay, call_with_retries
from devbot.llm.scripted import ScriptedModel


def failing(errors: list[ModelError], result: str = "done") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return fn, calls


def transient() -> ModelError:
    return ModelError("busy", kind="server", retryable=True)


def test_backoff_doubles_then_caps_with_no_jitter() -> None:
    sleeps: list[float] = []
    fn, calls = failing([transient() for _ in range(6)])
    result = call_with_retries(
        fn, retries=6, base_delay_s=1.0, max_delay_s=10.0, sleep=sleeps.append, rand=lambda: 0.0
    )
    assert result == "done"
    assert len(calls) == 7
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_shortens_the_delay_by_at_most_a_quarter() -> None:
    assert backoff_delay(2, base_delay_s=1.0, max_delay_s=30.0, jitter=1.0) == 3.0
    assert backoff_delay(2, base_delay_s=1.0, max_delay_s=30.0, jitter=0.5) == 3.5


def test_gives_up_after_retries_and_raises_the_last_error() -> None:
    sleeps: list[float] = []
    errors = [transient() for _ in range(5)]
    last = errors[2]
    fn, calls = failing(errors)
    with pytest.raises(ModelError) as caught:
        call_with_retries(fn, retries=2, sleep=sleeps.append, rand=lambda: 0.0)
    assert caught.value is last
    assert len(calls) == 3
    assert sleeps == [1.0, 2.0]


def test_no_retry_on_auth() -> None:
    sleeps: list[float] = []
    fn, calls = failing([ModelError("bad key", kind="auth", retryable=False)])
    with pytest.raises(ModelError, match="bad key"):
        call_with_retries(fn, retries=5, sleep=sleeps.append)
    assert len(calls) == 1
    assert sleeps == []


def test_retry_after_wins_over_backoff() -> None:
    sleeps: list[float] = []
    error = ClassifiedError("slow down", kind="rate_limit", retryable=True, retry_after_s=7.5)
    fn, _ = failing([error])
    call_with_retries(fn, retries=3, sleep=sleeps.append, rand=lambda: 0.0)
    assert sleeps == [7.5]


def test_other_exceptions_are_not_retried() -> None:
    def fn() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retries(fn, retries=3, sleep=lambda _: None)


def test_retrying_model_classifies_and_retries() -> None:
    sleeps: list[float] = []
    inner = ScriptedModel.from_replies(
        [
            {
                "text": "hi",
                "errors_before": [{"kind": "rate_limit", "message": "429", "retryable": True}],
            }
        ]
    )
    model = RetryingModel(inner, retries=2, sleep=sleeps.append)
    reply = model.complete([Message("user", "hello")])
    assert isinstance(reply, ModelReply)
    assert reply.text == "hi"
    assert len(sleeps) == 1
    assert model.name == inner.name
