"""Exact duplicate rows (same key, same values), as a resumed load once left, are collapsed."""

from __future__ import annotations

import dlt
import duckdb

from insightly.warehouse.integrity import repair_exact_copies


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
    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
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
    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
    assert repair_exact_copies(pipeline, ["contacts"]) == {}  # not guessed at
    dupes = warehouse.query(
        "select count(*) from (select contact_id, _position from contacts__tags "
        "group by all having count(*) > 1)"
    )
    assert dupes == [(3,)]
