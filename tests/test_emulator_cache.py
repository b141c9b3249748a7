"""The emulator's render cache and result orders: orders and time filters stay right
through mutations, cached pages follow mutations and switches, render workers serve the
same bytes, the gzip level.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from insightly_emulator import Emulator, EmulatorConfig

from . import emulator_helpers
from .emulator_helpers import KEY

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu


# ---------------------------------------------------------------------------- cache and order
def _paged(c: httpx.Client, path: str, top: int, **params) -> tuple[list[int], int]:
    ids, skip, total = [], 0, -1
    while True:
        r = c.get(path, params={**params, "top": top, "skip": skip, "count_total": "true"})
        total = int(r.headers["x-total-count"])
        ids += [x["CONTACT_ID"] for x in r.json()]
        if len(r.json()) < top:
            return ids, total
        skip += top


def test_orders_and_time_filters_stay_right_through_mutations() -> None:
    config = EmulatorConfig(seed=21, profile="tiny", api_key=KEY, sizes={"Contacts": 300})
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:
        cuts = ["2024-06-01 00:00:00", "2026-01-01 00:00:00", "2026-06-29 00:00:00"]

        def check() -> None:
            records = emu.tenant.records("Contacts")
            for order in ("id", "updated", "unordered"):
                emu.configure(order=order)
                everything, total = _paged(c, "Contacts", 37)
                assert total == len(records) == len(everything)
                for cut in cuts:
                    got, total = _paged(c, "Contacts/Search", 37, updated_after_utc=cut)
                    wanted = [r for r in records if r["DATE_UPDATED_UTC"] > cut]
                    assert total == len(got) == len(wanted), (order, cut)
                    if order == "id":
                        assert got == [r["CONTACT_ID"] for r in wanted]
                    elif order == "updated":
                        by_time = sorted(wanted, key=lambda r: r["DATE_UPDATED_UTC"])  # stable
                        assert got == [r["CONTACT_ID"] for r in by_time]
                    else:  # a filtered read keeps the unfiltered read's order
                        keep = {r["CONTACT_ID"] for r in wanted}
                        assert got == [i for i in everything if i in keep]
            emu.configure(order="id")

        check()  # builds the sorted structures; the mutations below must maintain them
        ids = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]
        at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for n, record_id in enumerate(ids[::7]):
            emu.tenant.update("Contacts", record_id, at=at + timedelta(seconds=n % 3))
        for record_id in ids[3::11]:
            emu.tenant.delete("Contacts", record_id)
        emu.tenant.create("Contacts", DATE_UPDATED_UTC="2020-01-01 00:00:00")
        emu.tenant.create("Contacts")
        emu.tenant.update("Contacts", ids[1], at=datetime(2019, 5, 5, tzinfo=timezone.utc))
        check()


def test_cached_pages_follow_mutations_and_modes() -> None:
    config = EmulatorConfig(seed=4, profile="test", api_key=KEY)
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:

        def served(**params) -> list[dict]:
            return c.get("Contacts", params={"top": 500, **params}).json()

        first = served()
        assert served() == first == emu.tenant.records("Contacts")[:500]  # now from cache
        brief = served(brief="true")
        assert all("LINKS" not in r for r in brief)
        linked = next(r for r in first[5:] if r["ORGANISATION_ID"] and r["LINKS"])  # not edited
        org = linked["ORGANISATION_ID"]
        emu.tenant.update("Contacts", first[0]["CONTACT_ID"], {"TITLE": "Cache Buster"})
        emu.tenant.delete("Organisations", org)  # its contacts lose the link
        emu.tenant.update("Contacts", first[1]["CONTACT_ID"], {"CUSTOMFIELDS": {"Hobby__c": None}})
        expected = emu.tenant.records("Contacts")[:500]
        assert served() == expected and expected[0]["TITLE"] == "Cache Buster"
        again = next(r for r in served() if r["CONTACT_ID"] == linked["CONTACT_ID"])
        assert all(link["LINK_OBJECT_ID"] != org for link in again["LINKS"])
        assert c.get(f"Contacts/{linked['CONTACT_ID']}").json() == again
        emu.configure(unset_custom_fields="omit")
        omitted = served()
        assert omitted == emu.tenant.records("Contacts")[:500] != expected
        assert all(f["FIELD_VALUE"] is not None for r in omitted for f in r["CUSTOMFIELDS"])
        emu.configure(brief_arrays="empty", cache_mb=0, readahead_pages=0)
        assert all(r["LINKS"] == [] for r in served(brief="true"))
        assert served(brief="false") == omitted


SAME_SECOND = datetime(2026, 7, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_render_workers_serve_the_same_bytes() -> None:
    config = {"seed": 9, "profile": "test", "api_key": KEY}
    with (
        Emulator(EmulatorConfig(**config)) as alone,
        Emulator(EmulatorConfig(**config, render_workers=1, readahead_pages=0)) as helped,
    ):
        for emu in (alone, helped):  # the same changes on both: workers get only untouched
            ids = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]  # records, and
            orgs = [r["ORGANISATION_ID"] for r in emu.tenant.records("Organisations")]
            emu.tenant.delete("Organisations", orgs[2])  # LINKS must drop deleted ends
            emu.tenant.delete("Contacts", ids[700])
            # one fixed time for both: the two updates may fall in different seconds
            emu.tenant.update("Contacts", ids[3], {"TITLE": "Overlaid"}, at=SAME_SECOND)
        paths = ["Contacts?top=500", "Contacts?top=500&skip=500&brief=true",
                 "Organisations?top=500", "Contacts/Search?top=500&skip=600"]  # fmt: skip
        for unset in ("null", "omit"):
            for emu in (alone, helped):
                emu.configure(unset_custom_fields=unset)
            for path in paths:
                got = [
                    httpx.get(emu.base_url + path, auth=(KEY, ""),
                              headers={"Accept-Encoding": "identity"}).content
                    for emu in (alone, helped)
                ]  # fmt: skip
                assert got[0] == got[1], (path, unset)
        health = httpx.get(helped.url + "/_emulator/health").json()["render_workers"]
        assert health["processes"] == 1 and health["records"] > 0
        helped.configure(render_workers=0)
        assert (
            httpx.get(helped.url + "/_emulator/health").json()["render_workers"]["processes"] == 0
        )


@pytest.mark.parametrize("level", [0, 9])
def test_gzip_level_switch(emu: Emulator, level: int) -> None:
    emu.configure(gzip_level=level)
    url, headers = emu.base_url + "Contacts?top=100", {"Accept-Encoding": "gzip"}
    r = httpx.get(url, auth=(KEY, ""), headers=headers)
    assert r.headers.get("content-encoding") == ("gzip" if level else None)
    assert r.json() == emu.tenant.records("Contacts")[:100]
    with pytest.raises(ValueError):
        emu.configure(gzip_level=10)
