"""What the history needs of the warehouse outside a load: closing, keeping, dropping.

- `close_versions`: the id check (deletes/check.py) found records deleted; their last version
  gets `_deleted_at` and `_deleted_run_id`, in the same transaction that marks or removes
  the records, so the history never says a record exists that the copy says is gone.
- `version_loads`: the versions of each complete load (made.py), after every load and, for
  one a kill left unversioned, at the next sync's start.
- `--full-refresh` drops and re-reads the selected tables (dlt drops every table of a
  resource, and a versions table loaded by the earlier Python path is one). History is
  kept: before the refresh each versions table is renamed `<table>__versions_held`; after
  the load the held rows go back (a version re-read unchanged keeps the sync that first
  read it). A sync killed in between finds the held table at its start and puts it back.
- `_first_run_id`: the sync that first read a stamp. made.py sets it; on versions the
  earlier Python path loaded (dlt's merge rewrote every column it knew) it is added and
  filled here.
- `--drop-history` drops the versions tables (and any held ones) from the warehouse and
  from dlt's schema; versions start again from the current rows.

Written against dlt's sql_client: renaming, updating rows in place and moving rows
between tables are no load (dlt's loads only merge, append or replace).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

from insightly.catalogue.entities import Entity
from insightly.history.made import forget_marks, make_versions
from insightly.history.versions import (
    DELETED_AT,
    DELETED_RUN_ID,
    FIRST_RUN_ID,
    RUN_ID,
    STAMP,
    VERSION_HASH,
    current_run,
    entity_table_of,
    is_versions_table,
    versions_table,
)
from insightly.warehouse.integrity import local_state
from insightly.warehouse.introspect import columns_in, tables_in, tables_with_columns

log = logging.getLogger(__name__)
HELD_SUFFIX = "_held"
NAMING = NamingConvention()  # dlt's default, the one the pipeline loads with


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
    pipeline: dlt.Pipeline, stats: Any, entities: Sequence[Entity], options: Any
) -> None:
    """Before a sync's runs: remember the sync (for closing versions), put back history
    held by a killed full refresh, drop it (`--drop-history`), version what a killed sync
    loaded and did not version, and hold history out of a full refresh's way.

    A loaded table that keeps history but has no versions table (history just switched
    on, an upgrade, `--drop-history`) gets one from its current rows: its versions begin
    with every record as the warehouse holds it, with no request to the API."""
    current_run.set(stats.sync)
    end_history(pipeline, entities)
    if options.drop_history:
        drop_history(pipeline)
    version_loads(pipeline, entities, stats.sync)
    if options.full_refresh:
        hold_history(pipeline, [e.table for e in entities])


LOAD_RUNS = "insightly_load_runs"  # local state: load id -> the sync that extracted it
KEPT_LOAD_RUNS = 100


def remember_runs(pipeline: dlt.Pipeline, run_id: str) -> None:
    """Note which sync extracted the packages waiting to load, before they load: a load a
    kill left unversioned is versioned at the next start as the extracting sync's, as its
    rows would have said when versions were extracted with them."""
    runs = dict(local_state(pipeline, LOAD_RUNS) or {})
    new = {i: run_id for i in pipeline.list_extracted_load_packages() if i not in runs}
    new |= {i: run_id for i in pipeline.list_normalized_load_packages() if i not in runs}
    if new:
        runs |= new
        kept = sorted(runs)[-KEPT_LOAD_RUNS:]
        pipeline.set_local_state_val(LOAD_RUNS, {i: runs[i] for i in kept})


def tables_of(info: Any) -> set[str]:
    """The tables a pipeline run loaded rows into (its completed jobs)."""
    return {
        job.job_file_info.table_name
        for package in info.load_packages
        for job in package.jobs.get("completed_jobs", [])
    }


def version_loads(pipeline: dlt.Pipeline, entities: Sequence[Entity], run_id: str) -> int:
    """The versions of every complete load not yet versioned (made.py); versions written."""
    work = _versions_work(pipeline, entities, run_id)
    return work() if work is not None else 0


def _versions_work(
    pipeline: dlt.Pipeline, entities: Sequence[Entity], run_id: str
) -> Callable[[], int] | None:
    """`version_loads` as a call that touches only the warehouse: the sql client and the
    state are taken now (dlt's pipeline and schema objects are not safe across threads)."""
    if not entities or not pipeline.default_schema_name:
        return None
    try:
        client = pipeline.sql_client()
    except Exception:  # no destination dataset yet
        return None
    runs = dict(local_state(pipeline, LOAD_RUNS) or {})

    def work() -> int:
        with client as sql:
            return make_versions(sql, entities, run_id, NAMING, runs)

    return work


class VersionsBehind:
    """A load's versions made in a thread while the next chunk of a large read is extracted
    and normalized, which use no warehouse: on a 1M-contact load the versions took about
    2 s of each 100k chunk's 13 s, and DuckDB runs them on the core the extract (bound by
    the GIL) leaves. `wait` before anything else touches the warehouse: the next load, the
    checks after the loads."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, pipeline: dlt.Pipeline, entities: Sequence[Entity], run_id: str) -> None:
        self.wait()
        work = _versions_work(pipeline, entities, run_id)
        if work is None:
            return

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # raised again by wait(), in the sync's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name="insightly-versions")
        self._thread.start()

    def wait(self, raise_error: bool = True) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        error, self._error = self._error, None
        if error is not None and raise_error:
            raise error


def end_history(pipeline: dlt.Pipeline, entities: Sequence[Entity] = ()) -> None:
    """After a sync's loads: put held history back, stamp the first reads."""
    restore_history(pipeline, entities)
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


def restore_history(pipeline: dlt.Pipeline, entities: Sequence[Entity] = ()) -> list[str]:
    """Put held versions back: into the versions table the refresh loaded, or in its place
    when the refresh loaded none."""
    present = _warehouse(pipeline)
    keys = {versions_table(e.table): _keys(e) for e in entities}
    restored = []
    for held in sorted(t for t in present if t.endswith(HELD_SUFFIX)):
        versions = held[: -len(HELD_SUFFIX)]
        if not is_versions_table(versions):
            continue
        with pipeline.sql_client() as sql:
            if versions in present:
                _merge_back(
                    sql, held, versions, keys.get(versions) or _schema_keys(pipeline, versions)
                )
            else:
                name = sql.make_qualified_table_name(held)
                sql.execute_sql(f"alter table {name} rename to {sql.escape_column_name(versions)}")
        restored.append(versions)
    return restored


def _keys(entity: Entity) -> list[str]:
    """A versions table's key: the record's key and its stamp."""
    return [*(NAMING.normalize_identifier(k) for k in entity.primary_key), STAMP]


def _schema_keys(pipeline: dlt.Pipeline, versions: str) -> list[str]:
    """The key dlt's schema knows for a versions table the earlier Python path loaded."""
    columns = pipeline.default_schema.tables.get(versions, {}).get("columns", {})
    return [n for n, c in columns.items() if c.get("primary_key")]


def _merge_back(sql: Any, held: str, versions: str, keys: list[str]) -> None:
    """Held rows win where the refresh re-read the same content (they know which sync read
    it first); the refresh's row wins where the content differs; the rest are added. A
    column only the held rows have is added, so no value is lost."""
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
    with pipeline.sql_client() as sql:
        forget_marks(sql, [entity_table_of(t) for t in dropped if is_versions_table(t)])
    pipeline.sync_schema()
    return dropped
