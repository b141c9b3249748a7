"""Deleted records, found by absence.

Insightly has no deleted-records feed (insightly-api.md 7), so on its own cadence each
incremental table's ids are read with `brief=true` pages (the same number of requests as a
full read, far fewer bytes) and compared with the warehouse after the load. A record the
warehouse holds, that the API no longer lists, and that was not updated since the id read
began, is marked `_deleted_at = <time of detection>` (the staging views leave it out), or
removed with its child rows when `hard_deletes` is on. An id read that moved under its
offsets proves nothing and is ignored until the next cadence.

Written against dlt's sql_client rather than as a dlt resource: marking needs an UPDATE of
rows already loaded, which a merge (whole-row replace) can't express.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt

from .catalogue import Entity
from .client import InsightlyClient
from .errors import EntityUnavailable
from .source import drifted
from .warehouse import tables_in

log = logging.getLogger(__name__)
DELETED_AT = "_deleted_at"
BATCH = 500


@dataclass
class DeleteReport:
    """Per table: records marked (or removed) this run, and tables whose check was skipped."""

    found: dict[str, int] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)  # the id read moved; retried next time


class CheckLog:
    """When each table's ids were last reconciled; a small JSON file beside the pipeline.

    If it is lost (an ephemeral worker), the next sync simply reconciles again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.checked: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.checked = {}

    def due(self, table: str, cadence_hours: float, now: datetime) -> bool:
        stamp = self.checked.get(table)
        if stamp is None or cadence_hours <= 0:
            return True
        return now - datetime.fromisoformat(stamp) >= timedelta(hours=cadence_hours)

    def mark(self, table: str, now: datetime) -> None:
        self.checked[table] = now.isoformat()
        self.path.write_text(json.dumps(self.checked, indent=1, sort_keys=True))


def live_ids(client: InsightlyClient, entity: Entity) -> tuple[set[Any], bool] | None:
    """Every id the API lists for an entity; None when the entity is unavailable.

    Returns (ids, settled): settled is False when the result moved during the read.
    """
    pk = entity.primary_key[0]
    totals: list[int] = []
    ids: set[Any] = set()
    try:
        for page in client.pages(entity.path, {"brief": "true"}, table=entity.table, totals=totals):
            ids.update(record.get(pk) for record in page)
    except EntityUnavailable:
        return None
    return ids, not drifted(totals, {(i,) for i in ids})


def _chunks(values: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def apply(
    pipeline: dlt.Pipeline, entity: Entity, ids: set[Any], since: datetime, hard: bool
) -> int:
    """Mark (or remove) warehouse records of `entity` that the API no longer lists."""
    table = entity.table
    pk = entity.primary_key[0].lower()
    with pipeline.sql_client() as sql:
        if table not in tables_in(sql):
            return 0
        name = sql.make_qualified_table_name(table)
        key, deleted = sql.escape_column_name(pk), sql.escape_column_name(DELETED_AT)
        updated = sql.escape_column_name("date_updated_utc")
        rows = sql.execute_sql(
            f"select {key} from {name} where {deleted} is null and {updated} < %s", since
        )
        gone = [r[0] for r in rows or [] if r[0] not in ids]
        for chunk in _chunks(gone):
            marks = ", ".join(["%s"] * len(chunk))
            if hard:
                for child in _child_tables(sql, table):
                    sql.execute_sql(
                        f"delete from {sql.make_qualified_table_name(child)} where "
                        f"_dlt_root_id in (select _dlt_id from {name} where {key} in ({marks}))",
                        *chunk,
                    )
                sql.execute_sql(f"delete from {name} where {key} in ({marks})", *chunk)
            else:
                sql.execute_sql(
                    f"update {name} set {deleted} = %s where {key} in ({marks})",
                    datetime.now(timezone.utc),
                    *chunk,
                )
    return len(gone)


def _child_tables(sql: Any, table: str) -> list[str]:
    return sorted(t for t in tables_in(sql) if t.startswith(f"{table}__"))


def reconcile(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entities: Sequence[Entity],
    *,
    cadence_hours: float,
    hard: bool,
    first_sync: set[str],
) -> DeleteReport:
    """Check every due entity; a table loaded for the first time this run is only stamped."""
    report = DeleteReport()
    log_path = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.deletes.json"
    checks = CheckLog(log_path)
    for entity in entities:
        now = datetime.now(timezone.utc)
        if entity.table in first_sync:
            checks.mark(entity.table, now)
            continue
        if not checks.due(entity.table, cadence_hours, now):
            continue
        started = now - timedelta(seconds=1)  # DATE_UPDATED_UTC has one-second precision
        result = live_ids(client, entity)
        if result is None:
            continue
        ids, settled = result
        if not settled:
            report.unsettled.append(entity.table)
            log.warning(
                "%s changed while its ids were read; deletes checked next time", entity.table
            )
            continue
        report.found[entity.table] = apply(pipeline, entity, ids, started, hard)
        checks.mark(entity.table, now)
    return report
