"""Child tables keyed by their parent stay exact on merge (read/entity_rows.py), and every
documented field lands as a typed column from the first load."""

from __future__ import annotations

from insightly.catalogue.fields import FIELDS
from insightly.catalogue.tables import TOMBSTONE
from tests.conftest import Warehouse
from tests.helpers import column, differences


def _contacts(emulator, n: int) -> list[dict]:
    """n contacts that have tags and custom fields."""
    records = emulator.tenant.records("Contacts")
    chosen = [r for r in records if r.get("TAGS") and r.get("CUSTOMFIELDS")][:n]
    assert len(chosen) == n
    return chosen


def _rows(warehouse, table: str, contact_id: int) -> list[tuple]:
    return warehouse.query(
        f"select * exclude (_dlt_load_id) from {table} where contact_id = ? order by _position",
        contact_id,
    )


def test_child_rows_follow_their_parent_on_merge(emulator, warehouse):
    warehouse.sync(entities=["contacts"])
    lost, gained, emptied, untouched = (r["CONTACT_ID"] for r in _contacts(emulator, 4))
    before = _rows(warehouse, "contacts__tags", untouched)
    assert before and _rows(warehouse, "contacts__customfields", emptied)
    emulator.tenant.update("Contacts", lost, {"TAGS": []})
    new_tags = [{"TAG_NAME": "new one"}, {"TAG_NAME": "ü"}]
    emulator.tenant.update("Contacts", gained, {"TAGS": new_tags})
    emulator.tenant.update("Contacts", emptied, {"CUSTOMFIELDS": []})
    warehouse.sync(entities=["contacts"])

    assert _rows(warehouse, "contacts__tags", lost) == []  # down to none: the tombstone
    tags = warehouse.query(
        "select tag_name from contacts__tags where contact_id = ? order by _position", gained
    )
    assert tags == [("new one",), ("ü",)]
    assert _rows(warehouse, "contacts__customfields", emptied) == []
    assert _rows(warehouse, "contacts__tags", untouched) == before
    # tombstones delete; they are never stored
    assert warehouse.query(f"select count(*) from contacts__tags where {TOMBSTONE}") == [(0,)]
    problems = differences(
        warehouse, "contacts", ("CONTACT_ID",), emulator.tenant.records("Contacts")
    )
    assert problems == []


def test_a_parent_read_twice_in_one_load_is_not_duplicated(emulator, warehouse):
    """The look-back second and paging drift can bring a record twice into one load."""
    warehouse.sync(entities=["contacts"])
    (record,) = _contacts(emulator, 1)
    emulator.tenant.update("Contacts", record["CONTACT_ID"], {"TAGS": [{"TAG_NAME": "x"}]})
    warehouse.sync(entities=["contacts"])
    warehouse.sync(entities=["contacts"])  # the look-back re-reads it
    for child in ("contacts__tags", "contacts__customfields", "contacts__links"):
        dupes = warehouse.query(
            f"select contact_id, _position from {child} group by all having count(*) > 1"
        )
        assert dupes == [], child


def test_every_documented_field_is_a_typed_column_from_the_first_load(
    emulator_factory, tmp_path, monkeypatch, capfd
):
    """On the demo tenant (`make demo`), whose values all have their documented types."""
    emulator = emulator_factory(profile="demo")
    warehouse = Warehouse(tmp_path, emulator.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(warehouse.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__ACTIVITY", "true")  # the opt-in tables too
    capfd.readouterr()
    warehouse.sync()
    # dlt's logger writes to stderr itself (it does not propagate to pytest's caplog)
    err = capfd.readouterr().err
    assert "WARNING" not in err and "did not receive any data" not in err, err[-2000:]
    types = {
        (t, c): d
        for t, c, d in warehouse.query(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'insightly'"
        )
    }
    duck = {"bigint": "BIGINT", "text": "VARCHAR", "bool": "BOOLEAN", "double": "DOUBLE"}
    duck |= {"timestamp": "TIMESTAMP WITH TIME ZONE", "json": "VARCHAR"}
    tables = {t for t, _ in types}
    checked, missing = 0, []
    for name, fields in FIELDS.items():
        table, _, array = name.partition(".")
        if table == "custom_object_records":
            table = "custom_fruit"
        if array:
            table = f"{table}__{column(array)}"
        if table not in tables:
            missing.append(table)
            continue
        for field, kind in fields.items():
            if field in ("FIELD_VALUE",):
                continue
            assert types.get((table, column(field))) == duck[kind], (table, field)
            checked += 1
    assert checked > 700 and missing == [], missing
    assert types[("contacts", "image_url")] == "VARCHAR"
    data_tables = {t for t in tables if not t.startswith("_dlt")}
    assert {t for t in data_tables if (t, "_dlt_load_id") not in types} == set()
    old_ids = {(t, c) for t, c in types if c in ("_dlt_id", "_dlt_parent_id") and t in data_tables}
    assert old_ids == set()
    variants = sorted((t, c) for t, c in types if "__v_" in c)
    assert variants == []  # the demo's values all have their documented types
