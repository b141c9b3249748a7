"""A large read's pages converted in the page worker from the bytes the API sent: the sync's
process never decodes them (`decode` of api/ahead.py).

Why: on two cores the sync was bound by its one Python thread, and two thirds of that
thread's time per page of 500 contacts were the JSON parse (about 10 ms) and the Arrow
conversion (about 10 ms); the worker did the conversion only, after the sync had parsed the
page for its cursor and keys, so it cost a second parse and was slower. Here the worker
parses and converts, and sends back the page's facts (page_facts.py: count, keys, newest
stamp) with its tables; the sync's thread keeps the HTTP, dlt's extract and the load.

Pages go to the worker in order, AHEAD of them before the first answer is awaited, and come
back in the same order. Until the worker is ready (EntityRows.worker_holds) pages are
decoded and converted here, the same way. A body the worker can't decode (broken JSON, not
an array) is asked for again through the client (RawPage.records: its retries, or the API's
error); the worker skips the pages sent after it until it has that page's records, which are
then sent before those pages again, so the conversion sees every page in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from insightly.api.paging import RawPage
from insightly.read.entity_rows import EntityRows
from insightly.read.page_facts import ConvertedPage, convert_page, page_facts
from insightly.read.page_worker import PageWorker, tables_of

AHEAD = 2  # pages sent to the worker past the one whose answer is awaited
Sent = tuple[RawPage, list[dict] | None]  # a page, and its records when they were sent


class WorkerPages:
    """The `decode` of a large read: RawPages in, (offset, ConvertedPage) out, in order."""

    def __init__(self, rows: Callable[[], EntityRows]) -> None:
        self._rows = rows  # the run's EntityRows (read/source.py makes it)
        self._keys: list[str] = []  # the entity's key fields, as the API names them

    def __call__(self, raws: Iterator[RawPage]) -> Iterator[tuple[int, ConvertedPage]]:
        rows = self._rows()
        self._keys = rows.convert.key_names
        sent: deque[Sent] = deque()
        try:
            for raw in raws:
                if not rows.worker_holds():
                    yield raw.offset, self._here(rows, raw.offset, raw.records())
                    continue
                assert rows.worker is not None
                sent.append(_send(rows.worker, raw))
                while len(sent) > AHEAD:
                    page = self._answer(rows.worker, sent)
                    yield page.offset, page
            while sent:
                assert rows.worker is not None
                page = self._answer(rows.worker, sent)
                yield page.offset, page
        except BaseException:
            if sent:  # answers still owed (the read stopped: quota, error, closed): the
                rows.abandon()  # worker can't hand its state back in order; it is stopped
            raise

    def _here(self, rows: EntityRows, offset: int, records: list[dict]) -> ConvertedPage:
        facts, tables = convert_page(rows.convert, records)
        root, children = tables if tables is not None else (None, [])
        return ConvertedPage(offset, facts, root, children)

    def _answer(self, worker: PageWorker, sent: deque[Sent]) -> ConvertedPage:
        raw, records = sent.popleft()
        kind, value = worker.reply()
        if kind == "page":
            facts, tables = value
            root, children = tables_of(tables) if tables is not None else (None, [])
            return ConvertedPage(raw.offset, facts, root, children)
        if kind == "undecodable":
            records = self._again(worker, raw, sent)
            kind, value = worker.reply()
        if kind != "tables" or records is None:
            raise RuntimeError(f"page worker: unexpected answer {kind!r}")
        return ConvertedPage(raw.offset, page_facts(records, self._keys), *tables_of(value))

    def _again(self, worker: PageWorker, raw: RawPage, sent: deque[Sent]) -> list[dict]:
        """The page's records through the client; the worker gets them before the pages
        sent after it (which it skipped), sent again."""
        records = raw.records()  # asks again, or raises the API's error
        for _ in sent:
            kind, _value = worker.reply()
            if kind != "skipped":
                raise RuntimeError(f"page worker: unexpected answer {kind!r}")
        worker.resume()
        worker.send(records)
        later = [page for page, _ in sent]
        sent.clear()
        sent.extend(_send(worker, page) for page in later)
        return records


def _send(worker: PageWorker, raw: RawPage) -> Sent:
    """The page's bytes, or its records when something decoded it already (the first page
    of a read, the last one's size check)."""
    body = raw.body()
    if body is None:
        records = raw.records()
        worker.send(records)
        return raw, records
    worker.send_body(body)
    return raw, None
