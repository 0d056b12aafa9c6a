"""Provider exceptions -> ModelError, through one table.

The table is keyed by exception class name, so it covers the `openai` and `anthropic` SDKs
without importing either. `classify` walks the exception's MRO and uses the first class the
table names; a test fails when an SDK exports an APIError subclass the table lacks.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from typing import Any

from devbot.llm.base import ModelError

# name -> (kind, retryable). Names shared by both SDKs mean the same thing in both.
ERROR_TABLE: dict[str, tuple[str, bool]] = {
    # bases
    "APIError": ("unknown", False),
    "APIStatusError": ("http_error", False),
    "APIResponseValidationError": ("invalid_response", False),
    "APIWebhookValidationError": ("invalid_response", False),
    # transport
    "APIConnectionError": ("connection", True),
    "APITimeoutError": ("timeout", True),
    "RequestTimeoutError": ("timeout", True),
    "ClientClosedRequestError": ("connection", True),
    # credentials and permissions
    "AuthenticationError": ("auth", False),
    "OAuthError": ("auth", False),
    "CredentialsError": ("auth", False),
    "IdentityTokenFileError": ("auth", False),
    "WorkloadIdentityError": ("auth", False),
    "SubjectTokenProviderError": ("auth", False),
    "ClaudeCodeKeyCreatorNotMemberError": ("auth", False),
    "PermissionDeniedError": ("permission", False),
    "SandboxEgressRestrictedError": ("permission", False),
    "OrganizationOnHoldError": ("permission", False),
    # money
    "PaymentRequiredError": ("billing", False),
    "LinkedOrganizationBillingUnavailableError": ("billing", False),
    "LinkedOrganizationSpendLimitReachedError": ("billing", False),
    "ContractSpendLimitReachedError": ("billing", False),
    "EnforcedSpendLimitReachedError": ("billing", False),
    # throttling
    "RateLimitError": ("rate_limit", True),
    "RampLimitExceededError": ("rate_limit", True),
    # the request itself is wrong: sending it again cannot help
    "BadRequestError": ("bad_request", False),
    "ClaudeCodeVersionTooOldError": ("bad_request", False),
    "CMEKKeyDisabledError": ("bad_request", False),
    "CMEKKeyNetworkBlockedError": ("bad_request", False),
    "OrganizationTypeNotSupportedError": ("bad_request", False),
    "ParentOrganizationRequiredError": ("bad_request", False),
    "RequestBodyEncodingInvalidError": ("bad_request", False),
    "RequestBodyEncodingUnsupportedError": ("bad_request", False),
    "NotFoundError": ("not_found", False),
    "ConflictError": ("conflict", True),
    "PreconditionFailedError": ("bad_request", False),
    "UnprocessableEntityError": ("bad_request", False),
    "ContentTooLargeError": ("too_large", False),
    "RequestTooLargeError": ("too_large", False),
    "RequestBodyTooLargeAfterDecodingError": ("too_large", False),
    "RequestHeaderFieldsTooLargeError": ("too_large", False),
    # provider side
    "InternalServerError": ("server", True),
    "HTTPNotImplementedError": ("server", False),
    "ServiceUnavailableError": ("server", True),
    "GatewayTimeoutError": ("timeout", True),
    "DeadlineExceededError": ("timeout", True),
    "OverloadedError": ("overloaded", True),
    "CMEKContextUnavailableError": ("server", True),
    "CMEKKeyUnreachableError": ("server", True),
    # raised by helpers devbot does not call; listed so nothing is "unknown"
    "LengthFinishReasonError": ("bad_request", False),
    "ContentFilterFinishReasonError": ("content_filter", False),
    "RetryableError": ("unknown", True),
}

# Classes whose entry is only a fallback: a 5xx status makes them retryable "server" errors.
_GENERIC = frozenset({"APIError", "APIStatusError"})

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "context limit",
    "context size",
    "prompt is too long",
    "too many tokens",
)

MAX_RETRY_AFTER_S = 60.0


class ClassifiedError(ModelError):
    """A ModelError made from a provider exception, with what the HTTP response told us."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, kind=kind, retryable=retryable)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


def classify(exc: BaseException) -> ModelError:
    """Turn any exception raised by a model call into a ModelError (kind, retryable)."""
    if isinstance(exc, ModelError):
        return exc
    kind, retryable, generic = _lookup(type(exc))
    status = _status_code(exc)
    if generic and status is not None and status >= 500:
        kind, retryable = "server", True
    headers = _headers(exc)
    should_retry = (headers.get("x-should-retry") or "").lower()
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    if kind == "bad_request" and _mentions_context(exc):
        kind, retryable = "context_length", False
    error = ClassifiedError(
        _describe(exc),
        kind=kind,
        retryable=retryable,
        status_code=status,
        retry_after_s=parse_retry_after(headers),
    )
    error.__cause__ = exc
    return error


def _lookup(cls: type[BaseException]) -> tuple[str, bool, bool]:
    for klass in cls.__mro__:
        entry = ERROR_TABLE.get(klass.__name__)
        if entry is not None:
            return entry[0], entry[1], klass.__name__ in _GENERIC
    return "unknown", False, True


def _status_code(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _headers(exc: BaseException) -> Mapping[str, str]:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def _mentions_context(exc: BaseException) -> bool:
    parts: list[Any] = [str(exc), getattr(exc, "code", None), getattr(exc, "body", None)]
    text = " ".join(str(part) for part in parts if part).lower()
    return any(marker in text for marker in _CONTEXT_MARKERS)


def _describe(exc: BaseException) -> str:
    status = _status_code(exc)
    prefix = f"{type(exc).__name__}" + (f" (HTTP {status})" if status is not None else "")
    detail = str(exc).strip()
    return f"{prefix}: {detail}" if detail else prefix


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        seconds: float | None
        try:
            seconds = float(raw) / divisor
        except ValueError:
            seconds = _seconds_until(raw, now)
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER_S)
    return None


def _seconds_until(http_date: str, now: float | None) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
