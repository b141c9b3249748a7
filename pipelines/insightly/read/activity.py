"""Per-record activity: comments and file attachment metadata of the records that changed.

One generic resource per catalogue `PerRecord` entry (catalogue/entities.py): for each parent table
it reads `/{Parent}/{id}/{path}` for the parents loaded since the last sync (emails: new
since the last sync), then, with what is left of the sync's budget, the one-time backfill
of the parents that were there before (activity_parents.py). Rows are merged on their own
id and carry PARENT_ENTITY (the parent's table) and PARENT_ID.

Each parent costs one request (one per 500 items), filtered or not, so the lists are read
without `updated_after_utc`: a parent first loaded late (a backfill, an id-check fetch)
still gets its older items. Whether a new comment or attachment changes its parent's
DATE_UPDATED_UTC is not confirmed; if it does not, only the periodic full pass
(`activity_full_pass_hours`, default weekly) finds activity added to an unchanged record.

Runs after the sync's other tables are loaded (sync/run.py), so the parents are in the
warehouse. The daily quota (and its reserve) stops a pass where it is; the next sync
continues it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dlt
from dlt.sources import DltResource

from insightly.api.client import InsightlyClient
from insightly.api.paging import PAGE_SIZE
from insightly.catalogue.entities import (
    CURSOR,
    PARENT_ENTITY,
    PARENT_ID,
    PER_RECORD,
    Entity,
    Load,
    PerRecord,
)
from insightly.config import ActivitySettings
from insightly.errors import EntityUnavailable, QuotaExhausted
from insightly.read.activity_parents import ParentTable, progress_of, save
from insightly.read.endpoints import Endpoints
from insightly.read.entity_rows import EntityRows

log = logging.getLogger(__name__)
FLUSH_ROWS = 5_000  # rows per yielded Arrow table (one page per parent would be thousands)


def parents_of(
    kind: PerRecord, entities: Iterable[Entity], custom: Iterable[Entity]
) -> list[Entity]:
    """The parent entities of a per-record list, custom objects included where it has them."""
    chosen = [e for e in entities if e.table in kind.parents]
    return chosen + (list(custom) if kind.custom_objects else [])


def activity_resources(
    client: InsightlyClient,
    entities: Sequence[Entity],
    custom: Sequence[Entity],
    settings: ActivitySettings,
    endpoints: Endpoints,
) -> Iterator[DltResource]:
    """One merge resource per per-record list of the catalogue (none when switched off)."""
    for kind in PER_RECORD:
        if not settings.reads(kind.table):  # opt-in: per_record_tables (docs/activity.md)
            continue
        resource = dlt.resource(activity_records, name=kind.table, write_disposition="merge")
        yield resource(client, kind, parents_of(kind, entities, custom), settings, endpoints)


def row_entity(kind: PerRecord) -> Entity:
    """The entity the row path (entity_rows.py) shapes a per-record list's rows as."""
    return Entity(kind.table, kind.path, kind.primary_key, load=Load.INCREMENTAL)


class ActivityRows(EntityRows):
    """A per-record list's rows: merged on their own id, the latest DATE_UPDATED_UTC of an
    item read twice in one load kept; no `_deleted_at` (the id check doesn't cover them)."""

    def _root_hints(self) -> Any:
        columns = []
        if CURSOR in self._declared:
            name = self.naming.normalize_identifier(CURSOR)
            columns.append({"name": name, "data_type": "timestamp", "dedup_sort": "desc"})
        return dlt.mark.make_hints(
            table_name=self.entity.table,
            primary_key=self._pk,
            write_disposition="merge",
            columns=columns,
        )


class Budget:
    """Requests one activity table may still spend in this sync."""

    def __init__(self, requests: int) -> None:
        self.left = requests


@dataclass
class Reader:
    """What one activity table's reads share in a sync."""

    client: InsightlyClient
    kind: PerRecord
    buffer: list[dict]
    rows: ActivityRows
    budget: Budget
    endpoints: Endpoints


@dataclass
class Pass:
    """How a pass over some parents ended."""

    done: int = 0  # parents read, in the order asked
    stop: QuotaExhausted | None = None  # the daily quota (or its reserve) stopped it
    unavailable: bool = False  # the key can't read this list for this parent type (403)

    @property
    def cut(self) -> bool:
        return self.stop is not None or self.unavailable


def activity_records(
    client: InsightlyClient,
    kind: PerRecord,
    parents: list[Entity],
    settings: ActivitySettings,
    endpoints: Endpoints,
) -> Iterator[Any]:
    """The changed parents' items, then the backfill's, within the table's budget."""
    state = dlt.current.resource_state()
    schema = dlt.current.source_schema()
    rows = ActivityRows(row_entity(kind), schema)
    buffer: list[dict] = []
    per_sync, share = settings.requests_per_table, settings.quota_share
    spending = endpoints.share(client.stats, kind.table, per_sync, share)
    with spending as requests, dlt.current.pipeline().sql_client() as sql:
        tables = [ParentTable(sql, e, schema.naming) for e in parents]
        tables = [t for t in tables if t.exists and _available(client, kind, t, endpoints)]
        reader = Reader(client, kind, buffer, rows, Budget(requests or 0), endpoints)
        try:
            for table in tables:
                yield from _changed(reader, table, state)
            for table in tables:
                yield from _backfill(reader, table, state, settings)
        except QuotaExhausted as exc:
            client.stats.stop_for_quota(kind.table, str(exc))
    yield from _flush(rows, buffer)


def _changed(reader: Reader, table: ParentTable, state: dict) -> Iterator[Any]:
    """Read the items of the parents loaded since the cursor, as far as the budget allows."""
    budget = reader.budget
    progress = progress_of(state, table)
    changed = table.changed(progress.after, budget.left) if budget.left > 0 else []
    todo = [c for c in changed if not progress.unchanged(c)]
    result = yield from _pass(reader, table, [c.id for c in todo])
    # the cursor moves past every parent up to the first one not read (skipped ones too)
    passed = changed if result.done == len(todo) else changed[: changed.index(todo[result.done])]
    if passed:
        progress.after = [passed[-1].key, passed[-1].id]
        progress.remember(passed)
    save(state, table, progress)
    if result.stop is not None:
        raise result.stop


def _backfill(
    reader: Reader, table: ParentTable, state: dict, settings: ActivitySettings
) -> Iterator[Any]:
    """Read on in the table's backfill, or start the periodic full pass when it is due
    and the incremental pass is up to date, as far as the budget allows."""
    budget = reader.budget
    progress = progress_of(state, table)
    if not progress.backfilling:
        now = datetime.now(timezone.utc)
        if budget.left <= 0 or not progress.full_pass_due(settings.full_pass_hours, now):
            return
        if table.changed(progress.after, 1):  # changes first: a full pass would read them twice
            return
        progress.upto, progress.last = table.max_key(), None
        if progress.upto is None:  # an empty table: nothing to pass over
            progress.finish_backfill()
    while progress.backfilling and budget.left > 0:
        backlog = table.backlog(progress.upto, progress.last, budget.left)
        if not backlog:
            break
        ids = [c.id for c in backlog]
        result = yield from _pass(reader, table, ids)
        if result.done:
            progress.last = ids[result.done - 1]
            progress.remember(backlog[: result.done])
        if result.cut:
            save(state, table, progress)
            if result.stop is not None:
                raise result.stop
            return
    if progress.backfilling and not table.backlog(progress.upto, progress.last, 1):
        progress.finish_backfill()
        log.info("%s: the pass over %s is complete", reader.kind.table, table.entity.table)
    save(state, table, progress)


def _pass(reader: Reader, table: ParentTable, ids: list[Any]) -> Generator[Any, None, Pass]:
    """Read the list of each parent in `ids`, in order, into the buffer; a parent gone
    since it was loaded (404) has none. Returns how far it got."""
    client, kind, buffer, budget = reader.client, reader.kind, reader.buffer, reader.budget
    result = Pass()
    parent = table.entity
    try:
        for parent_id, items in fetch_each(client, kind, parent, ids, reader.endpoints):
            budget.left -= max(1, math.ceil(len(items or ()) / PAGE_SIZE))
            for item in items or ():
                buffer.append({**item, PARENT_ENTITY: parent.table, PARENT_ID: parent_id})
            client.stats.count_rows(kind.table, len(items or ()))
            result.done += 1
            if len(buffer) >= FLUSH_ROWS:
                yield from _flush(reader.rows, buffer)
    except QuotaExhausted as exc:
        result.stop = exc
    except EntityUnavailable as exc:  # three 403/404/405 in a row: the tenant has no such list
        client.stats.skip(kind.table, exc.reason)
        result.unavailable = True
        log.warning("%s of %s: %s", kind.table, parent.table, exc)
    return result


def fetch_each(
    client: InsightlyClient,
    kind: PerRecord,
    parent: Entity,
    ids: Sequence[Any],
    endpoints: Endpoints,
) -> Iterator[tuple[Any, list[dict] | None]]:
    """(parent id, its items) for each id, in order: None when the parent answered 403,
    404 or 405 (gone since it was read). Three such answers in a row mark the endpoint
    unavailable (read/endpoints.py) and raise EntityUnavailable.

    Until the endpoint has answered 200 in this sync, one request at a time; then a bounded
    window of requests is in flight, as for the pages of a read (api/paging.py); on an
    error the requests not sent yet are cancelled and the error raised in order.
    """
    ids = list(ids)
    while ids and not endpoints.proven(parent.table, kind.path):
        parent_id = ids.pop(0)
        yield parent_id, _judged(endpoints, kind, parent, _items(client, kind, parent, parent_id))
    if not ids:
        return
    pending = iter(ids)
    window: deque[tuple[Any, Future]] = deque()
    with ThreadPoolExecutor(client.page_concurrency, thread_name_prefix="activity") as pool:

        def submit() -> None:
            parent_id = next(pending, _END)
            if parent_id is not _END:
                window.append((parent_id, pool.submit(_items, client, kind, parent, parent_id)))

        for _ in range(client.page_concurrency * 2):
            submit()
        try:
            while window:
                parent_id, future = window.popleft()
                items = _judged(endpoints, kind, parent, future.result())
                submit()
                yield parent_id, items
        finally:
            for _, future in window:
                future.cancel()


_END = object()


def _items(
    client: InsightlyClient, kind: PerRecord, parent: Entity, parent_id: Any
) -> tuple[list[dict] | None, int | None]:
    """A parent's items and None, or None and the status that refused them."""
    path = f"{parent.path}/{parent_id}/{kind.path}"
    try:
        return [item for page in client.pages(path, table=kind.table) for item in page], None
    except EntityUnavailable as exc:
        return None, exc.status


def _judged(
    endpoints: Endpoints,
    kind: PerRecord,
    parent: Entity,
    answer: tuple[list[dict] | None, int | None],
) -> list[dict] | None:
    """The items; a refusal counts toward marking the endpoint unavailable."""
    items, status = answer
    if endpoints.answered(parent.table, kind.path, status):
        reason = endpoints.reason(endpoints.key(parent.table, kind.path))
        raise EntityUnavailable(f"{parent.path}/{{id}}/{kind.path}", status or 404, reason)
    return items


def _available(
    client: InsightlyClient, kind: PerRecord, table: ParentTable, endpoints: Endpoints
) -> bool:
    """Whether to read this parent's lists: not while the endpoint is marked unavailable
    (the summary and status name it)."""
    if endpoints.available(table.entity.table, kind.path):
        return True
    key = endpoints.key(table.entity.table, kind.path)
    client.stats.skip(kind.table, endpoints.reason(key))
    return False


def _flush(rows: ActivityRows, buffer: list[dict]) -> Iterator[Any]:
    """The buffered items as hinted Arrow tables, the buffer emptied."""
    if not buffer:
        return
    for name, table in rows.tables(buffer):
        yield rows.hinted(name, table)
    buffer.clear()
