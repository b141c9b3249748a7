"""Delete counting: a delete made between two syncs is found by the next one, within the
id check's default cadence, for one extra request when nothing was deleted."""

from __future__ import annotations

import math
from collections import Counter

from insightly.deletes.count import UNSPLIT_MAX, count_cost

TABLES = ["contacts", "organisations"]


def _marked(warehouse, table: str, pk: str) -> set[int]:
    rows = warehouse.query(f"select {pk} from {table} where _deleted_at is not null")
    return {r[0] for r in rows}


def _brief(emulator) -> list:
    return [
        r
        for r in emulator.requests
        if r.params.get("brief") == "true" and r.params.get("top") == "500"
    ]


def _org_linked_to_contacts(emulator) -> int:
    for org in emulator.tenant.records("Organisations"):
        if any(link["LINK_OBJECT_NAME"] == "Contact" for link in org["LINKS"] or []):
            return org["ORGANISATION_ID"]
    raise AssertionError("no organisation linked to a contact")


def test_a_delete_between_syncs_is_found_by_the_next_sync(emulator, warehouse, monkeypatch):
    warehouse.sync(entities=TABLES)
    contacts = [r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")]
    n, d = len(contacts), 5
    gone = contacts[7 :: n // d][:d]  # spread over the table
    org = _org_linked_to_contacts(emulator)
    for contact_id in gone:
        emulator.tenant.delete("Contacts", contact_id)
    emulator.tenant.delete("Organisations", org)
    emulator.clear_requests()

    second = warehouse.sync(entities=TABLES)  # the id check is not due (24 h)
    assert not _brief(emulator)
    assert second.stats.deleted == {"contacts": d, "organisations": 1}
    assert _marked(warehouse, "contacts", "contact_id") == set(gone)
    assert _marked(warehouse, "organisations", "organisation_id") == {org}
    # Insightly dropped the links to the deleted organisation without touching the contacts'
    # DATE_UPDATED_UTC: they leave the copy too
    links = warehouse.query(
        "select count(*) from contacts__links where link_object_name = 'Organisation' "
        "and link_object_id = ?",
        org,
    )
    assert links == [(0,)]
    extra = second.stats.requests["contacts"] - 1  # beyond the incremental read
    assert extra <= d * math.ceil(math.log2(n / d)) + 2 * d + 2 == count_cost(n, d)

    # an unchanged sync costs the read and one count (test_sync.py), and with counting off
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_COUNT", "false")
    off = warehouse.sync(entities=TABLES)
    assert {t: off.stats.requests[t] for t in TABLES} == dict.fromkeys(TABLES, 1)


def test_records_updated_during_the_read_are_not_taken_for_deletes(emulator, warehouse):
    warehouse.sync(entities=["contacts"])
    # right after the next read's page: 3 records updated, 1 deleted (the read missed both)
    emulator.configure(drift={"entity": "Contacts", "updates": 3, "deletes": 1, "steps": 1})
    before = {r["CONTACT_ID"]: r["DATE_UPDATED_UTC"] for r in emulator.tenant.records("Contacts")}
    result = warehouse.sync(entities=["contacts"])
    events = emulator.drift_log
    deleted = {e.id for e in events if e.op == "delete"}
    updated = {e.id for e in events if e.op == "update"} - deleted
    assert len(deleted) == 1 and len(updated) == 3
    assert _marked(warehouse, "contacts", "contact_id") == deleted
    assert result.stats.deleted == {"contacts": 1}
    stamps = dict(
        warehouse.query(
            "select contact_id, strftime(date_updated_utc at time zone 'UTC', "
            "'%Y-%m-%d %H:%M:%S') from contacts where contact_id in "
            f"({', '.join(map(str, updated))})"
        )
    )
    # their old windows showed them as lost; their GETs found them, and they were loaded
    for contact_id in updated:
        assert stamps[contact_id] == emulator.tenant.get("Contacts", contact_id)["DATE_UPDATED_UTC"]
        assert stamps[contact_id] != before[contact_id]


def test_a_window_of_one_second_falls_back_to_the_id_check(emulator, warehouse):
    warehouse.sync(entities=["contacts"])
    records = emulator.tenant.records("Contacts")
    crowd = Counter(r["DATE_UPDATED_UTC"] for r in records)
    second, size = crowd.most_common(1)[0]
    assert size > UNSPLIT_MAX  # a bulk update: many records share one second
    victim = next(r["CONTACT_ID"] for r in records if r["DATE_UPDATED_UTC"] == second)
    emulator.tenant.delete("Contacts", victim)
    emulator.clear_requests()
    result = warehouse.sync(entities=["contacts"])
    assert _brief(emulator)  # the id check ran, out of its cadence
    assert result.stats.deleted == {"contacts": 1}
    assert _marked(warehouse, "contacts", "contact_id") == {victim}


def test_emulator_switch_for_the_links_of_a_deleted_record(emulator_factory):
    for mode, touched in (("dropped", False), ("touched", True)):
        emu = emulator_factory(profile="tiny", deleted_links=mode)
        org = _org_linked_to_contacts(emu)
        linked = [
            r
            for r in emu.tenant.records("Contacts")
            if any(link["LINK_OBJECT_ID"] == org for link in r["LINKS"] or [])
        ]
        emu.tenant.delete("Organisations", org)
        for before in linked:
            after = emu.tenant.get("Contacts", before["CONTACT_ID"])
            assert not any(link["LINK_OBJECT_ID"] == org for link in after["LINKS"] or [])
            changed = after["DATE_UPDATED_UTC"] != before["DATE_UPDATED_UTC"]
            assert changed is touched, mode
