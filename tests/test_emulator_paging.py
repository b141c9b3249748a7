"""Paging in the emulator: top and skip, X-Total-Count, every result order read through
once; and drift, records changing between the pages of one read.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import httpx
import pytest

from insightly_emulator import Emulator, EmulatorConfig

from . import emulator_helpers
from .emulator_helpers import KEY, TS_FORMAT, page_all

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


# ---------------------------------------------------------------------------- paging
def test_top_default_max_and_clamp_or_error(emu: Emulator, client) -> None:
    assert len(client.get("Contacts").json()) == 100
    assert len(client.get("Contacts/Search").json()) == 100
    assert len(client.get("Contacts", params={"top": 500}).json()) == 500
    assert len(client.get("Contacts", params={"top": 501}).json()) == 500
    emu.configure(top_over_max="error")
    r = client.get("Contacts", params={"top": 501})
    assert r.status_code == 400 and "Message" in r.json()
    assert client.get("Contacts", params={"top": 500}).status_code == 200
    assert client.get("Contacts", params={"top": "x"}).status_code == 400
    assert client.get("Contacts", params={"skip": -1}).status_code == 400


def test_skip_count_total_and_empty_page_past_the_end(emu: Emulator, client) -> None:
    ids = [r["LEAD_ID"] for r in emu.tenant.records("Leads")]
    r = client.get("Leads", params={"skip": 120, "top": 30})
    assert [x["LEAD_ID"] for x in r.json()] == ids[120:150]
    assert "x-total-count" not in r.headers
    r = client.get("Leads", params={"skip": 0, "top": 500, "count_total": "true"})
    assert r.headers["x-total-count"] == "500" and len(r.json()) == 500
    r = client.get("Leads", params={"skip": 500, "top": 500, "count_total": "true"})
    assert r.json() == [] and r.headers["x-total-count"] == "500"
    assert client.get("Leads", params={"skip": 10_000}).json() == []
    r = client.get("LeadSources", params={"top": 3, "skip": 2, "count_total": "true"})
    assert len(r.json()) == 3 and r.headers["x-total-count"] == "8"
    r = client.get("Countries", params={"top": 2, "skip": 5})  # no parameters: all, always
    assert len(r.json()) == len(emu.tenant.records("Countries")) > 2


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
def test_every_order_pages_through_the_whole_set_once(emu: Emulator, client, order) -> None:
    emu.configure(order=order)
    expected = {r["CONTACT_ID"] for r in emu.tenant.records("Contacts")}
    for path in ("Contacts", "Contacts/Search"):
        got = [r["CONTACT_ID"] for r in page_all(client, path, top=137)]
        assert len(got) == len(set(got)) == len(expected)
        assert set(got) == expected
    again = [r["CONTACT_ID"] for r in page_all(client, "Contacts", top=500)]
    assert again == got  # stable across requests
    if order == "id":
        assert got == sorted(got)
    if order == "updated":
        stamps = [r["DATE_UPDATED_UTC"] for r in page_all(client, "Contacts", top=500)]
        assert stamps == sorted(stamps) and got != sorted(got)
    if order == "unordered":
        assert got != sorted(got)


# ---------------------------------------------------------------------------- drift
DRIFT = {"entity": "Contacts", "every_n_pages": 1, "creates": 2, "updates": 3, "deletes": 2}


def naive_pages(client: httpx.Client, path: str, top: int, **params) -> list[int]:
    """A serial pager that trusts skip/top: ids in the order they were served."""
    ids: list[int] = []
    skip = 0
    while True:
        page = client.get(path, params={**params, "top": top, "skip": skip}).json()
        ids += [r["CONTACT_ID"] for r in page]
        if len(page) < top:
            return ids
        skip += top


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
@pytest.mark.parametrize("path", ["Contacts", "Contacts/Search"])
def test_drift_makes_a_naive_pager_miss_or_repeat_records(order: str, path: str) -> None:
    config = EmulatorConfig(seed=11, profile="tiny", api_key=KEY, order=order,
                            sizes={"Contacts": 400}, drift=DRIFT)  # fmt: skip
    clock_before = int(time.time())
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:
        start = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]
        params = {"updated_after_utc": "2000-01-01"} if path.endswith("Search") else {}
        got = naive_pages(c, path, 50, **params)
        log = emu.drift_log
        assert httpx.get(emu.url + "/_emulator/drift").json() == [e._asdict() for e in log]
        final = {r["CONTACT_ID"]: r for r in emu.tenant.records("Contacts")}

    pages = len(got) // 50 + 1
    assert Counter(e.op for e in log) == {"create": 2 * pages, "update": 3 * pages,
                                          "delete": 2 * pages}  # fmt: skip
    created = {e.id for e in log if e.op == "create"}
    deleted = {e.id for e in log if e.op == "delete"}
    assert set(final) == (set(start) | created) - deleted  # the log explains the end state
    assert all(e.entity == "Contacts" and e.time >= clock_before for e in log)
    for e in log:
        if e.op == "update" and e.id in final and e.id not in deleted:
            last = max(x.time for x in log if x.id == e.id and x.op == "update")
            stamp = datetime.fromtimestamp(int(last), timezone.utc).strftime(TS_FORMAT)
            assert final[e.id]["DATE_UPDATED_UTC"] == stamp  # bumped to the clock

    always_there = set(start) - deleted  # a correct read returns each of these
    missed = always_there - set(got)
    repeated = [i for i, n in Counter(got).items() if n > 1]
    assert missed or repeated, order
    if order == "updated":
        assert repeated  # an update moves a record behind the cursor: it comes again


def test_drift_every_n_pages_counts_only_the_drift_entity(emu: Emulator, client) -> None:
    drift = {"entity": "leads", "every_n_pages": 2, "updates": 1}
    config = EmulatorConfig(seed=5, profile="tiny", api_key=KEY, sizes={"Leads": 60}, drift=drift)
    with (
        Emulator(config) as drifting,
        httpx.Client(base_url=drifting.base_url, auth=(KEY, "")) as c,
    ):
        for skip in range(0, 50, 10):
            c.get("Leads", params={"top": 10, "skip": skip})
            c.get("Contacts")  # other entities do not count
        drifting.configure(fail_next={"Leads": ["truncated"]})
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("Leads")  # a faulted page is not a served page
        assert [(e.op, e.entity) for e in drifting.drift_log] == [("update", "Leads")] * 2
        drifting.clear_drift_log()
        assert drifting.drift_log == []
        drifting.configure(drift={})
        c.get("Leads")
        assert drifting.drift_log == []
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Countries", "updates": 1})
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Contacts", "every_n_pages": 0})
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Contacts", "sideways": 1})
