"""Top/skip paging of list endpoints: the pages of a read, fetched in order of offset and a
bounded window ahead of the consumer, resumable from where an earlier run stopped.

The HTTP of one request (auth, retries, the daily quota) is the client's (client.py), which
reads through this mixin.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from insightly.errors import ApiResponseError, QuotaExhausted

PAGE_SIZE = 500  # the API's maximum `top`
Params = Mapping[str, Any]


class PagedReads:
    """Paged reads over a client's requests; `InsightlyClient` supplies the four below."""

    page_concurrency: int

    def _request(
        self, path: str, params: Params, table: str, claimed: bool = False
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
    ) -> tuple[list[dict], int | None]:
        query = {**params, "top": page_size, "skip": skip, "count_total": "true"}
        body, response = self._request(path, query, table, claimed)
        header = response.headers.get("X-Total-Count", "")
        total = int(header) if header.isdigit() else None
        if total is not None:
            totals.append(total)
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
    ) -> Iterator[list[dict]]:
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
        """
        params = params or {}
        totals = totals if totals is not None else []
        progress = progress if progress is not None else PageProgress()
        plan = _Offsets(start, page_size, done, max_pages)
        first = plan.take()
        if first is None:
            return
        page, total = self._page(path, params, first, page_size, table, totals)
        yield from progress.emit(first, page)
        if len(page) < page_size:
            progress.complete = True
            return
        if total is None:  # no X-Total-Count: one page after the other until a short one
            yield from self._serial_pages(path, params, plan, page_size, table, totals, progress)
        else:
            # the first offset past the known total
            end = first + page_size * max(1, math.ceil((total - first) / page_size))
            last_full, latest_total = yield from self._concurrent_pages(
                path, params, plan, end, page_size, table, totals, progress
            )
            if last_full and end < latest_total and not plan.cut:  # records were added
                yield from self._serial_pages(
                    path, params, plan, page_size, table, totals, progress
                )
        progress.complete = not plan.cut

    def _serial_pages(
        self,
        path: str,
        params: Params,
        plan: _Offsets,
        page_size: int,
        table: str,
        totals: list[int],
        progress: PageProgress,
    ) -> Iterator[list[dict]]:
        while (skip := plan.take()) is not None:
            page, total = self._page(path, params, skip, page_size, table, totals)
            yield from progress.emit(skip, page)
            if len(page) < page_size or (total is not None and skip + page_size >= total):
                return

    def _concurrent_pages(
        self,
        path: str,
        params: Params,
        plan: _Offsets,
        end: int,
        page_size: int,
        table: str,
        totals: list[int],
        progress: PageProgress,
    ) -> Generator[list[dict], None, tuple[bool, int]]:
        """Fetch the planned pages before `end`; returns (last page was full, latest total).

        Each page's quota slot is claimed when it is submitted, in offset order, so the
        reserve stops the read at one offset with every page before it sent: no gap for
        the next run to fill. A page stopped by the quota anyway (a retry, or the API's own
        429) stops new requests, but the pages already in flight after it are awaited and
        yielded: their requests are spent either way.
        """
        window: deque[tuple[int, Future]] = deque()
        last_full, latest_total = False, 0
        stopped: QuotaExhausted | None = None
        with ThreadPoolExecutor(self.page_concurrency, thread_name_prefix="page") as pool:

            def submit() -> None:
                nonlocal stopped
                offset = plan.take(end) if stopped is None else None
                if offset is None:
                    return
                try:
                    self._claim_quota()
                except QuotaExhausted as exc:
                    stopped = exc
                    return
                future = pool.submit(
                    self._page, path, params, offset, page_size, table, totals, True
                )
                window.append((offset, future))

            for _ in range(self.page_concurrency * 2):
                submit()
            try:
                while window:
                    offset, future = window.popleft()
                    if future.cancelled():
                        continue
                    try:
                        page, page_total = future.result()
                    except QuotaExhausted as exc:
                        stopped = stopped or exc
                        for _, later in window:
                            self._cancel(later, table)  # not started yet: never sent
                        continue
                    except Exception:
                        if stopped is None:
                            raise
                        continue  # stopping anyway; this page is simply not kept
                    submit()
                    last_full = len(page) == page_size
                    if page_total is not None:
                        latest_total = page_total
                    yield from progress.emit(offset, page)
            finally:
                for _, future in window:
                    self._cancel(future, table)
        if stopped is not None:
            raise stopped
        return last_full, latest_total

    def _cancel(self, future: Future, table: str) -> None:
        """Cancel a page not started yet, giving back the quota slot claimed for it."""
        if future.cancel():
            self._release_quota(table, None)


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
