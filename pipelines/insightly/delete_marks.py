"""Applying deletes to the warehouse: mark records `_deleted_at`, or remove them with their
child rows (`hard_deletes`).

Written against dlt's sql_client rather than as a dlt resource: marking needs an UPDATE of
rows already loaded, which a merge (whole-row replace) can't express.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt

from .catalogue import CURSOR, Entity
from .layout import DELETED_AT, child_tables
from .walk import utc_stamp
from .warehouse import tables_in

BATCH = 500


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


def mark_deleted(pipeline: dlt.Pipeline, entity: Entity, gone: Sequence[Any], hard: bool) -> int:
    """Mark (or remove) warehouse records of `entity` that the API no longer has."""
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
            if hard:  # the record and its child rows (keyed by its id) in one transaction
                with sql.begin_transaction():
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
    return len(gone)
