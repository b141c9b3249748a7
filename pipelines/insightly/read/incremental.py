"""Incremental reads: records updated after the stored cursor, read across runs if need be.

Incremental entities read `/{path}/Search?updated_after_utc=<cursor - lookback>`. The API's
filter is exclusive and has one-second precision, so a look-back of at least one second is
needed to see records updated in the same second as the stored cursor; merge on the primary
key makes the re-read rows harmless.

The cursor is kept in dlt's resource state rather than with `dlt.sources.incremental`:
dlt's boundary de-duplication would drop a record re-served with the same DATE_UPDATED_UTC
but new content, `lag` crashes on this date format, and its cursor advances to the newest
row yielded even when the read stopped half way (see docs/sync.md, "How dlt behaves where
we depend on it").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt

from insightly.api.client import InsightlyClient
from insightly.api.paging import PAGE_SIZE, PageProgress
from insightly.api.stamps import parse_stamp, parse_utc, updated_after_param, utc_stamp
from insightly.catalogue.entities import Entity
from insightly.errors import QuotaExhausted
from insightly.read import page_worker
from insightly.read.entity_rows import EntityRows
from insightly.read.page_facts import ConvertedPage, page_facts
from insightly.read.page_pipe import WorkerPages
from insightly.read.pages import base_params, drifted, read_pages
from insightly.read.walk import ID_CHECK_STATE, WALK_STATE, ChunksSeen, RecordKeys, Walk

log = logging.getLogger(__name__)
CURSOR_STATE = "last_date_updated_utc"  # "YYYY-MM-DD HH:MM:SS", UTC
DRIFT_STATE = "drifted_runs"  # consecutive incremental reads that moved while read
MAX_DRIFT_RUNS = 5


def incremental_records(
    client: InsightlyClient,
    entity: Entity,
    start_date: datetime | None,
    lookback: int,
    tables: Callable[[], EntityRows] | None = None,
) -> Iterator[list[dict] | ConvertedPage]:
    """Records updated after the stored cursor (minus the look-back).

    The cursor lives in the resource's dlt state and only moves once the whole result has
    been read. dlt's `incremental` would move it to the newest row of whatever was yielded,
    so a read stopped half way (daily quota, a page that failed) over results in no
    particular order would skip the unread rows for good.

    A read too large for one run is a walk (walk.py): it stops at the daily quota or after
    `client.pages_per_run` pages, keeps its place in the state, and the next run continues
    at the next unread page. The next chunk of the same sync continues exactly there, and
    the walk is verified over all its chunks when it completes, like a read done in one
    run. A walk continued in a later sync starts walk.OVERLAP records before it, for
    records that moved back meanwhile; when such a walk (or a chunked one that moved)
    completes, the cursor becomes the time the walk began (so the next sync re-reads
    whatever changed in the days it took), and the table's ids are checked once
    (deletes/check.py) for records that moved between its pages.

    `tables`: the run's EntityRows; with a page worker (`page_workers`) a large read's pages
    are converted there (page_pipe.py) and come as ConvertedPages, their facts with them.
    """
    state = dlt.current.resource_state()
    fetched = client.stats.take_refetch(entity.table)
    if fetched is not None:  # records the id check fetched one by one: load just those
        yield from _fetched_pages(client, entity, fetched)
        return
    _rewind(state, client.stats.rewind.pop(entity.table, None))
    stored = parse_utc(state.get(CURSOR_STATE))
    walk, start = _walk(state, stored, start_date, lookback, client.stats.sync)
    params = base_params(entity)
    if walk.after is not None:
        params["updated_after_utc"] = walk.after
    newest = parse_utc(walk.newest) if walk.newest else None
    if newest is None and isinstance(stored, datetime):
        newest = stored
    totals: list[int] = []
    keys, keys_of = RecordKeys(), entity.primary_key
    progress = PageProgress()
    pages = read_pages(
        client,
        entity,
        entity.list_path,
        params,
        totals=totals,
        start=start,
        done=walk.done,
        max_pages=client.pages_per_run,
        progress=progress,
        decode=_decode(tables),
    )
    try:
        for page in pages:
            facts = page.facts if isinstance(page, ConvertedPage) else page_facts(page, keys_of)
            client.stats.count_rows(entity.table, facts.count)
            keys.add_ids(facts.ids, single=len(keys_of) == 1)
            page_newest = facts.newest
            if page_newest is not None and (newest is None or page_newest > newest):
                newest = page_newest
            _record_page(state, walk, progress, totals, newest)
            yield page
    except QuotaExhausted as exc:
        # Load what was read; the walk keeps its place, so the next run reads on from the
        # first unread page with the same filter.
        client.stats.stop_for_quota(entity.table, str(exc))
        _leave(client, entity, state, walk)
        return
    if entity.table in client.stats.skipped:
        return
    if not progress.complete:  # the page budget of this run: the runner runs it again
        client.stats.pause(entity.table)
        if not walk.resumed:  # the next chunk of this sync verifies the walk as a whole
            client.stats.chunks_of(entity.table, ChunksSeen).add(totals, keys)
        _leave(client, entity, state, walk)
        return
    state.pop(WALK_STATE, None)
    seen = client.stats.take_chunks(entity.table)
    if walk.resumed:
        _complete_resumed(client, entity, state, walk)
    elif walk.runs > 1:
        _complete_in_chunks(client, entity, state, walk, seen, totals, keys, newest)
    else:
        _complete_in_one_run(client, entity, state, walk, drifted(totals, keys), newest)


def _decode(tables: Callable[[], EntityRows] | None) -> WorkerPages | None:
    """The worker's decoding of a large read's pages, when a page worker may run."""
    if tables is None or page_worker.MAX_WORKERS < 1:
        return None
    return WorkerPages(tables)


def _complete_in_one_run(
    client: InsightlyClient,
    entity: Entity,
    state: dict,
    walk: Walk,
    moved: bool,
    newest: datetime | None,
) -> None:
    """A read done in one run is complete: move the cursor to its newest row, unless the
    read moved under its offsets (`moved`: the totals changed, or the distinct records read
    don't add up to the total)."""
    if _moved(walk, moved, newest):
        # Offsets moved under the read (records created, updated or deleted between two
        # pages), so some record may have been skipped. Its DATE_UPDATED_UTC can be older
        # than anything read, so the cursor must stay: the next run reads the window again.
        # Should the API's X-Total-Count never add up, the cursor moves after a few tries
        # rather than re-reading the same window forever.
        client.stats.note_drift(entity.table)
        state[DRIFT_STATE] = state.get(DRIFT_STATE, 0) + 1
        if state[DRIFT_STATE] < MAX_DRIFT_RUNS:
            log.warning("%s changed while it was read; the next sync re-reads it", entity.table)
            return
        log.warning("%s: X-Total-Count never matched the records read", entity.table)
    state[DRIFT_STATE] = 0
    if newest is not None:
        state[CURSOR_STATE] = utc_stamp(newest)


def _moved(walk: Walk, moved: bool, newest: datetime | None) -> bool:
    """Did the result move under the read's offsets? `moved`: the totals changed, or the
    distinct records read don't add up to the total (see `drifted`). A record updated after
    the read began changed during it too: the offsets may have moved even when creates and
    deletes cancel out in X-Total-Count."""
    return moved or (newest is not None and newest >= parse_stamp(walk.started))


def _complete_in_chunks(
    client: InsightlyClient,
    entity: Entity,
    state: dict,
    walk: Walk,
    seen: ChunksSeen | None,
    totals: list[int],
    keys: RecordKeys,
    newest: datetime | None,
) -> None:
    """A walk read in several chunks (pipeline runs) of this one sync is complete.

    Each chunk began exactly where the one before stopped, and this sync saw every page:
    verified over all of its chunks like a read done in one run (the totals the same on
    every page, the distinct records adding up to them, none updated after the walk
    began), it is complete like one, with no id check. Not verified (records moved during
    a chunk or while the one before was loaded), it is completed like a walk that spanned
    syncs: the cursor becomes when the walk began and its ids are checked at once. Keeping
    the cursor instead (a single read's rule) would re-read a window of more than one chunk
    on every sync the table keeps changing, up to MAX_DRIFT_RUNS times; the id check costs
    one brief read, finds what the walk skipped in this sync, and finds deletes as well.
    """
    if seen is None:  # nothing kept of the earlier chunks (never expected): can't verify
        moved = True
    else:
        seen.add(totals, keys)
        moved = drifted(seen.totals, seen.keys)
    if not _moved(walk, moved, newest):
        _complete_in_one_run(client, entity, state, walk, False, newest)
        client.stats.note_walk_done(entity.table, id_check=False)
        return
    client.stats.note_drift(entity.table)
    log.warning(
        "%s changed while it was read in %d chunks; its ids are checked", entity.table, walk.runs
    )
    _complete_resumed(client, entity, state, walk)


def _walk(
    state: dict, stored: Any, start_date: datetime | None, lookback: int, sync: str
) -> tuple[Walk, int]:
    """The read to continue and the offset to read from, or a new one from the stored
    cursor minus the look-back. `sync`: this sync's id (a walk's next chunk in the same
    sync continues exactly where it stopped; one resumed in a later sync spans syncs).

    A walk that never got past its first page starts afresh (a new start time): nothing
    of it was read, so it was not resumed.
    """
    saved = state.get(WALK_STATE)
    if saved:
        walk = Walk.from_state(saved)
        if walk.started_reading:
            return walk, walk.resume(sync)
        return Walk.begin(walk.after, sync), 0
    after = stored - timedelta(seconds=lookback) if isinstance(stored, datetime) else start_date
    return Walk.begin(updated_after_param(after) if after is not None else None, sync), 0


def _record_page(
    state: dict, walk: Walk, progress: PageProgress, totals: list[int], newest: Any
) -> None:
    """Save the walk's place after a page, so a stop right after it resumes behind it."""
    walk.advance(progress.offsets[-1], PAGE_SIZE)
    if walk.first_total is None and totals:
        walk.first_total = totals[0]
    if isinstance(newest, datetime):
        walk.newest = utc_stamp(newest)
    state[WALK_STATE] = walk.as_state()


def _leave(client: InsightlyClient, entity: Entity, state: dict, walk: Walk) -> None:
    """Keep an unfinished walk for the next run and say how far it got."""
    state[WALK_STATE] = walk.as_state()
    client.stats.note_walk(entity.table, walk.skip, walk.first_total)


def _complete_resumed(client: InsightlyClient, entity: Entity, state: dict, walk: Walk) -> None:
    """A walk read over several syncs (or in chunks that moved) is complete.

    Records updated while it waited between runs are caught by moving the cursor only to
    when the walk began: the next sync re-reads everything changed since. Records that
    moved to an offset already read (a delete before them; with results ordered by update
    time, an update) are found by one id check of the table (deletes/check.py). The in-run drift
    rule does not apply: the pages were read days apart, the totals always differ.
    """
    state[CURSOR_STATE] = walk.started
    state[DRIFT_STATE] = 0
    state[ID_CHECK_STATE] = utc_stamp(datetime.now(timezone.utc))
    client.stats.note_walk_done(entity.table)
    log.info(
        "%s: read over %d runs; its ids are checked for records that moved meanwhile",
        entity.table,
        walk.runs,
    )


def _rewind(state: dict, to: str | None) -> None:
    """Move the cursor back (the id check found many records the warehouse missed)."""
    if to is None:
        return
    stored = parse_utc(state.get(CURSOR_STATE))
    if not isinstance(stored, datetime) or parse_stamp(to) < stored:
        state[CURSOR_STATE] = to


def _fetched_pages(
    client: InsightlyClient, entity: Entity, records: list[dict]
) -> Iterator[list[dict]]:
    """Records the id check fetched one by one, in pages like any read."""
    for start in range(0, len(records), PAGE_SIZE):
        page = [dict(r) for r in records[start : start + PAGE_SIZE]]
        client.stats.count_rows(entity.table, len(page))
        yield page
