"""Every HTTP concern of a request in one place: auth, compression, timeouts, retries, the
daily quota, errors. Paging over those requests is paging.py's.

Resources only ask for pages of records; they never see httpx.
"""

from __future__ import annotations

import errno
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential_jitter,
)

from insightly.api.ahead import ReadAhead
from insightly.api.body import parse_body
from insightly.api.connection import Connection
from insightly.api.pacing import Pacer
from insightly.api.paging import PagedReads, Params, require_list
from insightly.api.timeouts import ReadTimeouts
from insightly.errors import (
    ApiResponseError,
    ApiUnreachable,
    AuthenticationError,
    EntityUnavailable,
    QuotaExhausted,
    QuotaReserveReached,
)
from insightly.stats import RunStats

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryableResponse(Exception):
    """A 429/5xx or an unreadable body: worth another attempt."""

    def __init__(
        self,
        message: str,
        status: int = 0,
        retry_after: float | None = None,
        sent: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.sent = sent  # when the pacer let the request go (pacer clock)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableResponse | httpx.TransportError)


def _unsent(exc: BaseException) -> bool:
    """Failures that prove the request never reached the server: safe to send again."""
    if isinstance(exc, RetryableResponse):
        return exc.status == 429
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _no_answer(exc: httpx.TransportError, path: str, timeout: float, connect: float) -> str:
    """Why no HTTP answer came, in a few words, from the OS error under httpx's (refused,
    not resolved, reset) or httpx's own kind (timeouts, a connection closed early)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return f"connection reset while asking for {path}"
        current = current.__cause__ or current.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {connect:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no answer to {path} within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"{path} timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending a response" in str(exc):
            return f"the connection closed without an answer to {path}"
        return f"the connection closed before the answer to {path} was complete"
    return f"{type(exc).__name__} on {path}: {exc}"


@dataclass
class _Tries:
    """The attempts of one logical GET."""

    claimed: bool  # the caller holds a quota slot for the first attempt
    cut: int = 0  # attempts that timed out waiting for the answer
    timeout: float = 0.0  # the latest attempt's read timeout
    decode: bool = True  # False: the body's bytes are returned undecoded


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date; fall back to backoff


class InsightlyClient(PagedReads):
    """One connection pool and one pacer per run, shared by every resource and thread."""

    def __init__(
        self,
        connection: Connection,
        stats: RunStats | None = None,
        *,
        pacer: Pacer | None = None,
        page_concurrency: int = 3,
        quota_reserve: float = 0.1,
        pages_per_run: int | None = None,
        timeout: float = 60.0,
        max_attempts: int = 6,
        max_rate_limited: int = 30,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = connection.base_url
        self._timeout = timeout  # the ceiling: writes wait this long, GETs at most this long
        self._connect_timeout = min(timeout, 15.0)
        self.read_timeouts = ReadTimeouts(timeout)  # timeouts.py
        self.stats = stats or RunStats()
        self.pacer = pacer or Pacer()
        self.page_concurrency = max(1, page_concurrency)
        self.quota_reserve = quota_reserve
        # Pages of one incremental read fetched and not yet committed, at most
        # (backfill_pages_per_run): a large read is loaded in chunks, read ahead (ahead.py).
        self.pages_per_run = pages_per_run
        self.reads: dict[str, ReadAhead] = {}  # reads under way across chunks (ahead.py)
        self._quota_lock = threading.Lock()
        self._in_flight = 0
        pool = max(self.pacer.max_in_flight, 1) + 2
        self._http = httpx.Client(
            base_url=connection.base_url,
            auth=httpx.BasicAuth(connection.api_key, ""),
            headers={"Accept": "application/json", "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(timeout, connect=self._connect_timeout),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the key to another host
        )
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self._max_attempts = max_attempts
        self._max_rate_limited = max(max_attempts, max_rate_limited)
        self._max_retry_after = max_retry_after

    def close(self) -> None:
        for reader in list(self.reads.values()):
            reader.close()
        self.reads.clear()
        self._http.close()

    def __enter__(self) -> InsightlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- single requests -------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.retry_after is not None:
            delay = min(exc.retry_after, self._max_retry_after)
        elif isinstance(exc, httpx.ReadTimeout):
            delay = 0.0  # a request cut by its read timeout has waited (timeouts.py) already
        else:
            delay = self._backoff(state)
        if isinstance(exc, RetryableResponse) and exc.status == 429:
            # every worker backs off, not just this one; the rate halves once per event
            self.pacer.slow_down(delay, exc.sent)
        return delay

    def _stop(self, state: RetryCallState) -> bool:
        """5xx and transport errors get `max_attempts`; a burst 429 gets more, because each
        one slows the whole run down until the API accepts the pace."""
        exc = state.outcome.exception() if state.outcome else None
        rate_limited = isinstance(exc, RetryableResponse) and exc.status == 429
        limit = self._max_rate_limited if rate_limited else self._max_attempts
        return state.attempt_number >= limit

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("retrying after attempt %d: %s", state.attempt_number, exc)

    def _request(
        self, path: str, params: Params, table: str, claimed: bool = False, decode: bool = True
    ) -> tuple[Any, httpx.Response]:
        """One logical GET: retried on 429, 5xx, transport errors and unreadable bodies.
        After the last attempt a 5xx or an unreadable body is an ApiResponseError (exit 4);
        no HTTP answer at all (refused, not resolved, timeouts, resets) is ApiUnreachable
        (exit 69), which a scheduler retries.

        `claimed`: the caller already holds a quota slot for the first attempt. `decode`
        False returns the body's bytes: the caller decodes them later (paging.RawPage),
        and asks again if they don't decode.
        """
        tries = _Tries(claimed, decode=decode)
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params, table, tries)
        except RetryableResponse as exc:
            raise ApiResponseError(f"{path}: gave up after retrying: {exc}") from None
        except httpx.TransportError as exc:
            attempts = retrying.statistics.get("attempt_number", self._max_attempts)
            raise ApiUnreachable(
                f"the Insightly API could not be reached at {self.base_url} "
                f"({_no_answer(exc, path, tries.timeout, self._connect_timeout)}) after {attempts} "
                f"attempt{'s' if attempts != 1 else ''}: check the network, the pod "
                "(SOURCES__INSIGHTLY__POD) or SOURCES__INSIGHTLY__BASE_URL; the next run "
                "continues where this one stopped"
            ) from None

    def get_json(self, path: str, params: Params | None = None, *, table: str) -> Any:
        """GET a path and return its decoded JSON."""
        return self._request(path, params or {}, table)[0]

    def _claim_quota(self) -> None:
        """Refuse to send a request that could eat into the reserve left for other tools."""
        stats = self.stats
        with self._quota_lock:
            if stats.rate_remaining is not None and stats.rate_limit:
                reserve = math.ceil(stats.rate_limit * self.quota_reserve)
                if stats.rate_remaining - self._in_flight <= reserve:
                    raise QuotaReserveReached(
                        f"stopped with {stats.rate_remaining} of {stats.rate_limit} daily "
                        f"requests left: the rest is the reserve kept for other integrations "
                        f"(quota_reserve={self.quota_reserve:g}); the sync continues where it "
                        "stopped after the daily quota resets"
                    )
            self._in_flight += 1

    def _release_quota(self, table: str, response: httpx.Response | None) -> None:
        """Count an answer and free its in-flight slot at once: a claim that saw the lower
        X-RateLimit-Remaining and still the slot would count the request twice."""
        with self._quota_lock:
            if response is not None:
                headers = response.headers
                self.stats.count_request(
                    table,
                    response.status_code,
                    headers.get("X-RateLimit-Limit"),
                    headers.get("X-RateLimit-Remaining"),
                    headers.get("X-Total-Count"),
                )
            self._in_flight -= 1

    def _get_once(
        self, path: str, params: Params, table: str, tries: _Tries
    ) -> tuple[Any, httpx.Response]:
        if tries.claimed:
            tries.claimed = False  # a slot claimed in advance serves the first attempt only
        else:
            self._claim_quota()
        tries.timeout = self.read_timeouts.for_attempt(tries.cut)
        timeout = httpx.Timeout(self._timeout, connect=self._connect_timeout, read=tries.timeout)
        response: httpx.Response | None = None
        try:
            with self.pacer.request() as sent:
                began = time.monotonic()
                try:
                    response = self._http.get(path, params=params, timeout=timeout)
                except httpx.ReadTimeout:
                    tries.cut += 1  # the next attempt waits twice as long
                    raise
                took = time.monotonic() - began
        finally:
            self._release_quota(table, response)
        self._raise_for_status(path, response, sent)  # returns for a 200 only
        self.read_timeouts.observe(took)
        self.pacer.succeeded()
        if not tries.decode:
            return response.content, response
        try:
            return parse_body(response.content), response
        except ValueError as exc:  # orjson's and json's decode errors both are ValueErrors
            # A truncated body is a transport failure in disguise: retry it.
            raise RetryableResponse(f"{path}: the body is not valid JSON ({exc})") from None

    def _raise_for_status(self, path: str, response: httpx.Response, sent: float) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 401:
            raise AuthenticationError(
                f"Insightly answered 401 for {path}: check the API key and pod "
                "(SOURCES__INSIGHTLY__API_KEY, SOURCES__INSIGHTLY__POD)"
            )
        if status in (403, 404, 405):  # the tenant has no such list (or object, or plan)
            raise EntityUnavailable(path, status)
        if status == 429 and response.headers.get("X-RateLimit-Remaining") == "0":
            raise QuotaExhausted(
                f"the daily API quota is spent ({response.headers.get('X-RateLimit-Limit')} "
                "requests a day): the sync continues where it stopped after the quota resets"
            )
        if status in RETRY_STATUSES:
            raise RetryableResponse(f"{path}: HTTP {status}", status, _retry_after(response), sent)
        raise ApiResponseError(f"{path}: HTTP {status}: {response.text[:200]}")

    def send(
        self,
        method: str,
        path: str,
        *,
        table: str,
        body: Any = None,
        params: Params | None = None,
        resend: bool = False,
    ) -> httpx.Response:
        """One request of any method through the run's pacer, quota and counters; the
        answer is returned unread for the caller (actions.py) to judge.

        A burst 429 and a connection never made reach no server, so they are retried for
        every method; 5xx and other transport errors only when `resend` (idempotent
        requests). After the last attempt the RetryableResponse or httpx error is raised.
        """
        retrying = Retrying(
            retry=retry_if_exception(_unsent if not resend else _retryable),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._send_once, method, path, table, body, params)

    def _send_once(
        self, method: str, path: str, table: str, body: Any, params: Params | None
    ) -> httpx.Response:
        self._claim_quota()
        response: httpx.Response | None = None
        try:
            with self.pacer.request() as sent:
                response = self._http.request(method, path, json=body, params=params)
        finally:
            self._release_quota(table, response)
        status = response.status_code
        if status == 429 and response.headers.get("X-RateLimit-Remaining") == "0":
            self._raise_for_status(path, response, sent)  # the daily quota: QuotaExhausted
        if status in RETRY_STATUSES:
            raise RetryableResponse(f"{path}: HTTP {status}", status, _retry_after(response), sent)
        self.pacer.succeeded()
        return response

    # -- lists -----------------------------------------------------------------------------

    def get_list(self, path: str, params: Params | None = None, *, table: str) -> list[dict]:
        """GET an endpoint that takes no paging parameters and answers a JSON array."""
        return require_list(path, self.get_json(path, params, table=table))
