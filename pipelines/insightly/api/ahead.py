"""Reading ahead: a large paged read keeps fetching in a background thread while the pipeline
normalizes and loads the chunk before, so the API is not idle between chunks and, after the
last page, only one small chunk is left to load.

A read with a page budget (`backfill_pages_per_run`, B) of at least AHEAD_MIN_PAGES is
consumed in chunks of B / CHUNK_SHARE pages or more (ReadAhead.chunk), one pipeline run
each; its pages are fetched by one `pages()` generator that lives across the chunks (so the
read is one read: offsets planned once, every X-Total-Count seen), pumped by a thread into
a bounded buffer. The consumer records a page only when it yields it (the walk state
commits exactly the pages loaded). What a kill can lose stays within B pages: the pump
holds back while the chunk in progress, the buffer and the pages in flight would pass it.

A smaller budget keeps the plain read: chunks of B pages, nothing fetched past them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator
from typing import Any

from insightly.api.paging import PAGE_SIZE, REORDER_PAGES, PageProgress, Params, RawPage

AHEAD_MIN_PAGES = 40  # a page budget below this is read chunk by chunk, nothing ahead
CHUNK_SHARE = 10  # a chunk is a tenth of the page budget: 20 pages (10,000 records) at 200
AHEAD_CHUNKS = 2  # the buffer holds at most this many chunks' pages (undecoded: ~1.5 MB a page)
# turns a chunk's pages into (offset, page) in order; the default decodes each page's records
Decode = Callable[[Iterator[RawPage]], Iterator[tuple[int, Any]]]


def decoded(pages: Iterator[RawPage]) -> Iterator[tuple[int, list[dict]]]:
    """Each page's records, decoded by the consumer's thread."""
    for page in pages:
        yield page.offset, page.records()


class ReadAhead:
    """One paged read, pumped by a thread into a buffer and consumed in chunks."""

    def __init__(
        self,
        key: tuple,
        start: int,
        source: Callable[[list[int], PageProgress], Iterator[RawPage]],
        budget: int,
        window: int,
    ) -> None:
        self.key = key  # (path, params) of the read: a later chunk must ask for the same
        self.next_offset = start  # where the next chunk starts: past the last page consumed
        self.chunk_pages = max(1, budget // CHUNK_SHARE)
        self.totals: list[int] = []  # every X-Total-Count, appended by the page threads
        self._budget = budget
        self._window = window  # pages the generator may have in flight ahead of the pump
        self._ahead = AHEAD_CHUNKS * self.chunk_pages
        self._pumped = PageProgress()  # offsets pulled from the generator
        self._items: deque[RawPage] = deque()  # undecoded: a third of the memory
        self._end: BaseException | None = None
        self._ended = False
        self._closed = False
        self._taken = 0  # pages yielded in the chunk in progress (not committed yet)
        self._target = self.chunk_pages  # pages the chunk in progress takes at least
        self._held_back = False  # the pump waits for room: the pipeline is behind the API
        self._totals_seen = 0
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._pump, args=(source(self.totals, self._pumped),), daemon=True,
            name=f"read-ahead-{key[0]}",
        )  # fmt: skip
        self._thread.start()

    @property
    def finished(self) -> bool:
        """The read ended (completely, or with an error) and every page was consumed."""
        with self._cond:
            return self._ended and not self._items

    def _full(self) -> bool:
        """Hold the pump: the buffer has its chunks, or the pages not committed (the chunk
        in progress, the buffer, the pages in flight) would pass the budget. Never with an
        empty buffer: the consumer may be waiting for a page."""
        held = self._taken + len(self._items)
        return bool(self._items) and (
            len(self._items) >= self._ahead or held + self._window >= self._budget
        )

    def _pump(self, pages: Iterator[RawPage]) -> None:
        try:
            for page in pages:
                with self._cond:
                    self._items.append(page)
                    self._cond.notify_all()
                    while self._full() and not self._closed:
                        self._held_back = True
                        self._cond.wait()
                    self._held_back = False
                    if self._closed:
                        break
        except BaseException as exc:  # handed to the consumer, after the pages before it
            with self._cond:
                self._end = exc
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # cancels pages not sent yet (a read abandoned mid-way)
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def chunk(
        self, progress: PageProgress, totals: list[int], decode: Decode | None = None
    ) -> Iterator[Any]:
        """The pages of one chunk: `chunk_pages`, or the backlog read ahead meanwhile if
        larger, and on past that while the pump is held back by a full buffer (the API
        outpaces the pipeline: fewer, larger runs cost less), within the budget. Each
        page's offset goes to `progress` as it is yielded, the X-Total-Counts seen so far
        to `totals` (each to one chunk); `progress.complete` says the read ended with this
        chunk. An error of the read is raised after the pages before it. `decode` turns
        the pages into what is yielded (default: their records)."""
        with self._cond:
            self._taken = 0  # the chunk before was extracted: its pages are committed
            self._target = max(self.chunk_pages, len(self._items))
            self._cond.notify_all()
        for offset, page in (decode or decoded)(self._taken_pages(totals)):
            yield from progress.emit(offset, page)
        with self._cond:
            if self._ended and not self._items:
                self._give_totals(totals)
                if self._end is not None:
                    raise self._end
                progress.complete = self._pumped.complete

    def _taken_pages(self, totals: list[int]) -> Iterator[RawPage]:
        while (page := self._next(totals)) is not None:
            self.next_offset = page.offset + PAGE_SIZE
            yield page

    def _next(self, totals: list[int]) -> RawPage | None:
        """The next page of this chunk, or None when the chunk ends: the read ended, or
        the chunk has its pages. Then it still waits for the next page or the end, so that
        a read ending right after this chunk is complete with it."""
        with self._cond:
            limit = self._taken + self._window + 1 >= self._budget  # the pump's bound
            behind = bool(self._items) and self._held_back  # the API waits for the pipeline
            caught_up = self._taken >= self._target and (not behind or limit)
            while not self._items and not self._ended:
                self._cond.wait()
            if caught_up or not self._items:
                return None
            item = self._items.popleft()
            self._taken += 1
            self._give_totals(totals)
            self._cond.notify_all()
            return item

    def _give_totals(self, totals: list[int]) -> None:
        """The totals seen since the last handed out (the page threads only append)."""
        fresh = self.totals[self._totals_seen :]
        self._totals_seen += len(fresh)
        totals.extend(fresh)

    def close(self) -> None:
        """Stop reading ahead (the read is abandoned, or the run ends): pages in flight are
        awaited by the generator, pages not sent yet are cancelled."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def pages_ahead(
    reads: dict[str, ReadAhead],
    table: str,
    key: tuple,
    start: int,
    budget: int,
    window: int,
    source: Callable[[list[int], PageProgress], Iterator[RawPage]],
    progress: PageProgress,
    totals: list[int],
    decode: Decode | None = None,
) -> Iterator[Any]:
    """One chunk of `table`'s read: the read already under way when this chunk continues it
    exactly (same path and parameters, starting where the last chunk stopped), else a new
    one from `start`. A finished read is forgotten."""
    reader = reads.get(table)
    if reader is not None and (reader.key != key or reader.next_offset != start):
        reader.close()
        reader = None
    if reader is None:
        reader = reads[table] = ReadAhead(key, start, source, budget, window)
    try:
        yield from reader.chunk(progress, totals, decode)
    finally:
        if reader.finished:
            reads.pop(table, None)


def key_of(path: str, params: dict[str, Any]) -> tuple:
    return (path, tuple(sorted((k, str(v)) for k, v in params.items())))


def read_chunk(
    client: Any,  # client.py's InsightlyClient (not imported: client.py imports this)
    path: str,
    params: Params | None = None,
    *,
    table: str,
    totals: list[int] | None = None,
    start: int = 0,
    done: Collection[int] = (),
    max_pages: int | None = None,
    progress: PageProgress | None = None,
    decode: Decode | None = None,
) -> Iterator[Any]:
    """One pipeline run's pages of a read (arguments as `client.pages`). With a page budget
    of AHEAD_MIN_PAGES or more (and no gap to fill) the read goes on in the background
    between chunks, its pages turned by `decode` (ReadAhead.chunk); otherwise it is the
    plain read, cut at the budget, its pages lists of records."""
    params = params or {}
    totals = totals if totals is not None else []
    if max_pages is None or max_pages < AHEAD_MIN_PAGES or done:
        return client.pages(
            path, params, table=table, totals=totals, start=start, done=done,
            max_pages=max_pages, progress=progress,
        )  # fmt: skip

    # pages the read may hold fetched ahead of the pump: a quarter of the budget, so that
    # the chunk, the buffer and these stay within it (what a kill may lose)
    window = max(client.page_concurrency * 2, min(REORDER_PAGES, max_pages // 4))

    def source(seen: list[int], pumped: PageProgress) -> Iterator[RawPage]:
        return client.pages(
            path, params, table=table, totals=seen, start=start, progress=pumped, raw=True,
            window=window,
        )  # fmt: skip

    progress = progress if progress is not None else PageProgress()
    key = key_of(path, params)
    return pages_ahead(
        client.reads, table, key, start, max_pages, window, source, progress, totals, decode
    )
