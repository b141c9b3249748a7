"""What the history needs of the warehouse outside a load: closing, keeping, dropping.

- `close_versions`: the id check (deletes/check.py) found records deleted; their last version
  gets `_deleted_at` and `_deleted_run_id`, in the same transaction that marks or removes
  the records, so the history never says a record exists that the copy says is gone.
- `--full-refresh` drops and re-reads the selected tables, and dlt drops every table of
  a resource, its versions included. History is kept: before the refresh each versions
  table is renamed `<table>__versions_held`; after the load the held rows go back (a
  version re-read unchanged keeps the sync that first read it). A sync killed in between
  finds the held table at its start and puts it back.
- `_first_run_id`: the sync that first read a stamp. dlt's merge rewrites every column it
  knows when a same-second update replaces a version's content, so this column is added
  here, outside dlt's schema, and filled after the loads (and at the next sync's start,
  should a kill come in between): the sync that first read the stamp keeps its event.
- `--drop-history` drops the versions tables (and any held ones) from the warehouse and
  from dlt's schema; versions start again with this sync's reads.

Written against dlt's sql_client: renaming, updating rows in place and moving rows
between tables are no load (dlt's loads only merge, append or replace).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt
import pendulum

from insightly.api.stamps import utc_stamp
from insightly.history.versions import (
    DELETED_AT,
    DELETED_RUN_ID,
    FIRST_RUN_ID,
    RUN_ID,
    VERSION_HASH,
    current_run,
    is_versions_table,
    parse_entities,
    versions_table,
)
from insightly.warehouse.introspect import columns_in, tables_in, tables_with_columns

log = logging.getLogger(__name__)
HELD_SUFFIX = "_held"
EPOCH = "1970-01-02 00:00:00"  # "from the start": before any Insightly record
STAMP = "date_updated_utc"


def close_versions(sql: Any, entity: Any, ids: Sequence[Any]) -> None:
    """Close the last version of each record in `ids` (deleted now, by this sync).

    Call it inside the transaction that marks or removes the records. A version already
    closed stays as it was (the first detection counts).
    """
    table = versions_table(entity.table)
    if not ids or table not in tables_in(sql):
        return
    name = sql.make_qualified_table_name(table)
    key = sql.escape_column_name(entity.primary_key[0].lower())
    marks = ", ".join(["%s"] * len(ids))
    last = f"select {key}, max({STAMP}) from {name} where {key} in ({marks}) group by {key}"
    sql.execute_sql(
        f"update {name} set {DELETED_AT} = %s, {DELETED_RUN_ID} = %s "
        f"where ({key}, {STAMP}) in ({last}) and {DELETED_AT} is null",
        datetime.now(timezone.utc),
        current_run.get(),
        *ids,
    )


def begin_history(
    pipeline: dlt.Pipeline, stats: Any, tables: Sequence[str], options: Any, settings: Any
) -> None:
    """Before a sync's runs: remember the sync (for closing versions), put back history
    held by a killed full refresh, drop it (`--drop-history`), start it where a table has
    none (`seed_history`), and hold it out of a full refresh's way."""
    current_run.set(stats.sync)
    end_history(pipeline)
    if options.drop_history:
        drop_history(pipeline)
    seed_history(pipeline, stats, tables, options.start_date, settings)
    if options.full_refresh:
        hold_history(pipeline, tables)


def seed_history(
    pipeline: dlt.Pipeline,
    stats: Any,
    tables: Sequence[str],
    start_date: str | None,
    settings: Any,
) -> list[str]:
    """A loaded table that keeps history but has no versions table (history just switched
    on, an upgrade, `--drop-history`) is read again from the start date, once: its versions
    begin with every record as it is now, not only with those that change later. Costs one
    full read of the table; the current table is merged with what it already holds."""
    wanted = parse_entities(settings.history_entities)
    present = _warehouse(pipeline)
    start = start_date or settings.start_date
    since = utc_stamp(pendulum.parse(str(start), tz="UTC")) if start else EPOCH
    seeded = []
    for table in tables:
        versions = versions_table(table)
        if table not in stats.incremental or table not in present:
            continue
        if (wanted is None or table in wanted) and {versions, _held(versions)}.isdisjoint(present):
            stats.rewind[table] = since
            seeded.append(table)
    if seeded:
        log.warning("history starts for %s: read once from %s", ", ".join(seeded), since)
    return seeded


def end_history(pipeline: dlt.Pipeline) -> None:
    """After a sync's loads: put held history back, stamp the first reads."""
    restore_history(pipeline)
    stamp_first_reads(pipeline)


def stamp_first_reads(pipeline: dlt.Pipeline) -> None:
    """`_first_run_id` = `_run_id` on versions loaded since the last time (see module doc)."""
    present = _warehouse(pipeline)
    tables = sorted(t for t in present if is_versions_table(t))
    if not tables:
        return
    with pipeline.sql_client() as sql:
        stamped = tables_with_columns(sql, FIRST_RUN_ID)
        for table in tables:
            name = sql.make_qualified_table_name(table)
            if table not in stamped:
                sql.execute_sql(f"alter table {name} add column {FIRST_RUN_ID} text")
            sql.execute_sql(
                f"update {name} set {FIRST_RUN_ID} = {RUN_ID} where {FIRST_RUN_ID} is null"
            )


def _held(table: str) -> str:
    return f"{table}{HELD_SUFFIX}"


def _warehouse(pipeline: dlt.Pipeline) -> set[str]:
    try:
        with pipeline.sql_client() as sql:
            return tables_in(sql)
    except Exception:  # no dataset yet
        return set()


def hold_history(pipeline: dlt.Pipeline, tables: Iterable[str]) -> list[str]:
    """Rename the versions tables of `tables` out of the refresh's way."""
    present = _warehouse(pipeline)
    held = []
    with pipeline.sql_client() as sql:
        for table in sorted(tables):
            versions = versions_table(table)
            if versions in present and _held(versions) not in present:
                name = sql.make_qualified_table_name(versions)
                held_name = sql.escape_column_name(_held(versions))
                sql.execute_sql(f"alter table {name} rename to {held_name}")
                held.append(versions)
    return held


def restore_history(pipeline: dlt.Pipeline) -> list[str]:
    """Put held versions back: into the versions table the refresh loaded, or in its place
    when the refresh loaded none."""
    present = _warehouse(pipeline)
    restored = []
    for held in sorted(t for t in present if t.endswith(HELD_SUFFIX)):
        versions = held[: -len(HELD_SUFFIX)]
        if not is_versions_table(versions):
            continue
        with pipeline.sql_client() as sql:
            if versions in present:
                _merge_back(pipeline, sql, held, versions)
            else:
                name = sql.make_qualified_table_name(held)
                sql.execute_sql(f"alter table {name} rename to {sql.escape_column_name(versions)}")
        restored.append(versions)
    return restored


def _merge_back(pipeline: dlt.Pipeline, sql: Any, held: str, versions: str) -> None:
    """Held rows win where the refresh re-read the same content (they know which sync read
    it first); the refresh's row wins where the content differs; the rest are added. A
    column only the held rows have is added, so no value is lost."""
    keys = [
        n
        for n, c in pipeline.default_schema.tables.get(versions, {}).get("columns", {}).items()
        if c.get("primary_key")
    ]
    if not keys:
        log.warning("%s: primary key unknown; held history left in %s", versions, held)
        return
    old, new = columns_in(sql, held), columns_in(sql, versions)
    h, v = sql.make_qualified_table_name(held), sql.make_qualified_table_name(versions)
    esc = sql.escape_column_name
    key = ", ".join(esc(k) for k in keys)
    with sql.begin_transaction():
        for name, data_type in old.items():
            if name not in new:
                sql.execute_sql(f"alter table {v} add column {esc(name)} {data_type}")
        sql.execute_sql(
            f"delete from {v} where ({key}, {VERSION_HASH}) in "
            f"(select {key}, {VERSION_HASH} from {h})"
        )
        cols = ", ".join(esc(c) for c in old)
        sql.execute_sql(
            f"insert into {v} ({cols}) select {cols} from {h} "
            f"where ({key}) not in (select {key} from {v})"
        )
        sql.execute_sql(f"drop table {h}")


def drop_history(pipeline: dlt.Pipeline) -> list[str]:
    """Drop every versions table (held ones too) from the warehouse and dlt's schema.

    The schema versions dlt stored in the destination go too (as dlt's own drop command
    does): a later load whose schema hashes like a stored one would skip creating the
    tables again."""
    present = _warehouse(pipeline)
    dropped = sorted(
        t for t in present if is_versions_table(t) or is_versions_table(t[: -len(HELD_SUFFIX)])
    )
    if not dropped or not pipeline.default_schema_name:
        return dropped
    schema = pipeline.default_schema
    known = [t for t in schema.tables if is_versions_table(t)]
    if known:
        schema.drop_tables(known)
        schema._bump_version()
        pipeline.schemas.save_schema(schema)
    with pipeline.destination_client() as client:
        client.drop_tables(*dropped, delete_schema=True)
    pipeline.sync_schema()
    return dropped
