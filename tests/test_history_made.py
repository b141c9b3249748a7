"""Versions made in the warehouse (history/made.py): what the SQL step adds beyond the
story of test_history.py: the JSON text equals the served lists, versions of the earlier
Python path are re-hashed once and stay unchanged, a table without versions gets them
from its rows with no request, and a load not yet complete is never versioned."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dlt
import duckdb
import orjson

from insightly.history.store import version_loads
from tests.conftest import Warehouse
from tests.helpers import entity

TABLES = ["contacts", "custom_fields"]


def _versions(wh: Warehouse) -> dict[int, tuple]:
    rows = wh.query(
        "select contact_id, customfields, tags, _run_id, _version_hash from contacts__versions"
    )
    return {r[0]: r[1:] for r in rows}


def test_lists_are_the_served_lists_as_compact_sorted_json(emulator, warehouse):
    """The text is what orjson wrote on the earlier path: compact, keys sorted."""
    warehouse.sync(entities=TABLES)
    versions = _versions(warehouse)
    records = emulator.tenant.records("Contacts")
    assert len(versions) == len(records)
    for record in records:
        fields = {f["FIELD_NAME"]: f["FIELD_VALUE"] for f in record.get("CUSTOMFIELDS") or []}
        tags = sorted(t["TAG_NAME"] for t in record.get("TAGS") or [])
        customfields, tag_text = versions[record["CONTACT_ID"]][:2]
        assert customfields == orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
        assert tag_text == orjson.dumps(tags).decode()
    assert any(json.loads(v[0]) for v in versions.values())  # the tenant has custom fields
    assert any(json.loads(v[1]) for v in versions.values())  # and tags


def test_versions_of_the_earlier_path_are_rehashed_and_kept(emulator, warehouse):
    """A warehouse whose versions the Python path wrote (another hash, no mark): the next
    sync re-hashes them, and the look-back's re-read of an unchanged record replaces
    nothing, while a changed record adds its version."""
    first = warehouse.sync(entities=TABLES).stats.sync
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute("update insightly.contacts__versions set _version_hash = md5(contact_id::text)")
        con.execute("drop table insightly._dlt_insightly_versions")
    changed = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    emulator.tenant.update("Contacts", changed, {"TITLE": "Changed after the upgrade"})
    second = warehouse.sync(entities=TABLES).stats.sync
    rows = warehouse.query(
        "select contact_id, _run_id, count(*) over (partition by contact_id) "
        "from contacts__versions"
    )
    runs = {(r[0], r[1]) for r in rows}
    assert (changed, second) in runs
    assert {run for cid, run in runs if cid != changed} == {first}  # re-reads replaced nothing
    assert len(rows) == len(emulator.tenant.records("Contacts")) + 1
    hashes = warehouse.query(
        "select count(*) from contacts__versions where _version_hash = md5(contact_id::text)"
    )
    assert hashes == [(0,)]  # every version carries the SQL hash


def test_a_table_without_versions_gets_them_from_its_rows_with_no_request(emulator, warehouse):
    warehouse.sync(entities=TABLES)
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute("drop table insightly.contacts__versions")
    stats = warehouse.sync(entities=["contacts"]).stats
    run, records = stats.sync, emulator.tenant.records("Contacts")
    assert stats.rows.get("contacts", 0) < len(records) / 10  # the look-back, not a re-read
    rows = warehouse.query("select contact_id, _run_id from contacts__versions")
    assert sorted(r[0] for r in rows) == sorted(r["CONTACT_ID"] for r in records)
    assert {r[1] for r in rows} == {run}


def test_a_load_not_recorded_complete_is_not_versioned(emulator, warehouse):
    """dlt writes a package's `_dlt_loads` row after all its jobs: rows of a load without
    it (jobs committed, the package not) wait for the load to complete."""
    warehouse.sync(entities=TABLES)
    contacts = emulator.tenant.records("Contacts")
    target, later = contacts[1]["CONTACT_ID"], contacts[2]["CONTACT_ID"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # older than the look-back second: the next syncs don't read it again
    emulator.tenant.update(
        "Contacts", target, {"TITLE": "Half loaded"}, at=now - timedelta(seconds=30)
    )
    emulator.tenant.update("Contacts", later, {"TITLE": "Later"}, at=now - timedelta(seconds=5))
    warehouse.sync(entities=TABLES)
    with duckdb.connect(str(warehouse.path)) as con:
        newest = con.execute("select max(load_id) from insightly._dlt_loads").fetchone()[0]
        con.execute(f"delete from insightly.contacts__versions where _dlt_load_id = '{newest}'")
        con.execute(
            "update insightly._dlt_insightly_versions set load_id = '0' "
            "where table_name = 'contacts'"
        )
        con.execute(f"update insightly._dlt_loads set status = 1 where load_id = '{newest}'")
    pipeline = dlt.pipeline(
        pipeline_name="insightly", destination="duckdb", pipelines_dir=warehouse.pipelines_dir
    )
    pipeline.sync_destination()
    contacts_entity = entity("contacts")
    assert version_loads(pipeline, [contacts_entity], "start") == 0  # as a sync's start: waits
    titles = warehouse.query(f"select title from contacts__versions where contact_id = {target}")
    assert ("Half loaded",) not in titles
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute(f"update insightly._dlt_loads set status = 0 where load_id = '{newest}'")
    assert version_loads(pipeline, [contacts_entity], "start") >= 1
    titles = warehouse.query(f"select title from contacts__versions where contact_id = {target}")
    assert ("Half loaded",) in titles


def test_a_read_in_chunks_versions_each_chunk_once(emulator, warehouse, monkeypatch):
    """Each chunk's versions are made while the next chunk is read (VersionsBehind): every
    record once, each from the load that wrote it, and the versions done when the sync
    returns."""
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", "1")
    result = warehouse.sync(entities=["contacts"])
    records = emulator.tenant.records("Contacts")
    assert result.stats.chunks >= 2  # read in at least three pipeline runs
    rows = warehouse.query("select contact_id, _dlt_load_id from contacts__versions")
    assert sorted(r[0] for r in rows) == sorted(r["CONTACT_ID"] for r in records)
    current = dict(warehouse.query("select contact_id, _dlt_load_id from contacts"))
    assert all(current[cid] == load for cid, load in rows)
    assert len({load for _, load in rows}) == result.stats.chunks + 1
    marked = warehouse.query(
        "select load_id from _dlt_insightly_versions where table_name = 'contacts'"
    )
    assert marked == [(max(load for _, load in rows),)]
