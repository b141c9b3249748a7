"""Top/skip paging of list endpoints: the pages of a read, fetched in order of offset and a
bounded window ahead of the consumer, resumable from where an earlier run stopped.

The HTTP of one request (auth, retries, the daily quota) is the client's (client.py), which
reads through this mixin.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from insightly.api.body import parse_body
from insightly.errors import ApiResponseError, QuotaExhausted

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # the API's maximum `top`
# Pages fetched past one still awaited: a hang (up to timeouts.FLOOR_S) or a 5xx's backoff
# no longer leaves the other request slots idle. At most this many undecoded pages wait,
# about 1.5 MB each for 500 contacts, and only while a page is late.
REORDER_PAGES = 32
Params = Mapping[str, Any]


class PagedReads:
    """Paged reads over a client's requests; `InsightlyClient` supplies the four below."""

    page_concurrency: int

    def _request(
        self, path: str, params: Params, table: str, claimed: bool = False, decode: bool = True
    ) -> tuple[Any, httpx.Response]:
        raise NotImplementedError

    def _claim_quota(self) -> None:
        raise NotImplementedError

    def _release_quota(self, table: str, response: httpx.Response | None) -> None:
        raise NotImplementedError

    def total(self, path: str, params: Params | None = None, *, table: str) -> int | None:
        """X-Total-Count of a list endpoint, for one request of one record."""
        query = {**(params or {}), "top": 1, "skip": 0, "count_total": "true"}
        _, response = self._request(path, query, table)
        total = response.headers.get("X-Total-Count", "")
        return int(total) if total.isdigit() else None

    def _page(
        self,
        path: str,
        params: Params,
        skip: int,
        page_size: int,
        table: str,
        totals: list[int],
        claimed: bool = False,
        decode: bool = True,
    ) -> tuple[Any, int | None]:
        """One page: its records, or (`decode` False) a RawPage; and its X-Total-Count."""
        query = {**params, "top": page_size, "skip": skip, "count_total": "true"}
        body, response = self._request(path, query, table, claimed, decode)
        header = response.headers.get("X-Total-Count", "")
        total = int(header) if header.isdigit() else None
        if total is not None:
            totals.append(total)
        if not decode:
            again = partial(self._page, path, params, skip, page_size, table, [])
            return RawPage(skip, path, body, lambda: again()[0]), total
        return require_list(path, body), total

    def pages(
        self,
        path: str,
        params: Params | None = None,
        *,
        table: str,
        page_size: int = PAGE_SIZE,
        totals: list[int] | None = None,
        start: int = 0,
        done: Collection[int] = (),
        max_pages: int | None = None,
        progress: PageProgress | None = None,
        raw: bool = False,
        window: int | None = None,
    ) -> Iterator[Any]:
        """Yield top/skip pages; a result of n records costs ceil(n/page_size) requests.

        The first page's X-Total-Count gives the page count, so the other pages are fetched
        concurrently (in order of offset, a bounded window ahead of the consumer). Paging
        ends on a short page or when the offset passes the latest total. Every X-Total-Count
        seen is appended to `totals`, so a caller can tell whether the result set moved
        while it was read.

        A read too large for one run resumes: it starts at offset `start`, never fetches
        the offsets in `done` (pages an earlier run already has), and makes at most
        `max_pages` requests. `progress` gets the offset of every page yielded (ascending)
        and whether the end of the result was reached. When the daily quota stops a page,
        pages fetched after it are still yielded before QuotaExhausted is raised, so no
        fetched page has to be fetched again.

        `raw` yields RawPages (decoded by whoever takes them, empty ones included) instead
        of lists of records. `window`: pages fetched and not yet yielded at most (default
        REORDER_PAGES), so that one slow answer doesn't leave the other slots idle.
        """
        progress = progress if progress is not None else PageProgress()
        fetched = self._raw_pages(
            path, params or {}, table, page_size, totals, start, done, max_pages, progress,
            window or max(REORDER_PAGES, self.page_concurrency * 2),
        )  # fmt: skip
        for page in fetched:
            if raw:
                progress.offsets.append(page.offset)
                yield page
            else:
                yield from progress.emit(page.offset, page.records())

    def _raw_pages(
        self,
        path: str,
        params: Params,
        table: str,
        page_size: int,
        totals: list[int] | None,
        start: int,
        done: Collection[int],
        max_pages: int | None,
        progress: PageProgress,
        window: int,
    ) -> Iterator[RawPage]:
        totals = totals if totals is not None else []
        plan = _Offsets(start, page_size, done, max_pages)
        first = plan.take()
        if first is None:
            return
        page, total = self._page(path, params, first, page_size, table, totals)
        yield RawPage.decoded(first, path, page)
        if len(page) < page_size:
            progress.complete = True
            return
        if total is None:  # no X-Total-Count: one page after the other until a short one
            yield from self._serial_pages(path, params, plan, page_size, table, totals)
        else:
            # the first offset past the known total
            end = first + page_size * max(1, math.ceil((total - first) / page_size))
            reads = _Window(path, params, plan, end, page_size, table, totals, window)
            last_full, latest_total = yield from self._concurrent_pages(reads)
            if last_full and end < latest_total and not plan.cut:  # records were added
                yield from self._serial_pages(path, params, plan, page_size, table, totals)
        progress.complete = not plan.cut

    def _serial_pages(
        self,
        path: str,
        params: Params,
        plan: _Offsets,
        page_size: int,
        table: str,
        totals: list[int],
    ) -> Iterator[RawPage]:
        while (skip := plan.take()) is not None:
            page, total = self._page(path, params, skip, page_size, table, totals)
            yield RawPage.decoded(skip, path, page)
            if len(page) < page_size or (total is not None and skip + page_size >= total):
                return

    def _concurrent_pages(self, reads: _Window) -> Generator[RawPage, None, tuple[bool, int]]:
        """Fetch the planned pages before `reads.end`, yielded in order of offset; returns
        (last page was full, latest total).

        Pages are requested `page_concurrency` at a time (twice that queued). While the
        first page not yet yielded waits for its answer (a hang waits out its read timeout,
        a 5xx its backoff), later pages go on being requested, up to `reads.window` fetched
        past it: the API is not left idle, and the pages come undecoded (RawPage, about a
        third of the memory of their records).

        Each page's quota slot is claimed when it is submitted, in offset order, so the
        reserve stops the read at one offset with every page before it sent: no gap for
        the next run to fill. A page stopped by the quota anyway (a retry, or the API's own
        429) stops new requests, but the pages already in flight after it are awaited and
        yielded: their requests are spent either way.
        """
        window: deque[Future] = deque()  # in order of offset (each RawPage knows its own)
        last: RawPage | None = None
        latest_total = 0
        stopped: QuotaExhausted | None = None
        queued = self.page_concurrency * 2
        limit = max(reads.window, queued)  # pages the window may hold, the late one included
        with ThreadPoolExecutor(self.page_concurrency, thread_name_prefix="page") as pool:

            def submit() -> bool:
                nonlocal stopped
                offset = reads.plan.take(reads.end) if stopped is None else None
                if offset is None:
                    return False
                try:
                    self._claim_quota()
                except QuotaExhausted as exc:
                    stopped = exc
                    return False
                future = pool.submit(
                    self._page, reads.path, reads.params, offset, reads.page_size,
                    reads.table, reads.totals, True, False,
                )  # fmt: skip
                window.append(future)
                return True

            def waiting() -> list[Future]:
                return [f for f in window if not f.done()]

            for _ in range(queued):
                submit()
            try:
                while window:
                    if not window[0].done():  # the next page to yield is still awaited
                        if len(window) < limit and len(waiting()) < queued and submit():
                            continue
                        wait(waiting(), return_when=FIRST_COMPLETED)
                        continue
                    future = window.popleft()
                    if future.cancelled():
                        continue
                    try:
                        page, page_total = future.result()
                    except QuotaExhausted as exc:
                        stopped = stopped or exc
                        for later in window:
                            self._cancel(later, reads.table)  # not started yet: never sent
                        continue
                    except Exception:
                        if stopped is None:
                            raise
                        continue  # stopping anyway; this page is simply not kept
                    if len(waiting()) < queued:
                        submit()
                    last = page
                    if page_total is not None:
                        latest_total = page_total
                    yield page
            finally:
                for future in window:
                    self._cancel(future, reads.table)
        if stopped is not None:
            raise stopped
        # only the last page's size decides whether records were added past the end
        last_full = last is not None and len(last.records()) == reads.page_size
        return last_full, latest_total

    def _cancel(self, future: Future, table: str) -> None:
        """Cancel a page not started yet, giving back the quota slot claimed for it."""
        if future.cancel():
            self._release_quota(table, None)


@dataclass
class _Window:
    """What `_concurrent_pages` reads: the pages of `path` before offset `end`, at most
    `window` of them fetched and not yet yielded."""

    path: str
    params: Params
    plan: _Offsets
    end: int
    page_size: int
    table: str
    totals: list[int]
    window: int


class RawPage:
    """A page as the API sent it, decoded when first asked for its records (by the thread
    that consumes it). A page of 500 contacts is 1.5 MB of JSON and about 5 MB decoded, so
    pages read ahead (api/ahead.py) and past a slow one wait as bytes. A body that doesn't
    decode (broken JSON) is asked for again, with the client's retries."""

    def __init__(
        self, offset: int, path: str, body: bytes, again: Callable[[], list[dict]]
    ) -> None:
        self.offset = offset
        self._path = path
        self._body = body
        self._again = again
        self._records: list[dict] | None = None
        self._lock = threading.Lock()  # the consumer and the last page's size check

    @classmethod
    def decoded(cls, offset: int, path: str, records: list[dict]) -> RawPage:
        page = cls(offset, path, b"", list)
        page._records = records
        return page

    def body(self) -> bytes | None:
        """The body as sent, for a decoder of its own; None once `records` decoded it."""
        with self._lock:
            return self._body if self._records is None else None

    def records(self) -> list[dict]:
        with self._lock:
            if self._records is None:
                try:
                    body = parse_body(self._body)
                except ValueError:  # orjson's and json's decode errors both are ValueErrors
                    log.warning("%s: a page's body is not valid JSON; asking again", self._path)
                    self._records = self._again()
                else:
                    self._records = require_list(self._path, body)
                self._body = b""
            return self._records


@dataclass
class PageProgress:
    """How far a paged read got, for a caller that continues it in a later run."""

    offsets: list[int] = field(default_factory=list)  # offset of each page yielded, ascending
    complete: bool = False  # the end of the result was reached (not cut by max_pages)

    def emit(self, offset: int, page: list[dict]) -> Iterator[list[dict]]:
        """Yield a non-empty page, its offset recorded first so the consumer can read it."""
        if page:
            self.offsets.append(offset)
            yield page


class _Offsets:
    """The offsets still to fetch: from `start` in steps of a page, leaving out pages read
    in an earlier run, and at most `budget` of them."""

    def __init__(self, start: int, step: int, done: Collection[int], budget: int | None) -> None:
        self.next = start
        self.step = step
        self.done = frozenset(done)
        self.budget = budget
        self.cut = False  # the budget ran out before the end of the result

    def take(self, end: int | None = None) -> int | None:
        while self.next in self.done:
            self.next += self.step
        if end is not None and self.next >= end:
            return None
        if self.budget is not None and self.budget <= 0:
            self.cut = True
            return None
        if self.budget is not None:
            self.budget -= 1
        offset, self.next = self.next, self.next + self.step
        return offset


def require_list(path: str, body: Any) -> list[dict]:
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
