"""`insightly changes --since <time>`: the change events of the copy, for people and workflows.

Reads the `record_changes` view (models/history_views.py) of the staging schema, so it
works on any destination the models are built on. `--json` prints one JSON object per
line (JSON Lines), for a workflow to consume: the warehouse form of Insightly's "record
created or updated" triggers, without polling the API. `changed_fields` is a list there (the
view holds it as one comma-joined text). No event after the time is a line on stderr, exit 0;
`--entity` must name a table with history (exit 2 otherwise, with the ones that have).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pendulum

from insightly.errors import ConfigurationError, QueryFailed
from insightly.history.versions import entity_table_of, is_versions_table
from insightly.warehouse.introspect import columns_in, tables_in

if TYPE_CHECKING:
    from insightly.sync.pipeline import SyncOptions

COLUMNS = ("changed_at", "entity", "record_id", "change", "changed_fields", "run_id")
RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An absolute time (ISO, UTC unless it says otherwise) or a duration before now."""
    value = text.strip()
    match = RELATIVE.match(value)
    if match:
        amount, unit = match.groups()
        return (now or datetime.now(timezone.utc)) - timedelta(**{UNITS[unit]: int(amount)})
    try:
        parsed = pendulum.parse(value, tz="UTC")
    except ValueError:  # pendulum's ParserError included
        parsed = None
    if not isinstance(parsed, datetime):
        raise ConfigurationError(
            f"--since must be an ISO time or date (2026-12-01T08:00:00) or a duration "
            f"such as 30m, 24h or 7d; got {text!r}"
        )
    return parsed.in_timezone("UTC")


def fetch_changes(pipeline: Any, dataset: str, since: datetime, entity: str | None) -> list[dict]:
    """Events after `since`, oldest first, `changed_fields` as a list. Raises
    ConfigurationError for an `entity` without history."""
    with pipeline.sql_client() as sql:
        tables = tables_in(sql)
        if entity:
            check_entity(entity, history_entities(tables))
        view = f"{sql.escape_column_name(dataset + '_stg')}.record_changes"
        where, params = "changed_at > %s", [since]
        if entity:
            where, params = where + " and entity = %s", [*params, entity]
        query = (
            f"select {', '.join(COLUMNS)} from {view} where {where} "
            "order by changed_at, entity, record_id"
        )
        try:
            rows = sql.execute_sql(query, *params) or []
        except Exception as exc:
            if "record_changes" in str(exc) or "does not exist" in str(exc):
                raise QueryFailed(
                    f"{dataset}_stg.record_changes is not there: run `insightly models` "
                    "after a sync (history is kept from the first sync on)"
                ) from None
            raise
        labels = _labels_with_commas(sql, tables) if rows else set()
    events = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    for event in events:
        event["changed_fields"] = split_fields(event["changed_fields"], labels)
    return events


def history_entities(tables: Collection[str]) -> list[str]:
    """The tables with history: those whose `<table>__versions` is loaded beside them (what
    the `record_changes` view reads, models/history_views.py)."""
    return sorted(
        entity_table_of(t) for t in tables if is_versions_table(t) and entity_table_of(t) in tables
    )


def check_entity(entity: str, known: list[str]) -> None:
    """ConfigurationError (exit 2) naming the tables with history when `entity` is none."""
    if entity in known:
        return
    close = difflib.get_close_matches(entity, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    listed = ", ".join(known) if known else "none yet: run `insightly sync`"
    raise ConfigurationError(
        f"--entity {entity!r} has no history{hint}; tables with history: {listed}"
    )


def split_fields(text: str | None, labels: Collection[str] = ()) -> list[str]:
    """The view's `a, b, Label` as a list; a label that holds ", " itself (one of `labels`)
    stays whole."""
    if not text:
        return []
    parts, out, i = text.split(", "), [], 0
    while i < len(parts):
        # the longest run of parts that is a known label, else the part alone
        j = next(
            (j for j in range(len(parts), i + 1, -1) if ", ".join(parts[i:j]) in labels), i + 1
        )
        out.append(", ".join(parts[i:j]))
        i = j
    return out


def _labels_with_commas(sql: Any, tables: Collection[str]) -> set[str]:
    """Custom field labels holding ", " (the view names custom fields by label)."""
    if "custom_fields" not in tables or "field_label" not in columns_in(sql, "custom_fields"):
        return set()
    name = sql.make_qualified_table_name("custom_fields")
    rows = sql.execute_sql(f"select distinct field_label from {name}") or []
    return {r[0] for r in rows if isinstance(r[0], str) and ", " in r[0]}


def as_json(event: dict) -> str:
    out = dict(event)
    stamp = out["changed_at"]
    if isinstance(stamp, datetime):
        out["changed_at"] = stamp.astimezone(timezone.utc).isoformat()
    return json.dumps(out, ensure_ascii=False)


def as_line(event: dict) -> str:
    stamp = event["changed_at"]
    when = stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if stamp else "?"
    fields = f"  [{', '.join(event['changed_fields'])}]" if event["changed_fields"] else ""
    return f"{when}  {event['entity']} {event['record_id']} {event['change']}{fields}"


def run(
    pipeline: SyncOptions, since: str, entity: str | None = None, json_lines: bool = False
) -> int:
    """Print the events after `since` (parse_since) in the pipeline `pipeline` names, of
    one table or all, as lines or JSON Lines; nothing found is a line on stderr, exit 0.
    No warehouse yet (no DuckDB file) is exit 2, and creates none."""
    from insightly.sync.pipeline import make_pipeline
    from insightly.sync.pipeline_args import require_warehouse

    after = parse_since(since)
    opened = make_pipeline(pipeline)
    require_warehouse(opened)
    events = fetch_changes(opened, pipeline.dataset, after, entity)
    for event in events:
        print(as_json(event) if json_lines else as_line(event))
    if not events:
        where = f" in {entity}" if entity else ""
        print(f"no changes{where} since {after:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0
