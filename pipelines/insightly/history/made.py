"""Versions made in the warehouse, by SQL, from the rows a load wrote.

After each load package (and at a sync's start, for a load a kill left unversioned), the
rows that load wrote to an entity table (`_dlt_load_id`) and its custom field and tag rows
become versions in `<table>__versions` (versions.py has the rules):
- a (record, DATE_UPDATED_UTC) not yet kept is inserted, `_first_run_id` = `_run_id`;
- one kept with another `_version_hash` is replaced in place (two updates in one second:
  the later read wins; `_first_run_id` and a delete's columns stay);
- one kept with the same hash is left alone (the look-back re-read), so it keeps the sync
  that first read it.

Why SQL and not a second pass through Python and dlt: every record and its child rows were
converted, normalised and loaded twice, which nearly halved the local throughput (6,201 ->
3,374 contacts/s at 1M). Here the warehouse copies what it already holds.

Exactly once: only loads recorded as complete in `_dlt_loads` are read (dlt 1.31 commits
each merge job in its own transaction and writes that row last, so a half-loaded package
is never versioned), one load at a time in ascending order, each in one transaction that
also moves the table's mark in `_dlt_insightly_versions` (table, newest load versioned).
A kill in between leaves the mark behind; the next sync's start versions what is after
it. The table is named `_dlt_...` so the models and dbt sources leave it out like dlt's
own bookkeeping.

The hash (`_version_hash`) is md5 over the version's own non-null columns as canonical
text (sql_text.py), the same text on DuckDB and Postgres, so it can also be computed from
a versions row alone: versions written by the earlier Python path (a blake2b of the API's
JSON) are re-hashed this way once, when a table is first seen without a mark.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from insightly.catalogue.entities import CUSTOMFIELDS, Entity
from insightly.catalogue.tables import children
from insightly.history.sql_text import canonical_hash, json_array, json_object
from insightly.history.versions import (
    BOOKKEEPING,
    DELETED_AT,
    DELETED_RUN_ID,
    FIRST_RUN_ID,
    LOAD_ID,
    RUN_ID,
    STAMP,
    TAGS,
    VERSION_HASH,
    versions_table,
)
from insightly.warehouse.introspect import columns_in, tables_in

log = logging.getLogger(__name__)
MARKS = "_dlt_insightly_versions"
NEW = "_insightly_new_versions"  # the temporary table of one load's candidate versions
LOAD_ID_TEXT = re.compile(r"[0-9][0-9.]*")  # dlt load ids are times: 1765090000.123456
# columns of a current table that are not a version's content
NOT_CONTENT = {LOAD_ID, "_dlt_id", DELETED_AT}


def make_versions(
    sql: Any,
    entities: Iterable[Entity],
    run_id: str,
    naming: Any,
    runs: Mapping[str, str] | None = None,
) -> int:
    """Version every complete load after each entity's mark; returns versions written.
    `runs`: the sync that extracted a load (its `_run_id`), where known; else `run_id`."""
    present = tables_in(sql)
    if "_dlt_loads" not in present:
        return 0
    dialect = "postgres" if "postgres" in type(sql).__module__ else "duckdb"
    marks = _marks(sql, present)
    written = 0
    for entity in entities:
        if entity.table not in present:
            continue
        versions = versions_table(entity.table)
        if versions in present and entity.table not in marks:
            _rehash(sql, versions, dialect)  # kept by the earlier Python path: all versioned
            _set_mark(sql, entity.table, _newest_load(sql))
            continue
        job = _Job(sql, entity, naming, dialect, present)
        # no versions table (dropped, held by a full refresh, new): every row is new to it
        loads = job.loads_after(marks.get(entity.table, "") if versions in present else "")
        if versions not in present and not loads:
            job.create_empty(run_id)
        # history that starts now (no versions table) starts with this sync's id
        known = (runs or {}) if versions in present else {}
        for load_id in loads:
            written += job.version(load_id, known.get(load_id, run_id))
    return written


def _marks(sql: Any, present: set[str]) -> dict[str, str]:
    name = sql.make_qualified_table_name(MARKS)
    if MARKS not in present:
        sql.execute_sql(f"create table if not exists {name} (table_name text, load_id text)")
        return {}
    return dict(sql.execute_sql(f"select table_name, load_id from {name}") or [])


def _set_mark(sql: Any, table: str, load_id: str | None) -> None:
    name = sql.make_qualified_table_name(MARKS)
    sql.execute_sql(f"delete from {name} where table_name = %s", table)
    sql.execute_sql(f"insert into {name} values (%s, %s)", table, load_id or "")


def forget_marks(sql: Any, tables: Iterable[str]) -> None:
    """The versions of `tables` were dropped: their marks go too (`--drop-history`)."""
    if MARKS in tables_in(sql):
        name = sql.make_qualified_table_name(MARKS)
        for table in tables:
            sql.execute_sql(f"delete from {name} where table_name = %s", table)


def _of_load(load_id: str | None, alias: str = "") -> str:
    """The rows a load wrote (None: no row); `load_id` was checked against LOAD_ID_TEXT."""
    return f"{alias}{LOAD_ID} = '{load_id}'" if load_id else "false"


def _newest_load(sql: Any) -> str | None:
    loads = sql.make_qualified_table_name("_dlt_loads")
    return sql.execute_sql(f"select max(load_id) from {loads} where status = 0")[0][0]


def _rehash(sql: Any, versions: str, dialect: str) -> None:
    """Versions of the earlier Python path get the SQL hash (their content is unchanged)."""
    columns = columns_in(sql, versions)
    content = {c: t for c, t in columns.items() if c not in BOOKKEEPING}
    name = sql.make_qualified_table_name(versions)
    expr = canonical_hash(content, dialect, sql.escape_column_name)
    sql.execute_sql(f"update {name} set {VERSION_HASH} = {expr}")
    log.info("%s: versions re-hashed in SQL", versions)


class _Job:
    """Versions of one entity table, load by load."""

    def __init__(
        self, sql: Any, entity: Entity, naming: Any, dialect: str, present: set[str]
    ) -> None:
        self.sql, self.entity, self.dialect = sql, entity, dialect
        self.esc = sql.escape_column_name
        self.table = sql.make_qualified_table_name(entity.table)
        self.versions = versions_table(entity.table)
        self.name = sql.make_qualified_table_name(self.versions)
        self.keys = [naming.normalize_identifier(k) for k in entity.primary_key]
        self.columns = columns_in(sql, entity.table)
        self.exists = self.versions in present  # the versions table
        self.lists = {
            c.array: (sql.make_qualified_table_name(c.table), c.key_columns(naming))
            for c in children(entity, naming)
            if c.array in (CUSTOMFIELDS, TAGS) and c.table in present
        }

    def loads_after(self, mark: str) -> list[str]:
        """Complete loads after `mark` that wrote rows to the table, oldest first."""
        if LOAD_ID not in self.columns or STAMP not in self.columns:
            return []
        loads = self.sql.make_qualified_table_name("_dlt_loads")
        rows = self.sql.execute_sql(
            f"select distinct t.{LOAD_ID} from {self.table} as t "
            f"join {loads} as l on l.load_id = t.{LOAD_ID} and l.status = 0 "
            f"where t.{LOAD_ID} > %s order by 1",
            mark,
        )
        return [r[0] for r in rows or []]

    def version(self, load_id: str, run_id: str) -> int:
        """One load's versions and the mark, in one transaction."""
        if not LOAD_ID_TEXT.fullmatch(load_id):  # written into the SQL text below
            raise ValueError(f"unexpected load id {load_id!r}")
        with self.sql.begin_transaction():
            written = self._apply(self._candidates(load_id, run_id))
            _set_mark(self.sql, self.entity.table, load_id)
        return written

    def create_empty(self, run_id: str) -> None:
        """The versions table of an entity with no loaded row yet (the models read it)."""
        with self.sql.begin_transaction():
            self._create(self._candidates(None, run_id))
            self.sql.execute_sql(f"drop table {NEW}")

    def _candidates(self, load_id: str | None, run_id: str) -> dict[str, str]:
        """The rows of the load (None: no row) as versions, in the temporary table NEW;
        returns NEW's columns and their types."""
        esc = self.esc
        content = {c: t for c, t in self.columns.items() if c not in NOT_CONTENT}
        select = [f"c.{esc(c)}" for c in content]
        joins = []
        for array, column in ((CUSTOMFIELDS, "customfields"), (TAGS, "tags")):
            if array not in self.entity.arrays:
                continue
            agg, empty = self._list(array, _of_load(load_id))
            content[column] = "text"
            if agg is None:
                select.append(f"cast('{empty}' as text) as {column}")
                continue
            alias = f"l_{column}"
            on = " and ".join(f"{alias}.{esc(k)} = c.{esc(k)}" for k in self.keys)
            joins.append(f"left join ({agg}) as {alias} on {on}")
            select.append(f"coalesce({alias}.j, '{empty}') as {column}")
        deleted = f" and c.{DELETED_AT} is null" if DELETED_AT in self.columns else ""
        inner = (
            f"select {', '.join(select)}, c.{LOAD_ID} from {self.table} as c "
            f"{' '.join(joins)} where {_of_load(load_id, 'c.')} "
            f"and c.{STAMP} is not null{deleted}"
        )
        digest = canonical_hash(content, self.dialect, esc, prefix="n.")
        self.sql.execute_sql(f"drop table if exists {NEW}")
        self.sql.execute_sql(
            f"create temporary table {NEW} as select n.*, cast(%s as text) as {RUN_ID}, "
            f"cast(%s as text) as {FIRST_RUN_ID}, {digest} as {VERSION_HASH} from ({inner}) as n",
            run_id,
            run_id,
        )
        self._distinct()
        text = {c: "text" for c in (LOAD_ID, RUN_ID, FIRST_RUN_ID, VERSION_HASH)}
        return content | text

    def _distinct(self) -> None:
        """Exact copies of a row (warehouse/integrity.py repairs them after the sync's loads)
        become one candidate. Checked first: DISTINCT over every column cost 15% of the
        step, and copies are rare."""
        keys = ", ".join(self.esc(k) for k in (*self.keys, STAMP))
        rows, distinct = self.sql.execute_sql(
            f"select count(*), count(distinct ({keys})) from {NEW}"
        )[0]
        if rows != distinct:
            copy = f"{NEW}_distinct"
            self.sql.execute_sql(f"create temporary table {copy} as select distinct * from {NEW}")
            self.sql.execute_sql(f"drop table {NEW}")
            self.sql.execute_sql(f"alter table {copy} rename to {NEW}")

    def _list(self, array: str, where: str) -> tuple[str | None, str]:
        """The subquery of one list's JSON text per parent (rows of the load: `where`), and
        the text of an empty list."""
        empty = "{}" if array == CUSTOMFIELDS else "[]"
        if array not in self.lists:
            return None, empty
        table, parent = self.lists[array]
        keys = ", ".join(self.esc(k) for k in parent)
        if array == CUSTOMFIELDS:
            json = json_object("field_name", "field_value", "field_value_type", self.dialect)
        else:
            json = json_array("tag_name", self.dialect)
        renamed = ", ".join(
            f"{self.esc(p)} as {self.esc(k)}" for p, k in zip(parent, self.keys, strict=True)
        )
        return (
            f"select {renamed}, {json} as j from {table} where {where} group by {keys}",
            empty,
        )

    def _create(self, new: dict[str, str]) -> None:
        """The versions table: NEW's columns and the delete's."""
        kinds = {**new, DELETED_AT: "timestamp with time zone", DELETED_RUN_ID: "text"}
        columns = ", ".join(f"{self.esc(c)} {kind}" for c, kind in kinds.items())
        self.sql.execute_sql(f"create table {self.name} ({columns})")
        self.exists = True

    def _apply(self, new: dict[str, str]) -> int:
        """Replace changed versions, insert new ones; returns how many were written."""
        if not self.exists:
            self._create(new)
        have = columns_in(self.sql, self.versions)
        esc, sql = self.esc, self.sql
        for column, kind in new.items():
            if column not in have:
                sql.execute_sql(f"alter table {self.name} add column {esc(column)} {kind}")
        same = " and ".join(f"v.{esc(k)} = n.{esc(k)}" for k in (*self.keys, STAMP))
        kept = [c for c in new if c != FIRST_RUN_ID]
        assign = ", ".join(f"{esc(c)} = n.{esc(c)}" for c in kept)
        changed = sql.execute_sql(
            f"select count(*) from {NEW} as n join {self.name} as v on {same} "
            f"where v.{VERSION_HASH} <> n.{VERSION_HASH}"
        )[0][0]
        if changed:
            target = same.replace("v.", f"{self.name}.")
            sql.execute_sql(
                f"update {self.name} set {assign} from {NEW} as n where {target} "
                f"and {self.name}.{VERSION_HASH} <> n.{VERSION_HASH}"
            )
        cols = ", ".join(esc(c) for c in new)
        inserted = sql.execute_sql(
            f"select count(*) from {NEW} as n where not exists "
            f"(select 1 from {self.name} as v where {same})"
        )[0][0]
        if inserted:
            sql.execute_sql(
                f"insert into {self.name} ({cols}) select {cols} from {NEW} as n "
                f"where not exists (select 1 from {self.name} as v where {same})"
            )
        sql.execute_sql(f"drop table {NEW}")
        return int(changed) + int(inserted)
