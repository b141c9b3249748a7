"""The history views over the raw `<table>__versions` tables (history/versions.py), in staging.

- `<table>_history`: one row per version, the SCD2 shape of Fivetran's history models:
  the record's key, its fields, `valid_from` (the version's DATE_UPDATED_UTC), `valid_to`
  (the next version's, the time the record was found deleted, or NULL while current),
  `is_current`, and the sync that first read it (`run_id`).
- `record_changes`: one event per record per sync (created, updated or deleted) with the
  columns (custom fields by label) that differ from the record's version before that sync.
- `opportunity_stage_history`: the stages an opportunity was in while open, from its
  versions (`is_approximated`: entered before history began, so `entered_at` is the last
  change the first sync saw, not the move into the stage).

Written once in DuckDB's dialect as text and rendered for the destination by sqlglot, like
the hand-written models. The staging schema is rebuilt on every model build; the versions
themselves live only in the raw dataset.

A version closed by a delete counts as deleted only while the current table agrees (the
row is gone, or marked `_deleted_at`): a record the id check marked wrongly and a later
read brought back is current again in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from insightly.catalogue.tables import POSITION
from insightly.history.versions import (
    DELETED_AT,
    DELETED_RUN_ID,
    FIRST_RUN_ID,
    RUN_ID,
    VERSION_HASH,
    entity_table_of,
    is_versions_table,
)
from insightly.models import custom_fields as cf
from insightly.models.dialects import parse
from insightly.models.raw import NAMING, RawSchema, entity_of

STAMP = "date_updated_utc"
BOOKKEEPING = {RUN_ID, FIRST_RUN_ID, VERSION_HASH, DELETED_AT, DELETED_RUN_ID, "_dlt_load_id"}
BOOKKEEPING.add(POSITION)
SAFE_FIELD = re.compile(r"^[A-Za-z0-9_]+$")
Create = Callable[[str, str, Any], bool]  # False: the view failed (recorded)


def q(name: str) -> str:
    """A quoted identifier in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def history_tables(raw: RawSchema) -> list[tuple[str, str, list[str]]]:
    """(entity table, versions table, key columns) of each versions table with its entity."""
    out = []
    for name in sorted(raw.tables):
        if not is_versions_table(name):
            continue
        table = entity_table_of(name)
        entity = entity_of(table)
        if entity is None or not raw.has(table):
            continue
        keys = [NAMING.normalize_identifier(k) for k in entity.primary_key]
        if set(keys) | {STAMP} <= raw.columns(name):
            out.append((table, name, keys))
    return out


def _data_columns(raw: RawSchema, versions: str, keys: Sequence[str]) -> list[str]:
    cols = raw.columns(versions) - BOOKKEEPING - set(keys) - {STAMP}
    return sorted(c for c in cols if not c.startswith("_dlt"))


def _deleted(raw: RawSchema, table: str, keys: Sequence[str]) -> str:
    """True on a version closed by a delete that the current table agrees with (alias v for
    the version, c for the current row, joined on the key)."""
    gone = f"c.{q(keys[0])} is null"
    if DELETED_AT in raw.columns(table):
        gone = f"({gone} or c.{q(DELETED_AT)} is not null)"
    return f"(v.{q(DELETED_AT)} is not null and {gone})"


def _versions_with_current(raw: RawSchema, table: str, versions: str, keys: Sequence[str]) -> str:
    join = " and ".join(f"c.{q(k)} = v.{q(k)}" for k in keys)
    return f"raw.{q(versions)} as v left join raw.{q(table)} as c on {join}"


def history_view(raw: RawSchema, table: str, versions: str, keys: Sequence[str]) -> exp.Expression:
    """Each record represents one version of one record, valid from its stamp to the next."""
    part = ", ".join(f"v.{q(k)}" for k in keys)
    nxt = f"lead(v.{q(STAMP)}) over (partition by {part} order by v.{q(STAMP)})"
    deleted = _deleted(raw, table, keys)
    cols = [f"v.{q(c)}" for c in (*keys, *_data_columns(raw, versions, keys), STAMP)]
    sql = f"""
        select {", ".join(cols)},
            v.{q(STAMP)} as valid_from,
            coalesce({nxt}, case when {deleted} then v.{q(DELETED_AT)} end) as valid_to,
            ({nxt} is null and not {deleted}) as is_current,
            v.{q(RUN_ID)} as run_id
        from {_versions_with_current(raw, table, versions, keys)}
    """
    return parse(sql)


def _changed_fields(
    raw: RawSchema, versions: str, keys: Sequence[str], fields: Sequence[cf.CustomField]
) -> str:
    """`a, b, Label` : the columns of version r that differ from version b (NULL: none)."""
    parts = []
    for col in _data_columns(raw, versions, keys):
        if col == "customfields" and fields:
            for f in sorted(fields, key=lambda f: f.field_name):
                if not SAFE_FIELD.match(f.field_name):
                    continue
                path = lit(f"$.{f.field_name}")
                a = f"json_extract_string(cast(r.{q(col)} as json), {path})"
                b = f"json_extract_string(cast(b.{q(col)} as json), {path})"
                parts.append(
                    f"case when {a} is distinct from {b} then {lit(f.label or f.field_name)} end"
                )
            continue
        parts.append(f"case when r.{q(col)} is distinct from b.{q(col)} then {lit(col)} end")
    if not parts:
        return "cast(null as text)"
    return f"nullif(concat_ws(', ', {', '.join(parts)}), '')"


def _changes_of(
    raw: RawSchema, table: str, versions: str, keys: Sequence[str], fields: Sequence[cf.CustomField]
) -> str:
    """The events of one entity: the last version each sync read of each record, against
    the version before that sync; and the deletes the history agrees with.

    A version whose content a later sync replaced (a second update in the same second)
    counts for both syncs: the one that first read its stamp (`_first_run_id`) and the one
    that read its content (`_run_id`); both compare with the version before the stamp.
    """
    key = keys[0]
    part = ", ".join(q(k) for k in keys)
    run = f"partition by {part}, _ev"
    on_base = " and ".join(f"b.{q(k)} = r.{q(k)}" for k in keys)
    events = f"select s.*, s.{q(RUN_ID)} as _ev from s"
    if FIRST_RUN_ID in raw.columns(versions):
        events += (
            f" union all select s.*, s.{q(FIRST_RUN_ID)} from s "
            f"where s.{q(FIRST_RUN_ID)} <> s.{q(RUN_ID)}"
        )
    return f"""
        with s as (
            select v.*, lag(v.{q(STAMP)}) over (partition by {part} order by v.{q(STAMP)})
                as _prev
            from raw.{q(versions)} as v
        )
        select {lit(table)} as entity, cast(r.{q(key)} as bigint) as record_id,
            case when r._base is null then 'created' else 'updated' end as change,
            r.{q(STAMP)} as changed_at, r._ev as run_id,
            case when r._base is null then cast(null as text)
                else {_changed_fields(raw, versions, keys, fields)} end as changed_fields
        from (
            select e.*,
                row_number() over ({run} order by {q(STAMP)} desc) as _n,
                case when count(*) over ({run}) = count(e._prev) over ({run})
                    then min(e._prev) over ({run}) end as _base
            from ({events}) as e
        ) as r
        left join raw.{q(versions)} as b on {on_base} and b.{q(STAMP)} = r._base
        where r._n = 1
        union all
        select {lit(table)}, cast(v.{q(key)} as bigint), 'deleted', v.{q(DELETED_AT)},
            v.{q(DELETED_RUN_ID)}, cast(null as text)
        from {_versions_with_current(raw, table, versions, keys)}
        where {_deleted(raw, table, keys)}
    """


EMPTY_CHANGES = """
    select cast(null as text) as entity, cast(null as bigint) as record_id,
        cast(null as text) as change, cast(null as timestamptz) as changed_at,
        cast(null as text) as run_id, cast(null as text) as changed_fields
    where 1 = 0
"""


def record_changes(raw: RawSchema, fields: dict[str, list[cf.CustomField]]) -> exp.Expression:
    """Each record represents what one sync saw happen to one record: created, updated
    (with the fields that changed) or deleted; a delete outranks an update in one sync."""
    parts = [
        _changes_of(raw, table, versions, keys, fields.get(table, []))
        for table, versions, keys in history_tables(raw)
    ]
    if not parts:
        return parse(EMPTY_CHANGES)
    union = " union all ".join(f"({p})" for p in parts)
    return parse(f"""
        select entity, record_id, change, changed_at, run_id, changed_fields
        from (
            select e.*, row_number() over (
                partition by e.entity, e.record_id, e.run_id
                order by case when e.change = 'deleted' then 0 else 1 end, e.changed_at desc
            ) as _n
            from ({union}) as e
        ) as ranked
        where _n = 1
    """)


STAGE_HISTORY = """
    with v as (
        select opportunity_id, cast(pipeline_id as bigint) as pipeline_id,
            cast(stage_id as bigint) as stage_id,
            upper(coalesce(cast(opportunity_state as text), 'OPEN')) = 'OPEN' as is_open,
            valid_from, valid_to, date_created_utc,
            row_number() over (partition by opportunity_id order by valid_from) as n
        from stg.opportunities_history
    ),
    marked as (
        select v.*, case when n = 1
            or lag(pipeline_id) over w is distinct from pipeline_id
            or lag(stage_id) over w is distinct from stage_id
            or lag(is_open) over w is distinct from is_open then 1 else 0 end as starts
        from v
        window w as (partition by opportunity_id order by valid_from)
    ),
    islands as (
        select marked.*, sum(starts) over (
            partition by opportunity_id order by valid_from
            rows between unbounded preceding and current row) as island
        from marked
    ),
    stays as (
        select opportunity_id, island, pipeline_id, stage_id, is_open,
            min(valid_from) as first_from, min(n) as first_n,
            min(date_created_utc) as created_at,
            max(case when valid_to is null then 1 else 0 end) as is_current,
            max(valid_to) as last_to
        from islands
        group by opportunity_id, island, pipeline_id, stage_id, is_open
    ),
    bounded as (
        select stays.*, case when is_current = 1 then cast(null as timestamptz)
            else coalesce(lead(first_from) over (partition by opportunity_id order by island),
                last_to) end as left_at
        from stays
    )
    select cast(opportunity_id as bigint) as opportunity_id, pipeline_id, stage_id,
        first_from as entered_at, left_at,
        cast(extract(epoch from (coalesce(left_at, current_timestamp) - first_from)) / 86400.0
            as double) as days_in_stage,
        (first_n = 1 and (created_at is null or created_at < first_from)) as is_approximated
    from bounded
    where is_open
"""

EMPTY_STAGE_HISTORY = """
    select cast(null as bigint) as opportunity_id, cast(null as bigint) as pipeline_id,
        cast(null as bigint) as stage_id, cast(null as timestamptz) as entered_at,
        cast(null as timestamptz) as left_at, cast(null as double) as days_in_stage,
        cast(null as boolean) as is_approximated
    where 1 = 0
"""
STAGE_COLUMNS = {
    "opportunity_id",
    "pipeline_id",
    "stage_id",
    "opportunity_state",
    "date_created_utc",
}


def stage_history(raw: RawSchema, stg: str) -> exp.Expression:
    """Each record represents one stay of an open opportunity in one stage of a pipeline."""
    versions = "opportunities__versions"
    tables = [t for t, _, _ in history_tables(raw)]
    if "opportunities" not in tables or not raw.columns(versions) >= STAGE_COLUMNS:
        return parse(EMPTY_STAGE_HISTORY)
    tree = parse(STAGE_HISTORY)
    for t in tree.find_all(exp.Table):
        if t.db == "stg":
            t.set("db", exp.to_identifier(stg, quoted=True))
    return tree


def build_history_views(
    create: Create, raw: RawSchema, stg: str, fields: dict[str, list[cf.CustomField]]
) -> list[str]:
    """Create every history view in the staging schema; returns the names of those built
    (`create` records a failure and answers False)."""
    views = {
        f"{table}_history": lambda t=table, v=versions, k=keys: _bind(
            history_view(raw, t, v, k), raw
        )
        for table, versions, keys in history_tables(raw)
    }
    views["record_changes"] = lambda: _bind(record_changes(raw, fields), raw)
    views["opportunity_stage_history"] = lambda: stage_history(raw, stg)
    return [name for name, select in views.items() if create(stg, name, select)]


def _bind(tree: exp.Expression, raw: RawSchema) -> exp.Expression:
    """`raw.<table>` -> the raw dataset's real name."""
    for t in tree.find_all(exp.Table):
        if t.db == "raw":
            t.set("db", exp.to_identifier(raw.name, quoted=True))
    return tree
