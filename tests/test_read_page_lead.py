"""The page worker's lead (read/page_pipe.py): at a chunk's end the next chunk's first pages
go to the worker, which converts them while the chunk loads. The next run takes them only
when they begin its chunk and its column types are the worker's (PageTables.converts_like);
otherwise they are dropped and converted again. Either way every page's tables are the ones
in-process conversion gives, in order."""

from __future__ import annotations

import copy

import dlt
import pytest

from insightly.catalogue.entities import ENTITIES
from insightly.errors import QuotaExhausted
from insightly.read import page_worker
from insightly.read.entity_rows import EntityRows
from insightly.read.page_pipe import LEAD, WorkerPages
from tests.conftest import Warehouse
from tests.helpers import differences
from tests.test_read_page_worker import ODD_PAGES, _record, raw_pages

CONTACTS = next(e for e in ENTITIES if e.table == "contacts")
CHUNK_1 = ODD_PAGES[:2]
LAST = _record(9, NEW_FIELD=3, CUSTOMFIELDS=[{"FIELD_NAME": "F__c", "FIELD_VALUE": False}])
CHUNK_2 = [*ODD_PAGES[2:], [LAST]]


class Chunk:
    """A chunk's pages as api/ahead.py's ChunkPages gives them, `after` fetched past it."""

    def __init__(self, pages, after=()) -> None:
        self._pages = iter(pages)
        self._after = list(after)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._pages)

    def buffered(self):
        return self._after[:LEAD]


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setattr(page_worker, "WORKER_AFTER_PAGES", 0)
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 1)
    ready = page_worker.take(True)
    assert ready is not None and ready.ready.wait(60)
    page_worker.give_back(ready)
    yield ready
    page_worker.drop(ready)


def run(rows: EntityRows, chunk: Chunk) -> list:
    """One run's pages through the worker, as read/source.py takes them."""
    tables = []
    for _, page in WorkerPages(lambda: rows)(chunk):
        tables += list(rows.converted(page))
    rows.finish()
    return tables


def in_process(state, pages) -> list:
    """The same pages converted here, from a copy of `state` (a PageTables)."""
    convert = copy.deepcopy(state)
    tables = []
    for page in pages:
        root, children = convert.page(page)
        tables += [("contacts", root), *children]
    return tables


def assert_equal(got, want) -> None:
    assert [n for n, _ in got] == [n for n, _ in want]
    for (name, table), (_, expected) in zip(got, want, strict=True):
        assert table.schema.equals(expected.schema, check_metadata=True), name
        assert table.equals(expected), name


def two_chunks(worker, broken=frozenset(), same_types=True):
    """Chunk 1 with chunk 2 fetched behind it, then chunk 2 in a new run: one whose types
    are the worker's (as the schema has them after chunk 1's load), or a fresh one."""
    raws = raw_pages(CHUNK_1 + CHUNK_2, broken=broken)
    first = EntityRows(CONTACTS, dlt.Schema("insightly"))
    run(first, Chunk(raws[:2], after=raws[2:]))
    assert [r for r, _ in worker.lead] == raws[2:]  # sent while chunk 1 loads
    second = EntityRows(CONTACTS, dlt.Schema("insightly"))
    if same_types:
        second.convert = copy.deepcopy(first.convert)
    start = copy.deepcopy(second.convert)
    taken = page_worker.lead_pages_taken
    got = run(second, Chunk(raws[2:]))
    return got, in_process(start, CHUNK_2), page_worker.lead_pages_taken - taken


def test_a_lead_with_the_run_types_is_taken_and_converts_as_the_run(worker):
    got, want, taken = two_chunks(worker)
    assert taken == len(CHUNK_2)
    assert_equal(got, want)
    assert not worker.lead


def test_a_lead_from_other_types_is_dropped_and_converted_again(worker):
    got, want, taken = two_chunks(worker, same_types=False)
    assert taken == 0
    assert_equal(got, want)  # the fresh run's types, not the worker's


def test_a_page_of_the_lead_that_does_not_decode_keeps_the_order(worker):
    got, want, taken = two_chunks(worker, broken={3})  # chunk 2's second page
    assert taken == len(CHUNK_2)
    assert_equal(got, want)


def test_a_lead_that_begins_elsewhere_is_dropped(worker):
    raws = raw_pages(CHUNK_1 + CHUNK_2)
    first = EntityRows(CONTACTS, dlt.Schema("insightly"))
    run(first, Chunk(raws[:2], after=raws[2:]))
    second = EntityRows(CONTACTS, dlt.Schema("insightly"))
    second.convert = copy.deepcopy(first.convert)
    start = copy.deepcopy(second.convert)
    other = raw_pages(CHUNK_2)  # the same records, other pages: another read
    assert_equal(run(second, Chunk(other)), in_process(start, CHUNK_2))
    assert not worker.lead and worker.alive()


def test_a_read_that_stops_in_its_lead_stops_the_worker(worker):
    """The quota (or an error) ends the next chunk after its first page: the worker still
    owes the lead's answers, so it is stopped at once, not asked for its state."""
    raws = raw_pages(CHUNK_1 + CHUNK_2)
    first = EntityRows(CONTACTS, dlt.Schema("insightly"))
    run(first, Chunk(raws[:2], after=raws[2:]))
    assert len(worker.lead) == len(CHUNK_2)

    def stopped():
        yield raws[2]
        raise QuotaExhausted("the daily quota is spent")

    second = EntityRows(CONTACTS, dlt.Schema("insightly"))
    second.convert = copy.deepcopy(first.convert)
    with pytest.raises(QuotaExhausted):
        run(second, Chunk(stopped()))
    assert second.worker is None
    assert not worker.alive()
    again = page_worker.take(True)  # a later read gets a new worker
    assert again is not None and again is not worker
    page_worker.drop(again)


def test_a_lead_no_read_took_is_dropped_by_the_next(worker):
    """A read that stops before its first page leaves the worker idle with its lead; the
    next read that takes it (another entity here) drops the lead and converts its own."""
    raws = raw_pages(CHUNK_1 + CHUNK_2)
    first = EntityRows(CONTACTS, dlt.Schema("insightly"))
    run(first, Chunk(raws[:2], after=raws[2:]))

    def stopped():
        raise QuotaExhausted("the daily quota is spent")
        yield

    with pytest.raises(QuotaExhausted):
        run(EntityRows(CONTACTS, dlt.Schema("insightly")), Chunk(stopped()))
    assert worker.lead and worker.alive()
    other = next(e for e in ENTITIES if e.table == "leads")
    rows = EntityRows(other, dlt.Schema("insightly"))
    start = copy.deepcopy(rows.convert)
    pages = [[{"LEAD_ID": 1, "DATE_UPDATED_UTC": "2024-01-02 03:04:05", "TITLE": "x"}]]
    got = run(rows, Chunk(raw_pages(pages)))
    assert not worker.lead
    want = copy.deepcopy(start).page(pages[0])
    assert_equal(got, [("leads", want[0]), *want[1]])


def test_a_large_sync_takes_leads_and_loads_every_record_exactly(
    emulator_factory, tmp_path, monkeypatch
):
    """The API outpaces the pipeline (local, no latency): chunks end with pages fetched
    past them, which the worker converts as the next run's."""
    emu = emulator_factory(seed=37, sizes={"Contacts": 20_000})
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", "40")
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 1)
    monkeypatch.setattr(page_worker, "WORKER_AFTER_PAGES", 0)
    ready = page_worker.take(True)
    assert ready is not None and ready.ready.wait(60)
    page_worker.give_back(ready)
    converted, taken = page_worker.pages_converted, page_worker.lead_pages_taken
    result = wh.sync(entities=["contacts"])
    records = emu.tenant.records("Contacts")
    pages = -(-len(records) // 500)
    lead = page_worker.lead_pages_taken - taken
    print(f"{result.stats.chunks + 1} runs; {lead} lead pages taken")
    assert result.stats.chunks >= 1
    assert page_worker.pages_converted - converted == pages  # each page once
    assert lead > 0
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []
