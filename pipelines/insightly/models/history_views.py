"""The history views over the raw `<table>__versions` tables (history/versions.py), in staging.

- `<table>_history`: one row per version, the SCD2 shape of Fivetran's history models:
  the record's key, its fields, `valid_from` (the version's DATE_UPDATED_UTC), `valid_to`
  (the next version's, the time the record was found deleted, or NULL while current),
  `is_current`, and the sync that first read it (`run_id`).
- `record_changes` (built in change_events.py, whose query `insightly changes` runs with
  its time pushed down): one event per record per sync (created, updated or deleted) with
  the columns (custom fields by label) that differ from the record's version before that
  sync.
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

from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from insightly.history.versions import DELETED_AT, RUN_ID
from insightly.models import custom_fields as cf
from insightly.models.change_events import record_changes
from insightly.models.dialects import parse
from insightly.models.history_sql import (
    STAMP,
    bind,
    data_columns,
    deleted,
    history_tables,
    q,
    versions_with_current,
)
from insightly.models.raw import RawSchema

Create = Callable[[str, str, Any], bool]  # False: the view failed (recorded)


def history_view(raw: RawSchema, table: str, versions: str, keys: Sequence[str]) -> exp.Expression:
    """Each record represents one version of one record, valid from its stamp to the next."""
    part = ", ".join(f"v.{q(k)}" for k in keys)
    nxt = f"lead(v.{q(STAMP)}) over (partition by {part} order by v.{q(STAMP)})"
    gone = deleted(raw, table, keys)
    cols = [f"v.{q(c)}" for c in (*keys, *data_columns(raw, versions, keys), STAMP)]
    sql = f"""
        select {", ".join(cols)},
            v.{q(STAMP)} as valid_from,
            coalesce({nxt}, case when {gone} then v.{q(DELETED_AT)} end) as valid_to,
            ({nxt} is null and not {gone}) as is_current,
            v.{q(RUN_ID)} as run_id
        from {versions_with_current(raw, table, versions, keys)}
    """
    return parse(sql)


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
    create: Create,
    raw: RawSchema,
    stg: str,
    fields: dict[str, list[cf.CustomField]],
    destination: str | None = None,
) -> list[str]:
    """Create every history view in the staging schema; returns the names of those built
    (`create` records a failure and answers False). `destination`: the dlt destination
    name, for SQL only its dialect runs well (None: SQL every dialect runs)."""
    views = {
        f"{table}_history": lambda t=table, v=versions, k=keys: bind(
            history_view(raw, t, v, k), raw
        )
        for table, versions, keys in history_tables(raw)
    }
    views["record_changes"] = lambda: bind(record_changes(raw, fields, destination), raw)
    views["opportunity_stage_history"] = lambda: stage_history(raw, stg)
    return [name for name, select in views.items() if create(stg, name, select)]
