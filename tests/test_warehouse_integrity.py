"""Exact duplicate rows (same key, same values), as a resumed load once left, are collapsed.

A check looks only at keys of rows loaded after the newest load it saw before (CHECKED, in
the pipeline's local state); copies made by hand after a sync are made behind its back, so
these tests drop that mark first, as after a load the check never saw."""

from __future__ import annotations

import dlt
import duckdb

from insightly.warehouse.integrity import CHECKED, repair_exact_copies


def _unchecked(warehouse) -> dlt.Pipeline:
    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
    pipeline.set_local_state_val(CHECKED, {})
    return pipeline


def test_exact_copies_are_collapsed_and_other_rows_kept(warehouse):
    warehouse.sync(entities=["contacts"])
    before = warehouse.query("select count(*) from contacts")[0][0]
    children = warehouse.query("select count(*) from contacts__customfields")[0][0]
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute("insert into insightly.contacts select * from insightly.contacts limit 7")
        con.execute(
            "insert into insightly.contacts__customfields "
            "select * from insightly.contacts__customfields limit 5"
        )
    pipeline = _unchecked(warehouse)
    assert repair_exact_copies(pipeline, ["contacts"]) == {
        "contacts": 7,
        "contacts__customfields": 5,
    }
    assert warehouse.query("select count(*), count(distinct contact_id) from contacts")[0] == (
        before,
        before,
    )
    assert warehouse.query("select count(*) from contacts__customfields")[0][0] == children
    assert repair_exact_copies(pipeline, ["contacts"]) == {}


def test_rows_sharing_a_key_with_other_values_are_left_alone(warehouse):
    warehouse.sync(entities=["contacts"])
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute(
            "insert into insightly.contacts__tags select * replace ('other' as tag_name) "
            "from insightly.contacts__tags limit 3"
        )
    pipeline = _unchecked(warehouse)
    assert repair_exact_copies(pipeline, ["contacts"]) == {}  # not guessed at
    dupes = warehouse.query(
        "select count(*) from (select contact_id, _position from contacts__tags "
        "group by all having count(*) > 1)"
    )
    assert dupes == [(3,)]


def test_a_check_looks_at_the_keys_loaded_since_the_last_check(warehouse, emulator):
    """Copies among rows of a load after the last check are found; rows of loads checked
    before are not looked at again (a load never adds rows to an earlier load)."""
    warehouse.sync(entities=["contacts"])
    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
    first = pipeline.get_local_state_val(CHECKED)
    (first_load,) = set(first.values())
    contact = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    emulator.tenant.update("Contacts", contact, {"FIRST_NAME": "Changed"})
    warehouse.sync(entities=["contacts"])
    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
    newest = pipeline.get_local_state_val(CHECKED)["contacts__customfields"]
    assert newest > first_load
    # as if the second sync had been killed after its load, before its check
    pipeline.set_local_state_val(CHECKED, first)
    with duckdb.connect(str(warehouse.path)) as con:
        for table, load in (("contacts__customfields", newest), ("contacts", first_load)):
            con.execute(
                f"insert into insightly.{table} select * from insightly.{table} "
                "where _dlt_load_id = ? limit 2",
                [load],
            )
    assert repair_exact_copies(pipeline, ["contacts"]) == {"contacts__customfields": 2}
    assert pipeline.get_local_state_val(CHECKED)["contacts"] == newest
