"""Comparing the warehouse with the emulator: same keys, same values, nested lists included."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from insightly.catalogue.entities import ENTITIES, Entity, custom_object_entities
from insightly.read.rows import decode_value

naming = NamingConvention()
NESTED = ("CUSTOMFIELDS", "TAGS", "LINKS", "DATES", "EMAILDOMAINS", "TEAMMEMBERS", "ACTIVITIES")


def column(key: str) -> str:
    return naming.normalize_identifier(key)


def custom_object_tables(emulator) -> dict[str, str]:
    """API object name -> warehouse table, as the source names them."""
    entities = custom_object_entities(emulator.tenant.records("CustomObjects"))
    return {e.path: e.table for e in entities}


def entity_paths(emulator) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Warehouse table -> (API path, primary key) for every list entity (not Instance and
    Permissions, which answer one object)."""
    out = {e.table: (e.path, e.primary_key) for e in ENTITIES if not e.single}
    for name, table in custom_object_tables(emulator).items():
        out[table] = (name, ("RECORD_ID",))
    return out


def as_api(value: Any) -> Any:
    """Warehouse value -> the API's representation."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return value


def rows_by_key(warehouse, table: str, pk: tuple[str, ...]) -> dict[tuple, dict]:
    with_cols = warehouse.columns(table)
    rows = warehouse.query(f'select * from "{table}"')
    keyed = {}
    for row in rows:
        record = dict(zip(with_cols, row, strict=True))
        keyed[tuple(record[column(k)] for k in pk)] = record
    return keyed


def nested_rows(warehouse, table: str, child: str, pk: tuple[str, ...]) -> dict[tuple, list]:
    """Child rows per parent key, in list order, as dicts keyed by column."""
    name = f"{table}__{column(child)}"
    if name not in warehouse.tables():
        return {}
    cols = warehouse.columns(name)
    keys = ", ".join(f'p."{column(k)}"' for k in pk)
    join = " and ".join(f'c."{column(k)}" = p."{column(k)}"' for k in pk)
    rows = warehouse.query(
        f'select {keys}, c.* from "{table}" p join "{name}" c on {join} '
        f"order by {keys}, c._position"
    )
    out: dict[tuple, list] = {}
    for row in rows:
        key, values = tuple(row[: len(pk)]), row[len(pk) :]
        item = {c: v for c, v in zip(cols, values, strict=True) if not c.startswith("_")}
        out.setdefault(key, []).append(item)
    return out


def custom_fields_of(rows: list[dict]) -> list[tuple[str, Any]]:
    return [(r["field_name"], decode_value(r["field_value"], r["field_value_type"])) for r in rows]


def differences(warehouse, table: str, pk: tuple[str, ...], records: list[dict]) -> list[str]:
    """Every difference between API records and the warehouse table (empty = equal)."""
    stored = rows_by_key(warehouse, table, pk)
    problems = []
    children = {c: nested_rows(warehouse, table, c, pk) for c in NESTED}
    for record in records:
        key = tuple(record[k] for k in pk)
        row = stored.get(key)
        if row is None:
            problems.append(f"{table} {key}: missing")
            continue
        for k, v in record.items():
            if k in NESTED:
                got = children[k].get(key, [])
                if k == "CUSTOMFIELDS":
                    want = [(f["FIELD_NAME"], f["FIELD_VALUE"]) for f in v or []]
                    if custom_fields_of(got) != want:
                        problems.append(f"{table} {key} {k}: {custom_fields_of(got)} != {want}")
                else:
                    want_items = [{column(a): b for a, b in item.items()} for item in v or []]
                    # a column no row ever had a value for is not materialised by dlt
                    got_items = [
                        {c: as_api(item.get(c)) for c in want_item}
                        for item, want_item in zip(got, want_items, strict=False)
                    ]
                    if len(got) != len(want_items) or got_items != want_items:
                        problems.append(f"{table} {key} {k}: {got} != {want_items}")
            elif as_api(row.get(column(k))) != v:
                problems.append(f"{table} {key} {k}: {row.get(column(k))!r} != {v!r}")
    return problems


def entity(table: str) -> Entity:
    return next(e for e in ENTITIES if e.table == table)
