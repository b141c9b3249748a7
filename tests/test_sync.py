"""The core sync, over HTTP against the emulator, into a real DuckDB file."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from insightly.api.paging import page_count
from insightly.catalogue.entities import CUSTOM_FIELDS, ENTITIES, TAG_RECORD_TYPES, Load, Paging
from insightly.errors import ApiResponseError, AuthenticationError
from insightly.sync.pipeline import (
    DUCKDB_MEMORY_MIB,
    SyncOptions,
    all_cores,
    default_memory_limit,
    make_pipeline,
)
from insightly.warehouse.held import HeldOpen
from tests.helpers import column, custom_object_tables, differences, entity_paths


def list_requests(emulator, path: str) -> int:
    """Requests the emulator saw for an entity's list or search endpoint."""
    wanted = {f"/v3.1/{path}".lower(), f"/v3.1/{path}/search".lower()}
    return sum(1 for r in emulator.requests if r.path.lower() in wanted)


def test_full_sync_loads_exactly_the_emulators_records(emulator, warehouse):
    result = warehouse.sync()
    assert not result.stats.skipped
    tables = warehouse.tables()
    rng = random.Random(3)
    for table, (path, pk) in entity_paths(emulator).items():
        records = emulator.tenant.records(path)
        assert records, f"the test tenant must have {path} records"
        assert table in tables
        keys = {tuple(r[k] for k in pk) for r in records}
        cols = ", ".join(column(k) for k in pk)
        stored = warehouse.query(f'select {cols} from "{table}"')
        assert len(stored) == len(set(stored)), f"{table} has duplicate keys"
        assert set(stored) == keys, f"{table}: keys differ from the emulator"
        assert result.stats.rows[table] == len(records)
        sample = rng.sample(records, min(25, len(records)))
        assert differences(warehouse, table, pk, sample) == []

    # custom fields, tags and links really are in the sample compared above
    assert warehouse.query("select count(*) from contacts__customfields")[0][0] > 0
    assert warehouse.query("select count(*) from contacts__tags")[0][0] > 0
    assert warehouse.query("select count(*) from contacts__links")[0][0] > 0
    tag_types = {r[0] for r in warehouse.query("select distinct record_type from tags")}
    assert tag_types == set(TAG_RECORD_TYPES)
    objects = {r[0] for r in warehouse.query("select distinct object_table from custom_fields")}
    assert {"contacts", *custom_object_tables(emulator).values()} <= objects


def test_lookup_tables_equal_the_emulator(emulator, warehouse):
    warehouse.sync()
    for e in ENTITIES:
        if e.load is Load.FULL and not e.single:  # Instance, Permissions: test_read_activity.py
            records = emulator.tenant.records(e.path)
            assert records, e.path
            assert differences(warehouse, e.table, e.primary_key, records) == []
            count = warehouse.query(f'select count(*) from "{e.table}"')[0][0]
            assert count == len(records), e.table


def test_request_counts_first_and_unchanged_second_sync(emulator, warehouse):
    warehouse.sync()
    for table, (path, _) in entity_paths(emulator).items():
        n = len(emulator.tenant.records(path))
        assert list_requests(emulator, path) == page_count(n), f"{table}: {n} records"
    assert len(emulator.tenant.records("Leads")) % 500 == 0  # the exact-multiple case is covered

    emulator.clear_requests()
    second = warehouse.sync()
    full = {e.table for e in ENTITIES if e.load is Load.FULL}
    incremental = {t: p for t, (p, _) in entity_paths(emulator).items() if t not in full}
    for table, path in incremental.items():  # the read, and one count for deletes
        assert list_requests(emulator, path) == 2, table
        assert second.stats.requests[table] == 2, table
    for e in ENTITIES:
        if e.lookup:  # reference data waits for its refresh cadence (a day by default)
            assert second.stats.requests[e.table] == 0, e.table
            assert e.table in second.stats.held
        elif e.load is Load.FULL:  # emails have no cursor: read in full every run
            assert second.stats.requests[e.table] == page_count(
                len(emulator.tenant.records(e.path))
            )
    assert second.stats.requests["tags"] == 0
    assert second.stats.requests[CUSTOM_FIELDS.table] == 0
    assert second.stats.rate_remaining is not None


def test_lookups_refresh_when_due(emulator, warehouse, monkeypatch):
    warehouse.sync()
    monkeypatch.setenv("SOURCES__INSIGHTLY__LOOKUP_REFRESH_HOURS", "0")
    emulator.clear_requests()
    second = warehouse.sync()
    assert second.stats.held == []
    for e in ENTITIES:
        if e.lookup and e.paging is Paging.PAGED:
            assert second.stats.requests[e.table] == page_count(
                len(emulator.tenant.records(e.path))
            )
    assert second.stats.requests["tags"] == len(TAG_RECORD_TYPES)


def test_changes_between_syncs_are_merged_without_duplicates(emulator, warehouse):
    warehouse.sync()
    paths = entity_paths(emulator)
    rng = random.Random(11)
    changed: dict[str, set] = {}
    for table in ("contacts", "organisations", "opportunities", "leads", "tasks", "tickets"):
        path, pk = paths[table]
        ids = [r[pk[0]] for r in emulator.tenant.records(path)]
        for record_id in rng.sample(ids, 5):
            emulator.tenant.update(path, record_id)
            changed.setdefault(table, set()).add(record_id)
        created = emulator.tenant.create(path)
        changed[table].add(created[pk[0]])
        emulator.tenant.delete(path, rng.choice(ids))
    custom_table = next(iter(custom_object_tables(emulator).values()))
    custom_path = paths[custom_table][0]
    rid = emulator.tenant.records(custom_path)[0]["RECORD_ID"]
    emulator.tenant.update(custom_path, rid, {"CUSTOMFIELDS": []})
    changed[custom_table] = {rid}

    result = warehouse.sync()
    for table, ids in changed.items():
        path, pk = paths[table]
        current = {r[pk[0]]: r for r in emulator.tenant.records(path)}
        assert result.stats.rows[table] >= len(ids)
        assert differences(warehouse, table, pk, [current[i] for i in ids]) == []
    for table, (_, pk) in paths.items():
        cols = ", ".join(column(k) for k in pk)
        dupes = warehouse.query(f'select {cols} from "{table}" group by all having count(*) > 1')
        assert dupes == [], f"{table} has duplicate primary keys"
    # the custom object's emptied custom fields left no stale child rows behind
    stale = warehouse.query(
        f'select count(*) from "{custom_table}" p join "{custom_table}__customfields" c '
        "on c.record_id = p.record_id where p.record_id = ?",
        rid,
    )
    assert stale == [(0,)]


def test_only_changed_records_are_fetched(emulator, warehouse):
    warehouse.sync()
    cursor = warehouse.query("select max(date_updated_utc) from contacts")[0][0]
    ids = [r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")]
    for record_id in ids[100:130]:
        emulator.tenant.update("Contacts", record_id)
    emulator.clear_requests()
    result = warehouse.sync(entities=["contacts"])
    boundary = sum(
        1
        for r in emulator.tenant.records("Contacts")
        if r["CONTACT_ID"] not in ids[100:130]
        and r["DATE_UPDATED_UTC"] >= cursor.strftime("%Y-%m-%d %H:%M:%S")
    )
    assert result.stats.rows["contacts"] == 30 + boundary
    assert boundary <= 2  # only the look-back second is re-read
    assert list_requests(emulator, "Contacts") == 2  # the read and one count for deletes


def test_update_in_the_same_second_as_the_cursor_is_not_lost(emulator, warehouse):
    warehouse.sync(entities=["contacts"])
    cursor = warehouse.query("select max(date_updated_utc) from contacts")[0][0]
    target = emulator.tenant.records("Contacts")[5]["CONTACT_ID"]
    emulator.tenant.update("Contacts", target, {"FIRST_NAME": "Same-Second"}, at=cursor)
    warehouse.sync(entities=["contacts"])
    got = warehouse.query("select first_name from contacts where contact_id = ?", target)
    assert got == [("Same-Second",)]


def test_wrong_key_stops_at_once(emulator, warehouse):
    warehouse.api_key = "wrong-key-0000000000"
    with pytest.raises(Exception) as info:
        warehouse.sync()
    error = _root(info.value)
    assert isinstance(error, AuthenticationError)
    assert "check the API key and pod" in str(error)
    assert not warehouse.path.exists() or "contacts" not in warehouse.tables()
    assert Counter(r.status for r in emulator.requests) == Counter({401: len(emulator.requests)})
    assert len(emulator.requests) == 1  # no retries, no further entities


def test_forbidden_and_missing_entities_are_skipped(emulator, warehouse):
    emulator.configure(forbidden={"Ticket": 403, "Product": 404})
    result = warehouse.sync()
    assert result.stats.skipped["tickets"] == "no access (403)"
    assert result.stats.skipped["products"] == "not in this plan (404)"
    assert "tickets" not in warehouse.tables() and "products" not in warehouse.tables()
    n = warehouse.query("select count(*) from contacts")[0][0]
    assert n == len(emulator.tenant.records("Contacts"))
    from insightly.sync.summary import render

    text = render(result)
    assert "tickets" in text and "skipped: no access (403)" in text
    assert "skipped: not in this plan (404)" in text


def test_non_array_body_is_an_error_naming_the_endpoint(emulator, warehouse):
    warehouse.sync(entities=["notes", "contacts"])
    before = warehouse.query("select count(*) from notes")[0][0]
    emulator.tenant.update("Contacts", emulator.tenant.records("Contacts")[0]["CONTACT_ID"])
    emulator.configure(non_array={"Notes"})
    with pytest.raises(Exception) as info:
        warehouse.sync(entities=["contacts", "notes"])
    error = _root(info.value)
    assert isinstance(error, ApiResponseError)
    assert "Notes/Search" in str(error) and "array" in str(error)
    assert warehouse.query("select count(*) from notes")[0][0] == before


def test_custom_fields_metadata_covers_every_object(emulator, warehouse):
    warehouse.sync(entities=[CUSTOM_FIELDS.table])
    rows = warehouse.query("select object_table, field_name, field_type from custom_fields")
    assert len(rows) == len({(r[0], r[1]) for r in rows})
    types = {r[2] for r in rows}
    assert {"TEXT", "MULTILINETEXT", "DROPDOWN", "MULTISELECT", "BIT", "NUMERIC"} <= types
    assert {"PERCENT", "DATE", "DATETIME"} <= types


def _root(exc: BaseException) -> BaseException:
    from insightly.errors import find_user_error

    return find_user_error(exc) or exc


def test_full_table_is_kept_while_its_entity_is_forbidden(emulator, warehouse, monkeypatch):
    """A permission lost for a while must not empty a replace table."""
    monkeypatch.setenv("SOURCES__INSIGHTLY__LOOKUP_REFRESH_HOURS", "0")
    tables = ["emails", "contacts", "tags", "custom_objects"]
    warehouse.sync(entities=tables)
    before = warehouse.query("select count(*) from emails")[0][0]
    assert before == len(emulator.tenant.records("Emails")) > 0
    tags = warehouse.query("select count(*) from tags")[0][0]
    objects = warehouse.query("select count(*) from custom_objects")[0][0]
    assert tags > 0 and objects > 0
    emulator.configure(forbidden={"Emails": 403, "Tags": 403, "CustomObjects": 403})
    result = warehouse.sync(entities=tables)
    assert result.stats.skipped["emails"] == "no access (403)"
    assert {"tags", "custom_objects"} <= set(result.stats.skipped)
    assert warehouse.query("select count(*) from emails")[0][0] == before
    assert warehouse.query("select count(*) from tags")[0][0] == tags
    assert warehouse.query("select count(*) from custom_objects")[0][0] == objects
    emulator.configure(forbidden={})
    emulator.tenant.delete("Emails", emulator.tenant.records("Emails")[0]["EMAIL_ID"])
    warehouse.sync(entities=tables)  # replaced again, not appended
    assert warehouse.query("select count(*) from emails")[0][0] == before - 1


def _memory_limit(warehouse) -> str:
    options = SyncOptions(pipelines_dir=warehouse.pipelines_dir)
    with make_pipeline(options).sql_client() as sql:
        return sql.execute_sql("select current_setting('memory_limit')")[0][0]


def test_duckdb_memory_limit_defaults_to_400mib_or_an_eighth_of_ram(warehouse, monkeypatch):
    warehouse.sync(entities=["countries"])
    mib = int(default_memory_limit().removesuffix("MiB"))
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert mib == min(DUCKDB_MEMORY_MIB, ram // 8) or mib < ram // 8  # (a cgroup: lower)
    assert _memory_limit(warehouse) == f"{mib}.0 MiB"
    # what the configuration says wins, and the rest of global_config still applies
    monkeypatch.setenv(
        "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG",
        '{"memory_limit": "300MiB", "preserve_insertion_order": false}',
    )
    warehouse.sync(entities=["countries"])
    assert _memory_limit(warehouse) == "300.0 MiB"


def test_duckdb_threads_leave_a_core_to_the_read(warehouse, monkeypatch):
    """One core fewer than the machine has (at least one), unless configured."""
    warehouse.sync(entities=["countries"])
    options = SyncOptions(pipelines_dir=warehouse.pipelines_dir)

    def threads() -> int:
        with make_pipeline(options).sql_client() as sql:
            return sql.execute_sql("select current_setting('threads')")[0][0]

    assert threads() == max(1, (os.cpu_count() or 1) - 1)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"threads": 3}')
    assert threads() == 3


def test_duckdb_takes_every_core_once_the_reads_are_over(warehouse, monkeypatch):
    """all_cores: for the integrity and id checks, while the sync holds the database open;
    a configured `threads` is left as it is."""
    warehouse.sync(entities=["countries"])
    options = SyncOptions(pipelines_dir=warehouse.pipelines_dir)
    cores = os.cpu_count() or 1
    for configured, expected in ((None, cores), (3, 3)):
        if configured is not None:
            monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"threads": 3}')
        pipeline = make_pipeline(options)
        with HeldOpen(pipeline):
            all_cores(pipeline)
            with pipeline.sql_client() as sql:
                assert sql.execute_sql("select current_setting('threads')")[0][0] == expected
