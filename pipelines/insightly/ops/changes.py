"""`insightly changes --since <time>`: the change events of the copy, for people and workflows.

The events are those of the `record_changes` view (models/change_events.py), computed from
the raw versions with the time pushed down: only the versions of records changed after it
are read, so the answer doesn't grow with the history, and the models needn't be built.
Rows are printed as the warehouse answers them, a batch at a time (a server-side cursor on
PostgreSQL). `--json` prints one JSON object per line (JSON Lines), for a workflow to
consume: the warehouse form of Insightly's "record created or updated" triggers, without
polling the API. `changed_fields` is a list there (the view holds it as one comma-joined
text). No event after the time is a line on stderr, exit 0; `--entity` must name a table
with history (exit 2 otherwise, with the ones that have).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Collection, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pendulum

from insightly.errors import ConfigurationError
from insightly.history.versions import entity_table_of, is_versions_table
from insightly.models.change_events import COLUMNS, changes_after
from insightly.models.custom_fields import CustomField
from insightly.models.dialects import render
from insightly.models.history_sql import bind
from insightly.models.raw import executor, introspect
from insightly.models.views import load_custom_fields

if TYPE_CHECKING:
    from insightly.sync.pipeline import SyncOptions

BATCH = 1000  # rows fetched at a time
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


def fetch_changes(
    pipeline: Any, dataset: str, since: datetime, entity: str | None
) -> Iterator[dict]:
    """Events after `since`, oldest first, `changed_fields` as a list, yielded as the
    warehouse answers them. Raises ConfigurationError for an `entity` without history."""
    destination = pipeline.destination.destination_name
    with pipeline.sql_client() as sql:
        execute = executor(sql)
        raw = introspect(execute, dataset, destination)
        if entity:
            check_entity(entity, history_entities(raw.tables))
        fields: dict[str, list[CustomField]] = {}
        for f in load_custom_fields(execute, raw, destination):
            fields.setdefault(f.object_table, []).append(f)
        labels = {f.label for fs in fields.values() for f in fs if f.label and ", " in f.label}
        tree = changes_after(raw, fields, since, entity, destination)
        query = render(bind(tree, raw), destination)
        for rows in _batches(sql, query):
            for row in rows:
                event = dict(zip(COLUMNS, row, strict=True))
                event["changed_fields"] = split_fields(event["changed_fields"], labels)
                yield event


def _batches(sql: Any, query: str) -> Iterator[list[tuple]]:
    """The answer BATCH rows at a time: DuckDB streams a result; psycopg2 reads it whole
    unless the cursor is named (server-side), which needs a transaction."""
    native = sql.native_connection
    if type(native).__module__.startswith("psycopg2"):
        with sql.begin_transaction(), native.cursor(name="insightly_changes") as cur:
            cur.itersize = BATCH
            cur.execute(query)
            while rows := cur.fetchmany(BATCH):
                yield rows
        return
    with sql.execute_query(query) as cur:
        while rows := cur.fetchmany(BATCH):
            yield rows


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
    printed = False
    for event in fetch_changes(opened, pipeline.dataset, after, entity):
        print(as_json(event) if json_lines else as_line(event))
        printed = True
    if not printed:
        where = f" in {entity}" if entity else ""
        print(f"no changes{where} since {after:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0
