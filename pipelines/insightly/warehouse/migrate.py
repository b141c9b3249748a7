"""Moves a warehouse from dlt's nested child tables to child tables keyed by the parent.

Before the Arrow row path, dlt unnested each list into a child table joined to its parent
through dlt-internal ids (`child._dlt_parent_id = parent._dlt_id`). Now a child table
carries the parent's primary key and `_position` (catalogue/tables.py). A warehouse written by the
earlier version is moved on the first sync of this one, inside the warehouse and with no
API request:

1. each child table is rebuilt from itself joined to its parent (`_dlt_parent_id` through
   the parent's `_dlt_id`): the parent's key, `_dlt_list_idx` as `_position`, the item's
   columns, and the parent's `_dlt_load_id`; rows of soft-deleted parents are kept like
   any other (the staging views leave them out through the parent's `_deleted_at`);
2. `_dlt_id` is dropped from the entity tables;
3. dlt's merge staging tables of the old layout are dropped (they are empty between
   loads; dlt creates them anew);
4. the dlt schema forgets the old columns and the parent links, and is stored in the
   destination, so a pipeline restored from there sees the new layout too.

Steps 1 to 3 run in one transaction; each step checks what is there first, so a run
stopped half way is finished by the next.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt

from insightly.catalogue.tables import POSITION
from insightly.warehouse.introspect import columns_in, tables_in

log = logging.getLogger(__name__)
OLD_CHILD_COLUMNS = ("_dlt_parent_id", "_dlt_list_idx", "_dlt_id", "_dlt_root_id")
ROW_ID = "_dlt_id"


def migrate_child_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Move an old-layout warehouse to the new layout; returns the child tables moved."""
    try:
        with pipeline.sql_client() as sql:
            moved = _migrate_warehouse(sql, pipeline)
    except Exception as exc:  # no dataset yet: nothing to move
        if _dataset_missing(exc):
            moved = []
        else:
            raise
    if _forget_old_columns(pipeline):
        pipeline.sync_schema()
    if moved:
        log.warning("moved %d child tables to the parent-keyed layout", len(moved))
    return moved


def _dataset_missing(exc: Exception) -> bool:
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    return isinstance(exc, DatabaseUndefinedRelation) or "does not exist" in str(exc)


def _migrate_warehouse(sql: Any, pipeline: dlt.Pipeline) -> list[str]:
    tables = tables_in(sql)
    columns = {t: columns_in(sql, t) for t in tables if not t.startswith("_dlt")}
    old = sorted(t for t, cols in columns.items() if "_dlt_parent_id" in cols)
    roots = sorted(t for t, cols in columns.items() if ROW_ID in cols and t not in old)
    if not old and not roots:
        return []
    _drop_old_staging(sql)
    # deepest first: a grandchild joins to its parent's `_dlt_id` before that one is rebuilt
    old.sort(key=lambda t: -t.count("__"))
    with sql.begin_transaction():
        for child in old:
            parent = child.rsplit("__", 1)[0]
            keys = _parent_key(pipeline, parent, columns.get(parent, []))
            _rebuild(sql, child, parent, keys, columns[child], columns.get(parent, []))
        for root in roots:
            name = sql.make_qualified_table_name(root)
            sql.execute_sql(f"alter table {name} drop column {sql.escape_column_name(ROW_ID)}")
    return old


def _drop_old_staging(sql: Any) -> None:
    """dlt's merge staging tables (`<dataset>_staging`) hold nothing between loads, but keep
    the old NOT NULL columns; dropped, dlt creates them anew in the new layout."""
    with sql.with_staging_dataset():
        try:
            staged = tables_in(sql)
        except Exception:  # no staging dataset
            return
        for table in sorted(staged):
            if not table.startswith("_dlt") and ROW_ID in columns_in(sql, table):
                sql.execute_sql(f"drop table {sql.make_qualified_table_name(table)}")


def _parent_key(pipeline: dlt.Pipeline, parent: str, parent_columns: list[str]) -> list[str]:
    """The parent's primary key columns (from the dlt schema, which always had them)."""
    table = pipeline.default_schema.tables.get(parent, {}) if pipeline.default_schema_name else {}
    keys = [n for n, c in table.get("columns", {}).items() if c.get("primary_key")]
    if keys:
        return keys
    if "record_id" in parent_columns:  # a custom object
        return ["record_id"]
    raise RuntimeError(f"can't move {parent}'s child tables: its primary key is unknown")


def _rebuild(
    sql: Any,
    child: str,
    parent: str,
    keys: list[str],
    child_columns: list[str],
    parent_columns: list[str],
) -> None:
    esc = sql.escape_column_name
    name, parent_name = sql.make_qualified_table_name(child), sql.make_qualified_table_name(parent)
    items = [c for c in child_columns if c not in OLD_CHILD_COLUMNS and c not in keys]
    items = [c for c in items if c not in (POSITION, "_dlt_load_id")]
    load_id = "p._dlt_load_id" if "_dlt_load_id" in parent_columns else "c._dlt_load_id"
    select = ", ".join(
        [
            *(f"p.{esc(k)}" for k in keys),
            f"c._dlt_list_idx as {esc(POSITION)}",
            *(f"c.{esc(c)}" for c in items),
            f"{load_id} as _dlt_load_id",
        ]
    )
    temp = sql.make_qualified_table_name(f"{child}__moving")
    sql.execute_sql(f"drop table if exists {temp}")
    sql.execute_sql(
        f"create table {temp} as select {select} from {name} c "
        f"join {parent_name} p on p._dlt_id = c._dlt_parent_id"
    )
    sql.execute_sql(f"drop table {name}")
    sql.execute_sql(f"alter table {temp} rename to {esc(child)}")


def _forget_old_columns(pipeline: dlt.Pipeline) -> bool:
    """Drop the old columns and parent links from the dlt schema; True if it changed."""
    if not pipeline.default_schema_name:
        return False
    schema = pipeline.default_schema
    changed = False
    for name, table in schema.tables.items():
        if name.startswith("_dlt"):
            continue
        columns = table.get("columns", {})
        for column in OLD_CHILD_COLUMNS:
            if column in columns:
                del columns[column]
                changed = True
        if table.get("parent"):
            del table["parent"]  # type: ignore[typeddict-item]
            changed = True
    if changed:
        schema._bump_version()
        pipeline.schemas.save_schema(schema)
    return changed
