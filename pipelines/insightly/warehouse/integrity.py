"""A check after every load that each table holds one row per key.

Our crash test (SIGKILL at random moments, `tests/test_crash.py`) found, in about one
run in five of 20 kills, rows of one load package inserted twice after a killed load was
resumed. The root cause inside dlt 1.31's load step is not understood, so this module
detects the case and repairs the only form it has taken: exact copies, which are collapsed
to one. Rows that share a key but differ are reported, not guessed at.

The key of a table is its primary key in the dlt schema: the entity's primary key for an
entity table, (parent key, `_position`) for a child table (catalogue/tables.py).

Only loads add copies, so a table checked once is checked again only for the keys of rows
loaded since: `_dlt_load_id` after the newest load recorded when it was last checked (in
the pipeline's local state; a load the check did not see, a resumed one included, has a
newer id). A 1% incremental sync looks at 1% of the keys instead of counting 1.6M custom
field rows. Without that mark (a first check, a new working directory) the whole table is
checked, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import dlt

from insightly.warehouse.introspect import tables_in

log = logging.getLogger(__name__)


def key_columns(pipeline: dlt.Pipeline, table: str) -> list[str]:
    """The table's primary key columns, from the pipeline's schema."""
    columns = pipeline.default_schema.tables.get(table, {}).get("columns", {})
    return [name for name, column in columns.items() if column.get("primary_key")]


CHECKED = "insightly_copies_checked"  # local state: table -> the newest load id checked


def repair_exact_copies(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, int]:
    """Collapse exact copies of rows in the given tables and their child tables.

    Returns the number of surplus rows removed per table (only tables that had any).
    """
    repaired: dict[str, int] = {}
    checked = dict(local_state(pipeline, CHECKED) or {})
    with pipeline.sql_client() as sql:
        existing = tables_in(sql)
        wanted = set(tables)
        names = sorted(t for t in existing if t in wanted or t.split("__", 1)[0] in wanted)
        loads = sql.make_qualified_table_name(pipeline.default_schema.loads_table_name)
        newest = sql.execute_sql(f"select max(load_id) from {loads}")[0][0]
        for table in names:
            keys = key_columns(pipeline, table)
            if not keys:
                continue
            columns = pipeline.default_schema.tables[table].get("columns", {})
            since = checked.get(table) if "_dlt_load_id" in columns else None
            removed = _collapse(sql, table, ", ".join(f'"{k}"' for k in keys), since)
            if removed:
                repaired[table] = removed
                log.warning("%s: removed %d exact duplicate rows", table, removed)
            if newest is not None and "_dlt_load_id" in columns:
                checked[table] = newest
    pipeline.set_local_state_val(CHECKED, checked)
    return repaired


def local_state(pipeline: dlt.Pipeline, key: str) -> Any:
    """A value of the pipeline's local state (this machine only), None when unset."""
    try:
        return pipeline.get_local_state_val(key)
    except KeyError:
        return None


def _collapse(sql: Any, table: str, keys: str, since: str | None = None) -> int:
    """Collapse the table's exact copies; `since`: only keys of rows loaded after that load
    can have any."""
    name = sql.make_qualified_table_name(table)
    count = f"select count(*) - count(distinct ({keys})) from {name}"
    if since is not None:
        recent = f"select {keys} from {name} where _dlt_load_id > %s"
        found = sql.execute_sql(f"{count} where ({keys}) in ({recent})", since)[0][0]
        if not found:
            return 0
    surplus = sql.execute_sql(count)[0][0]
    if not surplus:
        return 0
    copies = f"select {keys} from {name} group by {keys} having count(*) > 1"
    with sql.begin_transaction():
        sql.execute_sql(
            f"create temporary table _insightly_copies as "
            f"select distinct * from {name} where ({keys}) in ({copies})"
        )
        sql.execute_sql(f"delete from {name} where ({keys}) in ({copies})")
        sql.execute_sql(f"insert into {name} select * from _insightly_copies")
        sql.execute_sql("drop table _insightly_copies")
    left = sql.execute_sql(count)[0][0]
    if left:
        log.error("%s: %d rows share a key with different values; left as they are", table, left)
    return int(surplus - left)
