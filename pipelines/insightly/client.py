"""Every HTTP concern in one place: auth, compression, timeouts, retries, paging, errors.

Resources only ask for pages of records; they never see httpx.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .errors import ApiResponseError, AuthenticationError, EntityUnavailable, QuotaExhausted
from .settings import Connection
from .stats import RunStats

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # the API's maximum `top`
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Params = Mapping[str, Any]


class RetryableResponse(Exception):
    """A 429/5xx or an unreadable body: worth another attempt."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableResponse | httpx.TransportError)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date; fall back to backoff


class InsightlyClient:
    """One connection pool per run, shared by every resource (httpx.Client is thread-safe)."""

    def __init__(
        self,
        connection: Connection,
        stats: RunStats | None = None,
        *,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = connection.base_url
        self.stats = stats or RunStats()
        self._http = httpx.Client(
            base_url=connection.base_url,
            auth=httpx.BasicAuth(connection.api_key, ""),
            headers={"Accept": "application/json", "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the key to another host
        )
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InsightlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- single requests -------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_retry_after)
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("retrying after attempt %d: %s", state.attempt_number, exc)

    def _request(self, path: str, params: Params, table: str) -> tuple[Any, httpx.Response]:
        """One logical GET: retried on 429, 5xx, transport errors and unreadable bodies."""
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self._max_attempts),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params, table)
        except RetryableResponse as exc:
            raise ApiResponseError(
                f"{path}: gave up after {self._max_attempts} attempts: {exc}"
            ) from None
        except httpx.TransportError as exc:
            raise ApiResponseError(
                f"{path}: gave up after {self._max_attempts} attempts: "
                f"{type(exc).__name__}: {exc}. Check the network and SOURCES__INSIGHTLY__POD"
            ) from None

    def get_json(self, path: str, params: Params | None = None, *, table: str) -> Any:
        """GET a path and return its decoded JSON."""
        return self._request(path, params or {}, table)[0]

    def _get_once(self, path: str, params: Params, table: str) -> tuple[Any, httpx.Response]:
        response = self._http.get(path, params=params)
        headers = response.headers
        self.stats.count_request(
            table,
            response.status_code,
            headers.get("X-RateLimit-Limit"),
            headers.get("X-RateLimit-Remaining"),
        )
        self._raise_for_status(path, response)
        try:
            return response.json(), response
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # A truncated body is a transport failure in disguise: retry it.
            raise RetryableResponse(f"{path}: the body is not valid JSON ({exc})") from None

    def _raise_for_status(self, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 401:
            raise AuthenticationError(
                f"Insightly answered 401 for {path}: check the API key and pod "
                "(SOURCES__INSIGHTLY__API_KEY, SOURCES__INSIGHTLY__POD)"
            )
        if status in (403, 404):
            raise EntityUnavailable(path, status)
        if status == 429 and response.headers.get("X-RateLimit-Remaining") == "0":
            raise QuotaExhausted(
                f"The daily API quota is spent ({response.headers.get('X-RateLimit-Limit')} "
                "requests a day): run the sync again after the quota resets"
            )
        if status in RETRY_STATUSES:
            raise RetryableResponse(f"{path}: HTTP {status}", _retry_after(response))
        raise ApiResponseError(f"{path}: HTTP {status}: {response.text[:200]}")

    # -- lists -----------------------------------------------------------------------------

    def get_list(self, path: str, params: Params | None = None, *, table: str) -> list[dict]:
        """GET an endpoint that takes no paging parameters and answers a JSON array."""
        return _require_list(path, self.get_json(path, params, table=table))

    def pages(
        self, path: str, params: Params | None = None, *, table: str, page_size: int = PAGE_SIZE
    ) -> Iterator[list[dict]]:
        """Yield top/skip pages until a short page or X-Total-Count says the end is reached.

        A result of n records therefore costs ceil(n/page_size) requests (1 when n == 0).
        """
        skip = 0
        while True:
            query = {**(params or {}), "top": page_size, "skip": skip, "count_total": "true"}
            body, response = self._request(path, query, table)
            page = _require_list(path, body)
            if page:
                yield page
            skip += page_size
            total = response.headers.get("X-Total-Count", "")
            if len(page) < page_size or (total.isdigit() and skip >= int(total)):
                return


def _require_list(path: str, body: Any) -> list[dict]:
    """A list endpoint answering anything but an array is an error, never "0 rows"."""
    if not isinstance(body, list):
        raise ApiResponseError(
            f"{path}: expected a JSON array of records, got a JSON {type(body).__name__}; "
            "nothing was loaded for this run"
        )
    return body


def page_count(n: int, page_size: int = PAGE_SIZE) -> int:
    """Requests a read of n records costs: ceil(n/page_size), and 1 for an empty result."""
    return max(1, math.ceil(n / page_size))
