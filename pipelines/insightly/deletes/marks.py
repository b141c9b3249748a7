"""Applying deletes to the warehouse: mark records `_deleted_at`, or remove them with their
child rows (`hard_deletes`), and drop the links other records held to them.

Insightly removes a deleted record's links from the records it was linked to, and (as far as
anyone knows) leaves their DATE_UPDATED_UTC alone, so no incremental read ever sees those
links go: they leave the copy's `<table>__links` tables when the delete is detected.

Written against dlt's sql_client rather than as a dlt resource: marking needs an UPDATE of
rows already loaded, which a merge (whole-row replace) can't express.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt

from insightly.api.stamps import utc_stamp
from insightly.catalogue.entities import CURSOR, Entity
from insightly.catalogue.tables import DELETED_AT, child_tables
from insightly.history.store import close_versions
from insightly.warehouse.introspect import tables_in, tables_with_columns

BATCH = 500
# LINK_OBJECT_NAME of each linkable entity's records (singular; docs/api.md §7)
LINK_NAMES = {
    "contacts": "Contact",
    "organisations": "Organisation",
    "opportunities": "Opportunity",
    "projects": "Project",
    "leads": "Lead",
    "tasks": "Task",
    "events": "Event",
    "notes": "Note",
    "emails": "Email",
}
LINK_TABLE_SUFFIX = "__links"


def _chunks(values: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _stamp(value: Any) -> str | None:
    return utc_stamp(value) if isinstance(value, datetime) else None


def warehouse_rows(pipeline: dlt.Pipeline, entity: Entity) -> dict[Any, tuple[str | None, bool]]:
    """Every record of the table: id -> (DATE_UPDATED_UTC stamp, marked deleted)."""
    with pipeline.sql_client() as sql:
        if entity.table not in tables_in(sql):
            return {}
        name = sql.make_qualified_table_name(entity.table)
        key = sql.escape_column_name(entity.primary_key[0].lower())
        updated = sql.escape_column_name(CURSOR.lower())
        deleted = sql.escape_column_name(DELETED_AT)
        rows = sql.execute_sql(f"select {key}, {updated}, {deleted} from {name}") or []
    return {r[0]: (_stamp(r[1]), r[2] is not None) for r in rows}


def mark_deleted(
    pipeline: dlt.Pipeline,
    entity: Entity,
    gone: Sequence[Any],
    hard: bool,
    drop_links: bool = True,
) -> int:
    """Mark (or remove) warehouse records of `entity` that the API no longer has, and
    (`drop_links`: the deletes are proven) the links other records held to them."""
    if not gone:
        return 0
    table = entity.table
    pk = entity.primary_key[0].lower()
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name(table)
        key, deleted = sql.escape_column_name(pk), sql.escape_column_name(DELETED_AT)
        held = tables_in(sql)
        children = [t for t in child_tables(entity, pipeline.default_schema.naming) if t in held]
        for chunk in _chunks(list(gone)):
            marks = ", ".join(["%s"] * len(chunk))
            # the record, its child rows (keyed by its id) and its history in one transaction
            with sql.begin_transaction():
                close_versions(sql, entity, chunk)
                if hard:
                    for child in children:
                        sql.execute_sql(
                            f"delete from {sql.make_qualified_table_name(child)} "
                            f"where {key} in ({marks})",
                            *chunk,
                        )
                    sql.execute_sql(f"delete from {name} where {key} in ({marks})", *chunk)
                else:
                    sql.execute_sql(
                        f"update {name} set {deleted} = %s where {key} in ({marks}) "
                        f"and {deleted} is null",
                        datetime.now(timezone.utc),
                        *chunk,
                    )
            if drop_links:
                drop_links_to(sql, entity, chunk, held)
    return len(gone)


def drop_links_to(sql: Any, entity: Entity, gone: Sequence[Any], held: set[str]) -> None:
    """Remove the links other records hold to the deleted records `gone` of `entity`."""
    link_name = LINK_NAMES.get(entity.table)
    if link_name is None:
        return
    marks = ", ".join(["%s"] * len(gone))
    for links in _link_tables(sql, held):
        sql.execute_sql(
            f"delete from {sql.make_qualified_table_name(links)} "
            f"where link_object_name = %s and link_object_id in ({marks})",
            link_name,
            *gone,
        )


def _link_tables(sql: Any, held: set[str]) -> list[str]:
    """The `__links` tables that hold link ends (a table never loaded a row may lack them)."""
    found = tables_with_columns(sql, "link_object_name", "link_object_id")
    return sorted(t for t in held if t.endswith(LINK_TABLE_SUFFIX) and t in found)
