"""The classification table against the SDKs' real exception classes."""

from __future__ import annotations

import inspect
import types

import anthropic
import httpx2
import openai
import pytest

from devbot.llm.base import ModelError
from devbot.llm.errors import ERROR_TABLE, ClassifiedError, classify, parse_retry_after


def exported_api_errors(module: types.ModuleType) -> set[str]:
    classes = {name: getattr(module, name) for name in dir(module)}
    return {
        name
        for name, value in classes.items()
        if inspect.isclass(value) and issubclass(value, module.APIError)
    }


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_table_names_every_api_error_the_sdk_exports(sdk: types.ModuleType) -> None:
    exported = exported_api_errors(sdk)
    assert len(exported) > 5
    missing = sorted(exported - set(ERROR_TABLE))
    assert not missing, f"{sdk.__name__} exports errors devbot's table lacks: {missing}"


def status_error(cls: type, status: int, **kwargs: object) -> BaseException:
    """An SDK status exception as the SDK builds it from an HTTP response."""
    request = httpx2.Request("POST", "http://127.0.0.1/v1/x")
    headers = kwargs.pop("headers", {})
    response = httpx2.Response(status, request=request, headers=headers)  # type: ignore[arg-type]
    body = kwargs.pop("body", None)
    message = str(kwargs.pop("message", f"HTTP {status}"))
    error: BaseException = cls(message, response=response, body=body)
    return error


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
@pytest.mark.parametrize(
    ("name", "status", "kind", "retryable"),
    [
        ("AuthenticationError", 401, "auth", False),
        ("PermissionDeniedError", 403, "permission", False),
        ("NotFoundError", 404, "not_found", False),
        ("BadRequestError", 400, "bad_request", False),
        ("RateLimitError", 429, "rate_limit", True),
        ("InternalServerError", 500, "server", True),
        ("InternalServerError", 503, "server", True),
        ("ConflictError", 409, "conflict", True),
        ("UnprocessableEntityError", 422, "bad_request", False),
    ],
)
def test_status_errors(
    sdk: types.ModuleType, name: str, status: int, kind: str, retryable: bool
) -> None:
    error = classify(status_error(getattr(sdk, name), status))
    assert (error.kind, error.retryable) == (kind, retryable)
    assert isinstance(error, ClassifiedError)
    assert error.status_code == status
    assert name in str(error)


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_connection_and_timeout_are_retryable(sdk: types.ModuleType) -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/x")
    timeout = classify(sdk.APITimeoutError(request=request))
    connection = classify(sdk.APIConnectionError(request=request))
    assert (timeout.kind, timeout.retryable) == ("timeout", True)
    assert (connection.kind, connection.retryable) == ("connection", True)


def test_generic_status_error_with_5xx_is_a_retryable_server_error() -> None:
    error = classify(status_error(openai.APIStatusError, 502))
    assert (error.kind, error.retryable) == ("server", True)
    error = classify(status_error(openai.APIStatusError, 418))
    assert error.retryable is False


def test_subclass_uses_its_own_row_before_its_parent() -> None:
    spend = classify(status_error(anthropic.ContractSpendLimitReachedError, 429))
    assert (spend.kind, spend.retryable) == ("billing", False)
    overloaded = classify(status_error(anthropic.OverloadedError, 529))
    assert (overloaded.kind, overloaded.retryable) == ("overloaded", True)


def test_unlisted_subclass_falls_back_to_its_parent_row() -> None:
    class BrandNewRateLimit(anthropic.RateLimitError):
        pass

    error = classify(status_error(BrandNewRateLimit, 429))
    assert (error.kind, error.retryable) == ("rate_limit", True)


def test_unknown_exception_is_not_retryable() -> None:
    error = classify(KeyError("boom"))
    assert (error.kind, error.retryable) == ("unknown", False)
    assert error.__cause__ is not None


def test_model_error_passes_through_unchanged() -> None:
    original = ModelError("x", kind="auth", retryable=False)
    assert classify(original) is original


@pytest.mark.parametrize(
    ("sdk", "message", "body"),
    [
        (
            openai,
            "This model's maximum context length is 128000 tokens.",
            {"error": {"code": "context_length_exceeded"}},
        ),
        (anthropic, "prompt is too long: 210000 tokens > 200000 maximum", None),
    ],
    ids=["openai", "anthropic"],
)
def test_context_window_exceeded(sdk: types.ModuleType, message: str, body: object) -> None:
    error = classify(status_error(sdk.BadRequestError, 400, message=message, body=body))
    assert (error.kind, error.retryable) == ("context_length", False)


def test_retry_after_header_is_carried() -> None:
    exc = status_error(openai.RateLimitError, 429, headers={"retry-after": "7"})
    error = classify(exc)
    assert isinstance(error, ClassifiedError)
    assert error.retry_after_s == 7.0


def test_x_should_retry_header_overrides_the_table() -> None:
    exc = status_error(openai.BadRequestError, 400, headers={"x-should-retry": "true"})
    assert classify(exc).retryable is True


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert (
        parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
        == 10.0
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "100000"}) == 60.0
    assert parse_retry_after({}) is None
