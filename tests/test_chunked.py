"""A read larger than one pipeline run's page budget, loaded in chunks within ONE sync.

Its chunks continue each other exactly (no overlap) and are verified together the way a
read done in one run is (X-Total-Count stable on every page, the distinct records read
adding up to it, none updated after the read began). Verified, it needs no id check;
disturbed (records changed during a chunk or between two chunks), it is not trusted and
its ids are checked as for a read that spanned syncs. The read that really spans syncs
(the daily quota) is covered by test_backfill.py.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter

import dlt
import pytest

from insightly.read.pages import drifted
from insightly.read.walk import OVERLAP, ChunksSeen, Walk
from tests.conftest import Warehouse
from tests.helpers import differences

SEARCH = "/v3.1/Contacts/Search"
LIST = "/v3.1/Contacts"  # the id check's brief pages
CONTACTS = 3000
PAGES_PER_RUN = 2


def first_load_pages(emu) -> list:
    """The first load's /Search pages (no updated_after_utc) that succeeded."""
    return [
        r
        for r in emu.requests
        if r.path == SEARCH and "updated_after_utc" not in r.params and r.status == 200
    ]


def id_pages(emu) -> list:
    return [r for r in emu.requests if r.path == LIST and r.status == 200]


def chunked(emulator_factory, tmp_path, monkeypatch, **switches):
    emu = emulator_factory(seed=17, sizes={"Contacts": CONTACTS}, **switches)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", str(PAGES_PER_RUN))
    return emu, wh


def contact_state(wh: Warehouse) -> dict:
    pipeline = dlt.attach("insightly", pipelines_dir=wh.pipelines_dir)
    return pipeline.state["sources"]["insightly"]["resources"]["contacts"]


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
def test_a_chunked_first_load_in_one_sync_is_verified_without_an_id_check(
    emulator_factory, tmp_path, monkeypatch, order
):
    emu, wh = chunked(emulator_factory, tmp_path, monkeypatch, order=order)
    first = wh.sync(entities=["contacts"])

    pages = first_load_pages(emu)
    minimum = math.ceil(CONTACTS / 500)
    print(
        f"order={order}: {len(pages)} /Contacts/Search pages (minimum {minimum}), "
        f"{len(id_pages(emu))} id pages, {len(emu.requests)} requests in all"
    )
    # each chunk continues exactly where the one before stopped: no overlap, no page twice
    assert sorted(int(r.params["skip"]) for r in pages) == list(range(0, CONTACTS, 500))
    assert len(pages) == minimum
    assert first.stats.chunks == math.ceil(minimum / PAGES_PER_RUN) - 1
    assert len(first.load_info) == math.ceil(minimum / PAGES_PER_RUN)
    assert id_pages(emu) == []  # verified like a read done in one run: no id check
    assert first.stats.walks_done == [] and first.stats.drift["contacts"] == 0
    assert first.stats.requests["contacts"] == minimum
    state = contact_state(wh)
    assert "walk" not in state and "id_check_after" not in state
    records = emu.tenant.records("Contacts")
    newest = max(r["DATE_UPDATED_UTC"] for r in records)
    assert state["last_date_updated_utc"] == newest  # the cursor moved to the newest row
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []

    emu.clear_requests()
    again = wh.sync(entities=["contacts"])  # nothing changed: one page, one count, no id check
    assert again.stats.chunks == 0 and id_pages(emu) == []
    assert [r.path for r in emu.requests] == ["/v3.1/CustomObjects", SEARCH, SEARCH]


# Changes made while the chunked read runs: after every page (during a chunk), or only
# after every second page, i.e. between two chunks of PAGES_PER_RUN pages while the
# previous chunk is being loaded.
DRIFTS = {
    "deletes during chunks": {"every_n_pages": 1, "deletes": 1},
    "updates during chunks": {"every_n_pages": 1, "updates": 2},
    "creates and deletes during chunks": {"every_n_pages": 1, "creates": 1, "deletes": 1},
    "deletes between chunks": {"every_n_pages": PAGES_PER_RUN, "deletes": 1},
    "updates between chunks": {"every_n_pages": PAGES_PER_RUN, "updates": 1},
}


ORDERS = ["id", "updated", "unordered"]
# `make test` runs each drift once, the result orders taking turns; `make chaos` all of them.
DRIFT_CASES = [
    (drift, order)
    for i, drift in enumerate(DRIFTS)
    for order in (ORDERS if os.environ.get("CHAOS_CHUNKED_ORDERS") == "all" else [ORDERS[i % 3]])
]


@pytest.mark.parametrize(("drift", "order"), DRIFT_CASES)
def test_a_chunked_read_that_moved_is_not_trusted(
    emulator_factory, tmp_path, monkeypatch, drift, order
):
    switch = {"entity": "Contacts", **DRIFTS[drift]}
    emu, wh = chunked(emulator_factory, tmp_path, monkeypatch, order=order, drift=switch)
    first = wh.sync(entities=["contacts"])
    assert emu.drift_log  # the ground moved
    assert first.stats.drift["contacts"] >= 1  # and the read noticed
    # not trusted: the cursor is where the read began and the ids were checked at once
    pages = first_load_pages(emu)
    offsets = Counter(int(r.params["skip"]) for r in pages)
    assert [o for o, k in offsets.items() if k > 1] == []
    assert len(pages) <= math.ceil(CONTACTS / 500) + 1
    assert len(id_pages(emu)) >= math.ceil(CONTACTS / 500)
    state = contact_state(wh)
    assert "walk" not in state and "id_check_after" in state

    emu.configure(drift={})
    time.sleep(2)  # deletes are concluded for records not updated within a second
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    wh.sync(entities=["contacts"])
    records = emu.tenant.records("Contacts")
    keys = [r[0] for r in wh.query("select contact_id from contacts where _deleted_at is null")]
    assert sorted(keys) == sorted(r["CONTACT_ID"] for r in records)
    deleted = {str(e.id) for e in emu.drift_log if e.op == "delete"}
    assert [
        problem
        for problem in differences(wh, "contacts", ("CONTACT_ID",), records)
        if not unseen_link_change(problem, deleted)
    ] == []


def unseen_link_change(problem: str, deleted: set[str]) -> bool:
    """A delete silently drops the record's links from the records at their other end,
    which no read can see (test_crash.py): the warehouse keeps such a link."""
    return " LINKS: " in problem and any(
        re.search(rf"'link_object_id': {d}\b", problem) for d in deleted
    )


def test_the_next_chunk_of_a_sync_continues_exactly_and_a_later_sync_overlaps():
    walk = Walk.begin(None, sync="one")
    walk.advance(0, 500)
    walk.advance(500, 500)
    assert walk.resume("one") == 1000  # the next chunk of the same sync
    assert walk.runs == 2 and not walk.resumed
    walk.advance(1000, 500)
    assert walk.resume("two") == 1500 - OVERLAP  # a later sync: it spans syncs
    assert walk.resumed and walk.sync == "two"
    assert walk.resume("two") == 1500  # and its own next chunk continues exactly
    assert walk.resumed  # still spanned: checked by ids when it completes
    # a walk saved before walks knew their sync, or an id read (no sync): spans syncs
    old = Walk.from_state({"after": None, "started": "2024-01-01 00:00:00", "skip": 500})
    assert old.resume("three") == 500 - OVERLAP and old.resumed
    assert Walk.from_state(walk.as_state()) == walk


def test_a_record_read_by_two_chunks_is_drift_even_when_the_counts_add_up():
    seen = ChunksSeen()
    seen.add([4, 4], {(1,), (2,)})
    seen.add([4, 4], {(2,), (3,)})  # 2 read twice (it moved forward): another was skipped
    assert not drifted(seen.totals, {(1,), (2,), (3,), (4,)})
    assert drifted(seen.totals, seen.keys)
    assert seen.keys == {1, 2, 3}  # single-column keys are kept bare
    seen.add([5], {(4,)})
    assert seen.totals == [4, 5] and drifted(seen.totals, seen.keys)
    pairs = ChunksSeen()
    pairs.add([2], {("a", 1), ("a", 2)})
    assert pairs.keys == {("a", 1), ("a", 2)} and not drifted(pairs.totals, pairs.keys)
