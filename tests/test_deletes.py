"""Deleted records are found by absence, marked (or removed), and left out of staging."""

from __future__ import annotations

import dlt
import duckdb

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection
from insightly.api.pacing import Pacer
from insightly.api.paging import page_count
from insightly.deletes.id_read import IdFiles, IdRead, read_ids
from insightly.deletes.verdicts import VERIFY_MIN, confirm_all, sample
from insightly.models import build_models
from tests.conftest import API_KEY
from tests.helpers import entity


def _delete_some(emulator) -> dict[str, list[int]]:
    gone = {
        "contacts": [r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")[10:13]],
        "organisations": [
            r["ORGANISATION_ID"] for r in emulator.tenant.records("Organisations")[:2]
        ],
    }
    for record_id in gone["contacts"]:
        emulator.tenant.delete("Contacts", record_id)
    for record_id in gone["organisations"]:
        emulator.tenant.delete("Organisations", record_id)
    return gone


def test_deleted_records_are_marked_and_left_out_of_staging(emulator, warehouse, monkeypatch):
    tables = ["contacts", "organisations", "leads"]
    first = warehouse.sync(entities=tables)
    assert first.stats.deleted == {}  # nothing to compare with on a first load
    gone = _delete_some(emulator)
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    emulator.clear_requests()
    result = warehouse.sync(entities=tables)
    assert result.stats.deleted == {"contacts": 3, "organisations": 2, "leads": 0}
    brief = [r for r in emulator.requests if r.params.get("brief") == "true"]
    expected = sum(
        page_count(len(emulator.tenant.records(p))) for p in ("Contacts", "Organisations", "Leads")
    )
    assert len(brief) == expected  # one brief page per 500 ids, nothing more
    marked = warehouse.query("select contact_id from contacts where _deleted_at is not null")
    assert sorted(r[0] for r in marked) == sorted(gone["contacts"])
    total = warehouse.query("select count(*) from contacts")[0][0]
    assert total == len(emulator.tenant.records("Contacts")) + 3  # kept, only marked
    ids = ", ".join(str(i) for i in gone["contacts"])
    kept = (
        f"select count(distinct contact_id) from contacts__customfields where contact_id in ({ids})"
    )
    assert warehouse.query(kept) == [(3,)]  # a soft delete keeps the child rows
    with duckdb.connect(str(warehouse.path)) as con:
        build_models(con, "insightly", "duckdb")
        staged = {
            r[0] for r in con.execute("select contact_id from insightly_stg.contacts").fetchall()
        }
    assert staged == {r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")}

    again = warehouse.sync(entities=tables)  # already marked: nothing new
    assert again.stats.deleted == {"contacts": 0, "organisations": 0, "leads": 0}


def test_hard_deletes_remove_rows_and_children(emulator, warehouse, monkeypatch):
    warehouse.sync(entities=["contacts", "organisations"])
    gone = _delete_some(emulator)
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    monkeypatch.setenv("SOURCES__INSIGHTLY__HARD_DELETES", "true")
    warehouse.sync(entities=["contacts", "organisations"])
    ids = {r[0] for r in warehouse.query("select contact_id from contacts")}
    assert ids == {r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")}
    for child in ("contacts__customfields", "contacts__tags", "contacts__links", "contacts__dates"):
        orphans = warehouse.query(
            f"select count(*) from {child} c "
            "where not exists (select 1 from contacts p where p.contact_id = c.contact_id)"
        )
        assert orphans == [(0,)], child
    gone_rows = warehouse.query(
        "select count(*) from contacts__customfields where contact_id in "
        f"({', '.join(str(i) for i in gone['contacts'])})"
    )
    assert gone_rows == [(0,)]
    assert not set(gone["contacts"]) & ids


def test_no_check_within_the_cadence(emulator, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_COUNT", "false")  # test_deletes_count.py
    warehouse.sync(entities=["contacts"])
    _delete_some(emulator)
    emulator.clear_requests()
    result = warehouse.sync(entities=["contacts"])
    assert result.stats.deleted == {}
    assert not [r for r in emulator.requests if r.params.get("brief") == "true"]


def _contact_ids(emulator, n: int) -> list[int]:
    return [r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")[:n]]


def test_candidates_beyond_the_budget_follow_a_confirmed_sample(emulator):
    """Many records not listed by an id read that spanned runs: a sample is confirmed with
    GETs first; all gone (a mass delete) marks the rest without a GET each."""
    ids = _contact_ids(emulator, 60)
    for record_id in ids:
        emulator.tenant.delete("Contacts", record_id)
    picked, rest = sample(ids, VERIFY_MIN)
    read = IdRead.begin()
    read.verify, read.suspects = picked, rest
    emulator.clear_requests()
    with InsightlyClient(Connection(API_KEY, emulator.base_url), pacer=Pacer(500, 4)) as client:
        records, gone, stopped = confirm_all(client, entity("contacts"), read)
    assert (records, sorted(gone), stopped) == ([], sorted(ids), None)
    assert len(emulator.requests) == VERIFY_MIN  # one GET per sampled candidate only
    assert read.suspects == [] and read.verify == []


def test_a_sample_that_finds_a_record_confirms_every_candidate(emulator):
    """One sampled candidate still exists: the id read missed records, so no suspect is
    marked on trust; each is confirmed, and those that exist are fetched."""
    ids = _contact_ids(emulator, 60)
    still_there = set(ids[::10])  # 6 of them were only missed by the id read
    for record_id in set(ids) - still_there:
        emulator.tenant.delete("Contacts", record_id)
    picked, rest = sample(ids, VERIFY_MIN)
    assert still_there & set(picked)
    read = IdRead.begin()
    read.verify, read.suspects = picked, rest
    with InsightlyClient(Connection(API_KEY, emulator.base_url), pacer=Pacer(500, 4)) as client:
        records, gone, stopped = confirm_all(client, entity("contacts"), read)
    assert {r["CONTACT_ID"] for r in records} == still_there
    assert set(gone) == set(ids) - still_there
    assert stopped is None and read.alive >= 1


def test_a_check_killed_between_its_read_and_its_verdicts_still_finds_the_deletes(
    emulator, warehouse, monkeypatch
):
    """A sync SIGKILLed after its id read was saved but before the read was compared with
    the warehouse: the next sync compares that read, and the deletes it holds are marked."""
    warehouse.sync(entities=["contacts"])
    gone = _contact_ids(emulator, 3)
    for record_id in gone:
        emulator.tenant.delete("Contacts", record_id)
    pipeline = dlt.pipeline(
        pipeline_name="insightly", pipelines_dir=warehouse.pipelines_dir, destination="duckdb"
    )
    files, read = IdFiles(pipeline, "contacts"), IdRead.begin()
    with InsightlyClient(Connection(API_KEY, emulator.base_url), pacer=Pacer(500, 4)) as client:
        read_ids(client, entity("contacts"), read, files)  # what the killed sync left
    assert IdFiles(pipeline, "contacts").load().settled is True
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    result = warehouse.sync(entities=["contacts"])
    assert result.stats.deleted == {"contacts": 3}
    marked = warehouse.query("select contact_id from contacts where _deleted_at is not null")
    assert sorted(r[0] for r in marked) == sorted(gone)
    assert IdFiles(pipeline, "contacts").load() is None  # the check finished
