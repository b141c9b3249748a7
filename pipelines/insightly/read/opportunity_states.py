"""Opportunity state history: `/Opportunities/{id}/StateHistory`, read only where it changed.

The endpoint answers every state change of one opportunity (OPEN, WON, LOST, ... with the
reason), one request per opportunity, with no paging and no `updated_after_utc`
(docs/api.md §8). Reading it for every opportunity at every sync would cost as
many requests as there are opportunities, so after the sync's loads:

- the copy's current OPPORTUNITY_STATE of each opportunity is compared with the states
  the last completed step saw (`<pipeline>.statehistory/states.json`); an opportunity whose
  state differs, or a new one that is not OPEN, is queued (a new OPEN one has nothing to
  tell yet: its whole history is read when its state first changes);
- the first time (no states file: the first load, or a copy older than this feature)
  every opportunity of the copy is queued: the one-time backfill;
- the queue (`queue.json`, changed ones first) is read one GET each, several at once
  through the shared pacer, until it is empty, the sync's budget
  (`state_history_requests_per_sync`, 2,000) is spent or the daily quota's reserve stops
  it, like every backfill; what was read is loaded (merge
  on OPPORTUNITY_ID, DATE_CHANGED_UTC, FOR_OPPORTUNITY_STATE, as the rows have no id) and
  the rest waits for the next sync, days later if need be.

The queue is written before the states file and trimmed only after the load, so a kill at
any point reads some histories again (harmless: merge) and loses none. A 404 means the
opportunity was deleted since: it is dropped from the queue.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.pipeline import LoadInfo

from insightly.api.client import InsightlyClient
from insightly.api.stamps import parse_utc
from insightly.catalogue.tables import DELETED_AT
from insightly.errors import EntityUnavailable, QuotaExhausted
from insightly.read.endpoints import Endpoints
from insightly.read.walk import unfinished_walk
from insightly.warehouse.introspect import tables_in

log = logging.getLogger(__name__)
TABLE = "opportunity_state_history"
SOURCE_TABLE = "opportunities"
PATH = "StateHistory"  # /Opportunities/{id}/StateHistory
KEY = ("opportunity_id", "date_changed_utc", "for_opportunity_state")
OPEN = "OPEN"


class HistoryFiles:
    """The states last seen and the opportunities still to read, beside the pipeline."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        root = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.statehistory"
        self.root = root
        self.states_path = root / "states.json"
        self.queue_path = root / "queue.json"

    def states(self) -> dict[int, str | None] | None:
        try:
            return {int(k): v for k, v in json.loads(self.states_path.read_text()).items()}
        except (OSError, ValueError):
            return None

    def queue(self) -> list[int]:
        try:
            return [int(i) for i in json.loads(self.queue_path.read_text())]
        except (OSError, ValueError):
            return []

    def save(self, queue: list[int], states: dict[int, str | None] | None = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.queue_path.write_text(json.dumps(queue))
        if states is not None:
            self.states_path.write_text(json.dumps({str(k): v for k, v in states.items()}))

    def clear(self) -> None:
        self.states_path.unlink(missing_ok=True)
        self.queue_path.unlink(missing_ok=True)


def copy_states(pipeline: dlt.Pipeline) -> dict[int, str | None]:
    """Each live opportunity of the copy and its current state."""
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name(SOURCE_TABLE)
        deleted = sql.escape_column_name(DELETED_AT)
        rows = sql.execute_sql(
            f"select opportunity_id, opportunity_state from {name} where {deleted} is null"
        )
    return {int(r[0]): r[1] for r in rows or []}


def changed(known: dict[int, str | None], current: dict[int, str | None]) -> list[int]:
    """Opportunities whose state changed since `known`, and new ones that are not OPEN."""
    return sorted(
        i
        for i, state in current.items()
        if (known[i] != state if i in known else (state or OPEN).upper() != OPEN)
    )


def plan_reads(pipeline: dlt.Pipeline, files: HistoryFiles) -> tuple[list[int], int]:
    """The queue after this sync's loads, and how many of it changed this time."""
    current = copy_states(pipeline)
    known = files.states()
    fresh = sorted(current) if known is None else changed(known, current)
    queued = set(fresh)
    queue = fresh + [i for i in files.queue() if i not in queued]
    files.save(queue, current)
    return queue, len(fresh)


def _history(client: InsightlyClient, opportunity_id: int) -> list[dict] | int | QuotaExhausted:
    """One opportunity's history; the status of a 403/404/405 (deleted since, or no such
    endpoint on this tenant); the quota stop as a value, so a batch read in parallel keeps
    the answers that came before it."""
    try:
        history = client.get_json(f"Opportunities/{opportunity_id}/StateHistory", table=TABLE)
    except EntityUnavailable as exc:
        return exc.status
    except QuotaExhausted as exc:
        return exc
    return [shaped(opportunity_id, item) for item in history or [] if isinstance(item, dict)]


def read_histories(
    client: InsightlyClient,
    queue: list[int],
    budget: int | None = None,
    endpoints: Endpoints | None = None,
) -> tuple[list[dict], int, QuotaExhausted | None]:
    """GET the histories in queue order, `client.page_concurrency` at a time through the
    shared pacer (one at a time, a 150 ms API allows 6.7 of the 10 requests/s), at most
    `budget` of them; returns the rows, how many ids were done (a prefix of the queue:
    answers after a quota stop in the same batch are read again next time), and the stop."""
    todo = queue if budget is None else queue[:budget]
    endpoints = endpoints or Endpoints(None, 0)
    width = max(1, client.page_concurrency)
    rows: list[dict] = []
    done = refused = 0  # refused: 403/404/405 answers in a row, the last ones done
    with ThreadPoolExecutor(width, thread_name_prefix="state-history") as pool:
        while done < len(todo):
            # one at a time until the endpoint answered 200 in this sync (read/endpoints.py)
            size = width * 4 if endpoints.proven(SOURCE_TABLE, PATH) else 1
            batch = todo[done : done + size]
            for answer in pool.map(lambda i: _history(client, i), batch):
                if isinstance(answer, QuotaExhausted):
                    return rows, done, answer
                status = answer if isinstance(answer, int) else None
                refused = refused + 1 if status else 0
                if endpoints.answered(SOURCE_TABLE, PATH, status):
                    reason = endpoints.reason(endpoints.key(SOURCE_TABLE, PATH))
                    client.stats.skip(TABLE, reason)
                    return rows, done - (refused - 1), None  # the refused ones: read again
                rows += [] if status else answer
                done += 1
    return rows, done, None


def shaped(opportunity_id: int, item: dict[str, Any]) -> dict[str, Any]:
    """A history row with warehouse column names and DATE_CHANGED_UTC as a timestamp."""
    return {
        "opportunity_id": item.get("OPPORTUNITY_ID") or opportunity_id,
        "date_changed_utc": parse_utc(item.get("DATE_CHANGED_UTC")),
        "for_opportunity_state": item.get("FOR_OPPORTUNITY_STATE"),
        "state_reason_id": item.get("STATE_REASON_ID"),
        "state_reason": item.get("STATE_REASON"),
    }


ARROW_SCHEMA = pa.schema(
    [
        pa.field("opportunity_id", pa.int64(), nullable=False),
        pa.field("date_changed_utc", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("for_opportunity_state", pa.string(), nullable=False),
        pa.field("state_reason_id", pa.int64()),
        pa.field("state_reason", pa.string()),
    ]
)


def history_resource(rows: list[dict]) -> Any:
    """The rows as one Arrow table, like every table of the copy (no dlt row ids)."""
    return dlt.resource(
        pa.Table.from_pylist(rows, schema=ARROW_SCHEMA),
        name=TABLE,
        write_disposition="merge",
        primary_key=KEY,
    )


def ready(pipeline: dlt.Pipeline, client: InsightlyClient, tables: list[str]) -> bool:
    """The copy's opportunities are complete this sync: read, not skipped, not mid-walk."""
    if SOURCE_TABLE not in tables or SOURCE_TABLE in client.stats.skipped:
        return False
    if unfinished_walk(pipeline, SOURCE_TABLE) is not None:
        return False
    with pipeline.sql_client() as sql:
        return SOURCE_TABLE in tables_in(sql)


def sync_state_history(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    tables: list[str],
    loader_format: str | None,
    budget: int | None,
    endpoints: Endpoints,
) -> LoadInfo | None:
    """Queue what changed (or the backfill), read as much as the quota allows, load it."""
    if not ready(pipeline, client, tables):
        return None
    if not endpoints.available(SOURCE_TABLE, PATH):  # kept queued for when it is probed again
        client.stats.skip(TABLE, endpoints.reason(endpoints.key(SOURCE_TABLE, PATH)))
        plan_reads(pipeline, HistoryFiles(pipeline))
        return None
    files = HistoryFiles(pipeline)
    queue, fresh = plan_reads(pipeline, files)
    if not queue:
        return None
    rows, done, stopped = read_histories(client, queue, budget, endpoints)
    info = None
    if rows:
        info = pipeline.run(history_resource(rows), loader_file_format=loader_format)
    files.save(queue[done:])
    client.stats.count_rows(TABLE, len(rows))
    if stopped is not None:
        client.stats.stop_for_quota(TABLE, str(stopped))
        log.info("%s: %d opportunities left for the next sync", TABLE, len(queue) - done)
    elif done < len(queue):
        log.info("%s: %d opportunities left for the next sync", TABLE, len(queue) - done)
    elif fresh < len(queue):
        log.info("%s: backfill of %d opportunities read", TABLE, len(queue) - fresh)
    return info
