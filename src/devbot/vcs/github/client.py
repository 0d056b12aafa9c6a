"""A small typed client for GitHub's REST and GraphQL APIs over httpx2.

It sends what devbot needs and nothing more: bearer auth, GitHub's media type and API version,
retries on rate limits (403/429 with `x-ratelimit-remaining: 0` or `retry-after`) and 5xx
with backoff that honours `retry-after` and `x-ratelimit-reset`, Link-header pagination, and
errors that name the request, GitHub's message and documentation URL — with every secret
redacted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from devbot.outward import outward_data
from devbot.vcs.github.auth import AppAuth, Credentials
from devbot.vcs.github.repo import graphql_url

if TYPE_CHECKING:
    import httpx2

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
_RETRIED_5XX = frozenset({500, 502, 503, 504})
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(RuntimeError):
    """GitHub refused a request (or could not be reached: status 0)."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        message: str,
        documentation_url: str = "",
        details: list[str] | None = None,
    ) -> None:
        super().__init__(method, path, status, message, documentation_url, details)
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.details = details or []

    def __str__(self) -> str:
        text = f"GitHub {self.method} {self.path} answered {self.status}: {self.message}"
        if self.details:
            text += " (" + "; ".join(self.details) + ")"
        if self.documentation_url:
            text += f" — see {self.documentation_url}"
        return text


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    headers: dict[str, str]


class GitHubClient:
    """REST calls relative to `api_url`, and GraphQL at the matching endpoint."""

    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        max_wait_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import httpx2

        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url(self.api_url)
        self.credentials = credentials
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._clock = clock
        self._http = httpx2.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={
                "Accept": MEDIA_TYPE,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "devbot",
            },
        )
        if isinstance(credentials, AppAuth):
            credentials.requester = self._app_request

    def close(self) -> None:
        self._http.close()

    def app_jwt(self) -> str | None:
        """The App's own JWT when authenticating as a GitHub App, else None."""
        return self.credentials.jwt() if isinstance(self.credentials, AppAuth) else None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params=params).data

    def post(self, path: str, json: Any = None) -> Any:
        return self.call("POST", path, json=json).data

    def patch(self, path: str, json: Any = None) -> Any:
        return self.call("PATCH", path, json=json).data

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list endpoint, following `Link: <...>; rel="next"`."""
        items: list[Any] = []
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url is not None:
            answer = self.call("GET", url, params=query)
            items.extend(answer.data or [])
            url = self._next_link(answer.headers.get("link", ""))
            query = None
        return items

    def download_tail(self, path: str, max_bytes: int) -> tuple[bytes, int]:
        """The last `max_bytes` of what `path` redirects to (a log or an archive), and how
        many bytes before them were dropped. The redirect target is a signed URL on another
        host: it gets no Authorization header, and the body is streamed, never held whole."""
        import httpx2

        answer = self.call("GET", path)
        location = answer.headers.get("location", "")
        if answer.status not in (301, 302, 303, 307, 308) or not location:
            raise GitHubError("GET", path, answer.status, "expected a redirect to the download")
        url = urljoin(self.api_url + "/", location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise GitHubError("GET", path, answer.status, "the download is not an HTTP URL")
        tail, seen = bytearray(), 0
        try:
            with self._http.stream("GET", url, headers={"Accept": "*/*"}) as response:
                if response.status_code >= 400:
                    raise GitHubError("GET", urlsplit(url).path, response.status_code, "download")
                for chunk in response.iter_bytes():
                    seen += len(chunk)
                    tail += chunk
                    if len(tail) > 2 * max_bytes:
                        del tail[: len(tail) - max_bytes]
        except httpx2.HTTPError as exc:
            raise GitHubError("GET", urlsplit(url).path, 0, self._redact(str(exc))) from None
        kept = bytes(tail[-max_bytes:]) if max_bytes else b""
        return kept, seen - len(kept)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("POST", self.graphql_url, json={"query": query, "variables": variables})
        data = answer.data if isinstance(answer.data, dict) else {}
        if data.get("errors"):
            messages = [str(error.get("message", error)) for error in data["errors"]]
            raise GitHubError("POST", "graphql", answer.status, self._redact("; ".join(messages)))
        result = data.get("data")
        return result if isinstance(result, dict) else {}

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Answer:
        """One request, retried while GitHub says "later"; an error answer raises GitHubError.
        Every text of the request body passes the outward gate (redaction, control codes)."""
        json = outward_data(json) if json is not None else None
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        shown = urlsplit(url).path
        response = self._send(method, url, shown, json, params, token)
        data = _json(response)
        if response.status_code >= 400:
            raise self._error(method, shown, response.status_code, data, response.text)
        return Answer(response.status_code, data, dict(response.headers))

    def _send(
        self,
        method: str,
        url: str,
        shown: str,
        json: Any,
        params: dict[str, Any] | None,
        token: str | None,
    ) -> httpx2.Response:
        import httpx2

        for attempt in range(self.retries + 1):
            bearer = token if token is not None else self.credentials.token()
            try:
                response = self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {bearer}"},
                )
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                if attempt == self.retries:
                    raise GitHubError(method, shown, 0, self._redact(str(exc))) from None
                self._sleep(self.backoff_s * 2.0**attempt)
                continue
            except httpx2.HTTPError as exc:
                raise GitHubError(method, shown, 0, self._redact(str(exc))) from None
            wait = self._retry_wait(response, attempt)
            if wait is None or attempt == self.retries or wait > self.max_wait_s:
                return response
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _retry_wait(self, response: httpx2.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        status, headers = response.status_code, response.headers
        backoff = self.backoff_s * 2.0**attempt
        if status in _RETRIED_5XX:
            return backoff
        rate_limited = headers.get("x-ratelimit-remaining") == "0"
        secondary = "retry-after" in headers or "rate limit" in response.text.lower()
        if status == 429 or (status == 403 and (rate_limited or secondary)):
            if "retry-after" in headers:
                return _seconds(headers["retry-after"], backoff)
            if rate_limited and "x-ratelimit-reset" in headers:
                reset = _seconds(headers["x-ratelimit-reset"], 0.0)
                return max(0.0, reset - self._clock()) + 1.0
            return backoff
        return None

    def _error(self, method: str, path: str, status: int, data: Any, text: str) -> GitHubError:
        body = data if isinstance(data, dict) else {}
        message = str(body.get("message") or text[:300] or "no message")
        details = [
            str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
            for e in body.get("errors") or []
        ]
        return GitHubError(
            method,
            path,
            status,
            self._redact(message),
            str(body.get("documentation_url") or ""),
            [self._redact(detail) for detail in details],
        )

    def _redact(self, text: str) -> str:
        for secret in self.credentials.secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def _next_link(self, link: str) -> str | None:
        match = _NEXT_LINK.search(link)
        if match is None:
            return None
        url = match.group(1)
        if urlsplit(url).netloc != urlsplit(self.api_url).netloc:
            raise GitHubError("GET", urlsplit(url).path, 0, "pagination left the API host")
        return url

    def _app_request(self, method: str, path: str, bearer: str) -> dict[str, Any]:
        data = self.call(method, path, token=bearer).data
        return data if isinstance(data, dict) else {}


def _json(response: httpx2.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _seconds(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default
