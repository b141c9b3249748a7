"""`insightly changes --since <time>`: the change events of the copy, for people and workflows.

Reads the `record_changes` view (models/history_views.py) of the staging schema, so it
works on any destination the models are built on. `--json` prints one JSON object per
line (JSON Lines), for a workflow to consume: the warehouse form of Insightly's "record
created or updated" triggers, without polling the API.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pendulum

from insightly.errors import ConfigurationError, QueryFailed

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
    """Events after `since`, oldest first."""
    with pipeline.sql_client() as sql:
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
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def as_json(event: dict) -> str:
    out = dict(event)
    stamp = out["changed_at"]
    if isinstance(stamp, datetime):
        out["changed_at"] = stamp.astimezone(timezone.utc).isoformat()
    return json.dumps(out, ensure_ascii=False)


def as_line(event: dict) -> str:
    stamp = event["changed_at"]
    when = stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if stamp else "?"
    fields = f"  [{event['changed_fields']}]" if event["changed_fields"] else ""
    return f"{when}  {event['entity']} {event['record_id']} {event['change']}{fields}"


def run(
    pipeline: SyncOptions, since: str, entity: str | None = None, json_lines: bool = False
) -> int:
    """Print the events after `since` (parse_since) in the pipeline `pipeline` names, of
    one table or all, as lines or JSON Lines; nothing found is not an error."""
    from insightly.sync.pipeline import make_pipeline

    after = parse_since(since)
    events = fetch_changes(make_pipeline(pipeline), pipeline.dataset, after, entity)
    for event in events:
        print(as_json(event) if json_lines else as_line(event))
    return 0
