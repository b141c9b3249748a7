"""Delete counting: deletes seen at every sync for one request per unchanged table.

The id check (check.py) reads every id, ceil(n/500) requests, so it runs once a day.
Between checks, after each incremental read, the API is asked how many records it holds
(`count_total=true`, `top=1`: one request; with `start_date`, `updated_after_utc =
start_date`) and the answer is compared with the copy's live records (not marked deleted;
with `start_date`, those updated after it). Equal: nothing was deleted.

Different: the search narrows it down on the copy's own DATE_UPDATED_UTC values. For a
boundary B the API counts its records updated after B (one request each) and the copy
counts its live records updated after B; a window (B1, B2] "lost" records when the copy
holds more of them than the API does. A window that lost records is split at the middle of
its copy records' stamps until it holds at most FEW of them, and each of those is fetched
(a GET: 404 means deleted, as the id check confirms). d deletes among n records cost
about d*ceil(log2(n/d)) + 2d requests. A window whose records all share one second
cannot be split: up to UNSPLIT_MAX of them are fetched, more fall back to the id check.

Records changed during the read are never taken for deletes:
- the windows lie below S, one second before the sync began: a record created or updated
  since has a stamp above S on the API's side, in the top window, which is not searched
  (its records are in the window of the next sync's search, by then below that sync's S);
- a record the read saw before it was updated again has its old stamp in the copy and its
  new one (above S) in the API, so its old window shows it as lost; its GET answers 200,
  and it is loaded by merge like the id check's fetched records, never marked;
- only a 404 marks a record.
A create after S that cancels out a delete in the totals hides that delete for one sync:
the next sync's read loads the created record, and the difference shows.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import pendulum

from insightly.api.client import InsightlyClient
from insightly.api.stamps import parse_stamp, updated_after_param, utc_stamp
from insightly.catalogue.entities import CURSOR, Entity
from insightly.catalogue.tables import DELETED_AT
from insightly.deletes.marks import mark_deleted
from insightly.deletes.verdicts import fetch_one
from insightly.errors import ApiResponseError
from insightly.warehouse.introspect import tables_in

log = logging.getLogger(__name__)
FEW = 2  # a window that lost records is fetched record by record at this size
UNSPLIT_MAX = 10  # records of one second fetched one by one; more: the id check
Stamped = tuple[str, Any]  # (DATE_UPDATED_UTC stamp, record id), sorted by stamp


def count_cost(n: int, d: int) -> int:
    """Requests counting costs beyond the read, for `d` deletes among `n` records: one count
    when nothing was deleted; else the count below the ceiling, about d*ceil(log2(n/d))
    splits and up to 2d GETs (windows of at most FEW records)."""
    if d <= 0:
        return 1
    return 2 + d * math.ceil(math.log2(max(n / d, 1))) + FEW * d


@dataclass
class Counted:
    """What counting found for one table."""

    gone: list[Any] = field(default_factory=list)  # confirmed deleted (404)
    alive: list[dict] = field(default_factory=list)  # fetched, still there: load by merge
    fallback: bool = False  # a window could not be split: run the id check
    requests: int = 0


class ApiCounts:
    """The API's count of records updated after a boundary, one request per boundary."""

    def __init__(self, client: InsightlyClient, entity: Entity, floor: str | None) -> None:
        self.client, self.entity, self.floor = client, entity, floor
        self.cache: dict[str | None, int] = {}
        self.requests = 0

    def above(self, boundary: str | None) -> int:
        """Records with DATE_UPDATED_UTC > boundary (None: the floor, or all records)."""
        key = boundary if boundary is not None else self.floor
        if key not in self.cache:
            params: dict[str, Any] = dict(self.entity.params)
            if self.entity.brief_param:
                params["brief"] = "true"
            if key is not None:
                params["updated_after_utc"] = updated_after_param(parse_stamp(key))
            total = self.client.total(self.entity.list_path, params, table=self.entity.table)
            self.requests += 1
            if total is None:
                raise ApiResponseError(
                    f"{self.entity.list_path}: no X-Total-Count, so deletes cannot be counted"
                )
            self.cache[key] = total
        return self.cache[key]


def copy_rows(
    pipeline: dlt.Pipeline, entity: Entity, floor: str | None, *, count: bool
) -> tuple[int, list[Stamped]]:
    """The copy's live records updated after `floor`: how many and, unless `count` (only
    the number is needed, the common case), their (stamp, id) sorted by stamp."""
    with pipeline.sql_client() as sql:
        if entity.table not in tables_in(sql):
            return 0, []
        name = sql.make_qualified_table_name(entity.table)
        key = sql.escape_column_name(entity.primary_key[0].lower())
        updated = sql.escape_column_name(CURSOR.lower())
        deleted = sql.escape_column_name(DELETED_AT)
        where = f"{deleted} is null"
        args: list[Any] = []
        if floor is not None:
            where += f" and {updated} > %s"
            args.append(parse_stamp(floor))
        what = "count(*)" if count else f"{key}, {updated}"
        rows = sql.execute_sql(f"select {what} from {name} where {where}", *args) or []
    if count:
        return int(rows[0][0]), []
    stamped = sorted((utc_stamp(r[1]), r[0]) for r in rows if isinstance(r[1], datetime))
    return len(rows), stamped


def split_at(records: list[Stamped]) -> int | None:
    """Where to split a window's records: the index of the first record of the right half,
    at a change of stamp nearest the middle; None when they all share one stamp."""
    stamps = [s for s, _ in records]
    middle = len(stamps) // 2
    candidates = [i for i in range(1, len(stamps)) if stamps[i] != stamps[i - 1]]
    if not candidates:
        return None
    return min(candidates, key=lambda i: abs(i - middle))


@dataclass
class Search:
    """The bisection over one table's copy stamps below the search ceiling."""

    api: ApiCounts
    suspects: list[Any] = field(default_factory=list)
    fallback: bool = False

    def window(self, low: str | None, high: str, records: list[Stamped]) -> None:
        """Search (low, high]; `records`: the copy's live records in it, by stamp."""
        pending = [(low, high, records)]
        while pending and not self.fallback:
            low, high, records = pending.pop()
            lost = len(records) - (self.api.above(low) - self.api.above(high))
            if lost <= 0:
                continue
            if len(records) <= FEW:
                self.suspects += [record_id for _, record_id in records]
                continue
            cut = split_at(records)
            if cut is None:
                if len(records) <= UNSPLIT_MAX:
                    self.suspects += [record_id for _, record_id in records]
                else:
                    self.fallback = True
                continue
            boundary = records[cut - 1][0]
            pending += [(boundary, high, records[cut:]), (low, boundary, records[:cut])]


def ceiling(began: float) -> str:
    """S: one second before the sync began; every change since has a later stamp."""
    return utc_stamp(datetime.fromtimestamp(began, timezone.utc) - timedelta(seconds=1))


def count_table(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entity: Entity,
    *,
    start: str | None,
    began: float,
    hard: bool,
) -> Counted:
    """Compare counts, search what differs, fetch the suspects, mark the 404s.

    `start`: the start_date stamp (both sides count only records updated after it).
    Raises QuotaExhausted (nothing is marked unless confirmed) and EntityUnavailable.
    """
    api = ApiCounts(client, entity, start)
    held, _ = copy_rows(pipeline, entity, start, count=True)
    counted = Counted()
    if held == api.above(None):
        counted.requests = api.requests
        return counted
    _, stamped = copy_rows(pipeline, entity, start, count=False)
    top = ceiling(began)
    below = stamped[: bisect_right([s for s, _ in stamped], top)]
    search = Search(api)
    search.window(None, top, below)
    counted.requests = api.requests
    if search.fallback:
        counted.fallback = True
        log.info("%s: a lost record hides among many of one second: ids are checked", entity.table)
        return counted
    for record_id in search.suspects:
        record = fetch_one(client, entity, record_id)
        counted.requests += 1
        (counted.gone.append(record_id) if record is None else counted.alive.append(record))
    mark_deleted(pipeline, entity, counted.gone, hard)
    return counted


@dataclass
class DeleteCounter:
    """Counting as deletes.reconcile calls it for a table whose id check is not due."""

    pipeline: dlt.Pipeline
    client: InsightlyClient
    start: str | None  # start_date as a stamp, or None
    began: float  # when the sync began (time.time())
    hard: bool

    def __call__(self, entity: Entity, report: Any) -> bool:
        """Count one table into `report` (deletes.DeleteReport); True: run the id check."""
        if entity.table in self.client.stats.skipped:
            return False
        try:
            counted = count_table(
                self.pipeline,
                self.client,
                entity,
                start=self.start,
                began=self.began,
                hard=self.hard,
            )
        except ApiResponseError as exc:  # no count to compare: the id check stays the net
            log.warning("%s: deletes not counted: %s", entity.table, exc)
            return False
        if counted.gone or counted.alive:
            log.info(
                "%s: counting found %d deleted, %d changed, in %d requests",
                entity.table,
                len(counted.gone),
                len(counted.alive),
                counted.requests,
            )
        report.found[entity.table] = len(counted.gone)
        if counted.alive:
            report.fetched[entity.table] = counted.alive
        return counted.fallback


def delete_counter(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    start_date: str | None,
    began: float,
    hard: bool,
    enabled: bool = True,
) -> DeleteCounter | None:
    """The counter for this sync, or None when `delete_count` is off."""
    if not enabled:
        return None
    start = None
    if start_date:
        parsed = pendulum.parse(str(start_date), tz="UTC")
        start = utc_stamp(pendulum.instance(parsed))  # type: ignore[arg-type]
    return DeleteCounter(pipeline, client, start, began, hard)
