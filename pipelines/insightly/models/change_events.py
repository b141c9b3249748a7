"""Change events from the versions tables: the `record_changes` view, and the same events
after a time for `insightly changes` (ops/changes.py).

One event per record per sync: the last version that sync read of the record, against the
version before that sync (`created` when there is none and the sync first read the record,
else `updated` with the fields that differ), and the deletes the history agrees with; a
delete outranks an update in one sync.

Why the windows carry only the key, the stamp and the run ids: they order and number every
version of a table, and DuckDB holds their input in memory. With every column in them, and
each custom field parsed on its own (`_source`), a user's `insightly changes` over 14,285
versions ran out of its 512 MiB. A version's fields are joined back for the events only,
by (key, stamp).

Why `since` narrows records, not events: an event's `changed_at` is the stamp of the last
version a sync read (or when a delete was found), but whether it is `created`, what it
compares with and whether a delete outranks it depend on the record's other versions, older
ones included. So `since` keeps every version of the records with a version or a delete
after it, and nothing else; each window is per record, so their events are the view's
exactly, and a warehouse of millions of versions windows only what changed lately.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from sqlglot import exp

from insightly.history.versions import DELETED_AT, DELETED_RUN_ID, FIRST_RUN_ID, RUN_ID
from insightly.models import custom_fields as cf
from insightly.models.dialects import dialect_of, parse
from insightly.models.history_sql import (
    SAFE_FIELD,
    STAMP,
    data_columns,
    deleted,
    history_tables,
    lit,
    q,
    versions_with_current,
)
from insightly.models.raw import RawSchema

CUSTOMFIELDS = "customfields"  # a version's custom fields, as JSON (history/versions.py)
COLUMNS = ("changed_at", "entity", "record_id", "change", "changed_fields", "run_id")
EMPTY_CHANGES = """
    select cast(null as text) as entity, cast(null as bigint) as record_id,
        cast(null as text) as change, cast(null as timestamptz) as changed_at,
        cast(null as text) as run_id, cast(null as text) as changed_fields
    where 1 = 0
"""


def stamp_sql(since: datetime) -> str:
    """A timestamptz literal (from a datetime, never from user text)."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return f"cast({lit(since.astimezone(timezone.utc).isoformat(sep=' '))} as timestamptz)"


def _named(fields: Sequence[cf.CustomField]) -> list[cf.CustomField]:
    """The custom fields compared, in a fixed order (names safe in a JSON path)."""
    return [f for f in sorted(fields, key=lambda f: f.field_name) if SAFE_FIELD.match(f.field_name)]


def _source(raw: RawSchema, versions: str, fields: Sequence[cf.CustomField], duckdb: bool) -> str:
    """The versions table, for the event's version (n) and the one before (b). On DuckDB
    with custom fields, with `_cfl`: every field's value, each JSON parsed once, next to the
    scan. Parsed after the joins (once per field, or as a list), DuckDB's memory for parsed
    JSON grew with every event: 1.6 GB for 25,000 events of 16 fields."""
    named = _named(fields)
    if not (duckdb and named and CUSTOMFIELDS in raw.columns(versions)):
        return f"raw.{q(versions)}"
    paths = f"[{', '.join(lit(f'$.{f.field_name}') for f in named)}]"
    return (
        f"(select v.*, json_extract_string(v.{q(CUSTOMFIELDS)}, {paths}) as _cfl "
        f"from raw.{q(versions)} as v)"
    )


def _custom_fields_changed(fields: Sequence[cf.CustomField], duckdb: bool) -> str:
    """The labels of the custom fields that differ between versions n and b (NULL: none),
    compared only where the JSON texts differ."""
    named = _named(fields)
    if not named:
        return "cast(null as text)"
    parts = []
    for i, f in enumerate(named, 1):
        if duckdb:
            a, b = f"n._cfl[{i}]", f"b._cfl[{i}]"
        else:
            path = lit(f"$.{f.field_name}")
            a, b = (
                f"json_extract_string(cast({v}.{q(CUSTOMFIELDS)} as json), {path})" for v in "nb"
            )
        parts.append(f"case when {a} is distinct from {b} then {lit(f.label or f.field_name)} end")
    col = q(CUSTOMFIELDS)
    return (
        f"case when n.{col} is distinct from b.{col} "
        f"then nullif(concat_ws(', ', {', '.join(parts)}), '') end"
    )


def _changed_fields(
    raw: RawSchema,
    versions: str,
    keys: Sequence[str],
    fields: Sequence[cf.CustomField],
    duckdb: bool,
) -> str:
    """`a, b, Label` : the columns of version n that differ from version b (NULL: none)."""
    parts = []
    for col in data_columns(raw, versions, keys):
        if col == CUSTOMFIELDS and fields:
            parts.append(_custom_fields_changed(fields, duckdb))
        else:
            parts.append(f"case when n.{q(col)} is distinct from b.{q(col)} then {lit(col)} end")
    if not parts:
        return "cast(null as text)"
    return f"nullif(concat_ws(', ', {', '.join(parts)}), '')"


def _touched(raw: RawSchema, versions: str, keys: Sequence[str], since: str) -> str:
    """True on a version (alias v) of a record with a version or a delete after `since`."""
    same = " and ".join(f"t.{q(k)} = v.{q(k)}" for k in keys)
    after = f"t.{q(STAMP)} > {since}"
    if DELETED_AT in raw.columns(versions):
        after = f"({after} or t.{q(DELETED_AT)} > {since})"
    return f"exists (select 1 from raw.{q(versions)} as t where {same} and {after})"


def _changes_of(
    raw: RawSchema,
    table: str,
    versions: str,
    keys: Sequence[str],
    fields: Sequence[cf.CustomField],
    duckdb: bool,
    since: str | None = None,
) -> str:
    """The events of one entity (all, or those of the records `since` keeps).

    A version whose content a later sync replaced (a second update in the same second)
    counts for both syncs: the one that first read its stamp (`_first_run_id`) and the one
    that read its content (`_run_id`); both compare with the version before the stamp.
    `created` is the first version's first read only: the sync that replaced its content
    saw an update of a record that existed (no version before it: no changed fields).
    An update at or before `since` is left out early: in its sync it is the only update of
    the record, so it either loses to a delete or is filtered out anyway.
    """
    key = keys[0]
    part = ", ".join(q(k) for k in keys)
    run = f"partition by {part}, _ev"
    narrow = [*keys, STAMP, RUN_ID]
    if FIRST_RUN_ID in raw.columns(versions):
        narrow.append(FIRST_RUN_ID)
    events = f"select s.*, s.{q(RUN_ID)} as _ev from s"
    first_read = f"e.{q(RUN_ID)}"
    if FIRST_RUN_ID in narrow:
        first_read = f"coalesce(e.{q(FIRST_RUN_ID)}, e.{q(RUN_ID)})"
        events += (
            f" union all select s.*, s.{q(FIRST_RUN_ID)} from s "
            f"where s.{q(FIRST_RUN_ID)} <> s.{q(RUN_ID)}"
        )
    touched = f"and {_touched(raw, versions, keys, since)}" if since else ""
    recent = f"and r.{q(STAMP)} > {since}" if since else ""
    source = _source(raw, versions, fields, duckdb)
    on_new = " and ".join(f"n.{q(k)} = r.{q(k)}" for k in keys)
    on_base = " and ".join(f"b.{q(k)} = r.{q(k)}" for k in keys)
    return f"""
        with s as (
            select {", ".join(f"v.{q(c)}" for c in narrow)},
                lag(v.{q(STAMP)}) over (partition by {part} order by v.{q(STAMP)}) as _prev
            from raw.{q(versions)} as v where true {touched}
        ),
        r as (
            select e.*,
                row_number() over ({run} order by {q(STAMP)} desc) as _n,
                case when count(*) over ({run}) = count(e._prev) over ({run})
                    then min(e._prev) over ({run}) end as _base,
                max(case when e._prev is null and e._ev = {first_read} then 1 else 0 end)
                    over ({run}) as _created
            from ({events}) as e
        )
        select {lit(table)} as entity, cast(r.{q(key)} as bigint) as record_id,
            case when r._created = 1 then 'created' else 'updated' end as change,
            r.{q(STAMP)} as changed_at, r._ev as run_id,
            case when r._base is null then cast(null as text)
                else {_changed_fields(raw, versions, keys, fields, duckdb)} end as changed_fields
        from r
        join {source} as n on {on_new} and n.{q(STAMP)} = r.{q(STAMP)}
        left join {source} as b on {on_base} and b.{q(STAMP)} = r._base
        where r._n = 1 {recent}
        union all
        select {lit(table)}, cast(v.{q(key)} as bigint), 'deleted', v.{q(DELETED_AT)},
            v.{q(DELETED_RUN_ID)}, cast(null as text)
        from {versions_with_current(raw, table, versions, keys)}
        where {deleted(raw, table, keys)} {touched}
    """


def _ranked(parts: list[str]) -> str:
    """One event per record per sync out of the entities' events."""
    if not parts:
        return EMPTY_CHANGES
    union = " union all ".join(f"({p})" for p in parts)
    return f"""
        select entity, record_id, change, changed_at, run_id, changed_fields
        from (
            select e.*, row_number() over (
                partition by e.entity, e.record_id, e.run_id
                order by case when e.change = 'deleted' then 0 else 1 end, e.changed_at desc
            ) as _n
            from ({union}) as e
        ) as ranked
        where _n = 1
    """


def record_changes(
    raw: RawSchema, fields: dict[str, list[cf.CustomField]], destination: str | None = None
) -> exp.Expression:
    """Each record represents what one sync saw happen to one record: created, updated
    (with the fields that changed) or deleted; a delete outranks an update in one sync."""
    duckdb = destination is not None and dialect_of(destination) == "duckdb"
    parts = [
        _changes_of(raw, table, versions, keys, fields.get(table, []), duckdb)
        for table, versions, keys in history_tables(raw)
    ]
    return parse(_ranked(parts))


def changes_after(
    raw: RawSchema,
    fields: dict[str, list[cf.CustomField]],
    since: datetime,
    entity: str | None = None,
    destination: str | None = None,
) -> exp.Expression:
    """`record_changes`' events after `since` (of one entity table, or all), oldest first,
    in COLUMNS' order; only the versions of records changed after `since` are read."""
    after = stamp_sql(since)
    duckdb = destination is not None and dialect_of(destination) == "duckdb"
    parts = [
        _changes_of(raw, table, versions, keys, fields.get(table, []), duckdb, after)
        for table, versions, keys in history_tables(raw)
        if entity is None or table == entity
    ]
    return parse(f"""
        select {", ".join(COLUMNS)} from ({_ranked(parts)}) as events
        where changed_at > {after}
        order by changed_at, entity, record_id
    """)
