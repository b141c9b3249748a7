"""Pages decoded and converted in the worker process (read/page_pipe.py, page_worker.py) give
the same Arrow tables and page facts as pages converted in process (read/page_tables.py):
the same columns, types, nullability and values, variant columns included, and the same
column types at the end of the read."""

from __future__ import annotations

import json

import dlt
import httpx
import orjson
import pytest

from insightly.api.paging import RawPage
from insightly.catalogue.entities import ENTITIES, Load
from insightly.errors import QuotaExhausted
from insightly.read import page_worker
from insightly.read.entity_rows import EntityRows
from insightly.read.page_pipe import WorkerPages
from insightly.read.pages import base_params
from insightly.read.rows import dumps, encode_values
from tests.conftest import API_KEY
from tests.helpers import differences

ENTITY = {e.table: e for e in ENTITIES}


def raw_pages(pages: list[list[dict]], broken: set[int] = frozenset()) -> list[RawPage]:
    """Pages as the API sends them (json for what orjson can't write: integers past 64 bits,
    as a body of the API would carry them); a page in `broken` arrives as broken JSON once,
    and its records come when it is asked for again."""
    out = []
    for i, page in enumerate(pages):
        body = b"[{broken" if i in broken else json.dumps(page).encode()
        out.append(RawPage(i * 500, "Contacts", body, lambda page=page: page))
    return out


def converted(entity, pages: list[list[dict]], worker: bool, merge=None, broken=frozenset()):
    """Every page's tables as the source takes them (read/source.py), and the read's final
    conversion state. With `worker`, a worker left ready by an earlier read decodes and
    converts every page from its bytes (page_pipe.py); else they are converted here."""
    schema = dlt.Schema("insightly")
    rows = EntityRows(entity, schema)
    if merge is not None:
        rows.merge = rows.convert.merge = merge
    if worker:
        ready = page_worker.take(True)
        assert ready is not None and ready.ready.wait(60)
        page_worker.give_back(ready)
    before = page_worker.pages_converted
    decode = WorkerPages(lambda: rows)
    tables, facts = [], []
    for offset, page in decode(iter(raw_pages(pages, broken))):
        assert offset == page.offset
        facts.append(page.facts)
        tables += list(rows.converted(page))
    rows.finish()
    return tables, rows.convert, page_worker.pages_converted - before, facts


def assert_same(entity, pages: list[list[dict]], monkeypatch, merge=None, broken=frozenset()):
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 0)
    expected, state, none, facts = converted(entity, pages, worker=False, merge=merge)
    assert none == 0
    monkeypatch.setattr(page_worker, "WORKER_AFTER_PAGES", 0)
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 1)  # the page_workers setting
    got, worker_state, in_worker, worker_facts = converted(
        entity, pages, worker=True, merge=merge, broken=broken
    )
    assert in_worker == len(pages)  # every page, the broken ones once asked for again
    assert worker_facts == facts
    assert [f.count for f in facts] == [len(p) for p in pages]
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (name, table), (_, want) in zip(got, expected, strict=True):
        assert table.schema.equals(want.schema, check_metadata=True), name
        assert table.equals(want), name
    assert worker_state.root.types == state.root.types
    for array, columns in state.child_columns.items():
        assert worker_state.child_columns[array].types == columns.types
    return expected


@pytest.mark.parametrize("table", ["contacts", "organisations", "opportunities"])
def test_demo_tenant_pages_convert_the_same_in_the_worker(emulator_factory, monkeypatch, table):
    emu = emulator_factory(profile="demo")
    entity = ENTITY[table]
    pages = []
    with httpx.Client(base_url=emu.base_url, auth=(API_KEY, ""), timeout=60) as client:
        for skip in range(0, 2000, 500):
            params = {**base_params(entity), "top": 500, "skip": skip}
            response = client.get(entity.list_path, params=params)
            response.raise_for_status()
            pages.append(orjson.loads(response.content))  # as the client parses them
    assert all(len(p) == 500 for p in pages)
    tables = assert_same(entity, pages, monkeypatch)
    names = {n for n, _ in tables}
    assert table in names and len(names) > 1  # child tables too


def _record(i: int, **fields) -> dict:
    return {"CONTACT_ID": i, "DATE_UPDATED_UTC": "2024-01-02 03:04:05", **fields}


ODD_PAGES = [
    [  # converted in process: the undeclared fields take their first value's type here
        _record(1, NEW_FIELD=5, Mixed_Case=1, CUSTOMFIELDS=[], TAGS=None),
        _record(2, NEW_FIELD=None, Mixed_Case=None, TAGS=[{"TAG_NAME": "a"}]),
    ],
    [  # in the worker: the types learned above hold there
        _record(3, NEW_FIELD=1.5, Mixed_Case="x", mixed_case=True, FIRST_NAME=7),
        _record(
            4,
            NEW_FIELD=2**70,  # beyond 64 bits: orjson can't write it, the page goes pickled
            DATE_UPDATED_UTC="yesterday",
            CUSTOMFIELDS=[
                {"FIELD_NAME": "A__c", "FIELD_VALUE": 2**70},
                {"FIELD_NAME": "B__c", "FIELD_VALUE": {"n": [1, None, "é"]}},
                {"FIELD_NAME": "C__c", "FIELD_VALUE": None},
                {"FIELD_NAME": "D__c", "FIELD_VALUE": "2024-01-02 03:04:05"},
                {"FIELD_NAME": "E__c", "FIELD_VALUE": -0.0, "Extra": True},
            ],
            TAGS=[],
            LINKS=[{"LINK_ID": "not a number", "OBJECT_NAME": "Contact"}],
        ),
    ],
    [  # odd again, later in the worker
        _record(5, EMAIL_OPTED_OUT="no", BACKGROUND={"a": 1}, DATES=["2024-01-01"]),
        _record(6, NEW_FIELD="text", CUSTOMFIELDS=[{"FIELD_NAME": "A__c", "FIELD_VALUE": 1e300}]),
    ],
    [
        _record(7, DATE_UPDATED_UTC=None, NEW_FIELD=True, TAGS=[{"TAG_NAME": None}]),
        _record(8, NEW_FIELD=-(2**64), CUSTOMFIELDS=[{"FIELD_NAME": "A__c", "FIELD_VALUE": 2**80}]),
    ],
]


@pytest.mark.parametrize("merge", [True, False])
def test_odd_pages_convert_the_same_in_the_worker(monkeypatch, merge):
    """Mixed types (variants), mixed-case keys, nulls, empty and missing lists, integers
    past 64 bits, odd stamps; on merge (tombstones) and replace."""
    assert ENTITY["contacts"].load is Load.INCREMENTAL
    tables = assert_same(ENTITY["contacts"], ODD_PAGES, monkeypatch, merge=merge)
    roots = [t for n, t in tables if n == "contacts"]
    assert "new_field__v_double" in roots[1].column_names  # a variant made in the worker
    assert roots[1]["new_field__v_text"].to_pylist() == [None, str(2**70)]


def test_custom_field_text_in_bulk_is_the_text_of_one_value_at_a_time():
    """encode_values writes a list's numbers and booleans with one orjson call (rows.py)."""
    odd = [None, "a", "1,2", True, False, 0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, 1e16, 1e-7]
    beyond = [2**64, float("nan"), float("inf"), [1, "a"], {"k": 1.5}]  # one at a time
    for values in (odd, odd[:2], odd[3:], odd + beyond[:1], odd + beyond[1:2], odd + beyond[3:]):
        one_at_a_time = [v if v is None or type(v) is str else dumps(v) for v in values]
        assert encode_values(values) == one_at_a_time
    assert encode_values([1e16, True, -0.0, 2**64]) == ["1e+16", "true", "-0.0", str(2**64)]


def test_a_page_that_does_not_decode_is_asked_for_again_and_converted_in_order(monkeypatch):
    """Broken JSON from the worker's view: the page is fetched again through the client,
    and the pages sent after it are converted after it, as if nothing happened."""
    tables = assert_same(ENTITY["contacts"], ODD_PAGES, monkeypatch, broken={1, 3})
    assert len([t for n, t in tables if n == "contacts"]) == len(ODD_PAGES)


def test_a_sync_with_a_page_worker_loads_every_record_exactly(emulator, warehouse, monkeypatch):
    """page_workers = 1: a worker left ready by an earlier read converts every page."""
    monkeypatch.setenv("SOURCES__INSIGHTLY__PAGE_WORKERS", "1")
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 1)
    monkeypatch.setattr(page_worker, "WORKER_AFTER_PAGES", 0)
    ready = page_worker.take(True)
    assert ready is not None and ready.ready.wait(60)
    page_worker.give_back(ready)
    before = page_worker.pages_converted
    warehouse.sync(entities=["contacts"])
    records = emulator.tenant.records("Contacts")
    assert page_worker.pages_converted - before == -(-len(records) // 500)  # every page
    assert differences(warehouse, "contacts", ("CONTACT_ID",), records) == []


def test_a_read_that_stops_with_pages_in_the_worker_stops_the_worker(monkeypatch):
    """The quota (or an error) ends a read while the worker still owes answers: the worker
    is stopped, not asked for a state it can't hand back in order."""
    monkeypatch.setattr(page_worker, "WORKER_AFTER_PAGES", 0)
    monkeypatch.setattr(page_worker, "MAX_WORKERS", 1)
    ready = page_worker.take(True)
    assert ready is not None and ready.ready.wait(60)
    page_worker.give_back(ready)
    rows = EntityRows(ENTITY["contacts"], dlt.Schema("insightly"))
    handed_over = rows.convert

    def pages():
        yield from raw_pages(ODD_PAGES)
        raise QuotaExhausted("the daily quota is spent")

    decode = WorkerPages(lambda: rows)
    taken = []
    with pytest.raises(QuotaExhausted):
        for _, page in decode(pages()):
            taken.append(page)
    assert len(taken) == len(ODD_PAGES) - 2  # two were still in the worker
    assert rows.worker is None and not ready.alive()
    rows.finish()  # nothing to take back: the state stays the one handed over
    assert rows.convert is handed_over
    again = page_worker.take(True)  # a later read gets a new worker
    assert again is not None and again is not ready
    page_worker.drop(again)
