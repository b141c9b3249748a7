"""The dlt source: one generic factory turns the catalogue into resources.

Incremental entities read `/{path}/Search?updated_after_utc=<cursor - lookback>`. The API's
filter is exclusive and has one-second precision, so a look-back of at least one second is
needed to see records updated in the same second as the stored cursor; merge on the primary
key makes the re-read rows harmless.

The cursor is kept in dlt's resource state rather than with `dlt.sources.incremental`:
dlt's boundary de-duplication would drop a record re-served with the same DATE_UPDATED_UTC
but new content, `lag` crashes on this date format, and its cursor advances to the newest
row yielded even when the read stopped half way (see ../shared/dlt-notes.md 2.2-2.4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import pendulum
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.sources import DltResource

from .catalogue import (
    CURSOR,
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    ENTITIES,
    TAG_RECORD_TYPES,
    TAGS,
    Entity,
    Load,
    Paging,
    custom_object_entity,
)
from .client import PAGE_SIZE, InsightlyClient, PageProgress
from .errors import EntityUnavailable, QuotaExhausted
from .layout import EntityRows
from .records import parse_utc, with_constants
from .settings import resolve_connection
from .walk import (
    ID_CHECK_STATE,
    WALK_STATE,
    ChunksSeen,
    Walk,
    parse_stamp,
    updated_after_param,
    utc_stamp,
)

log = logging.getLogger(__name__)
CURSOR_STATE = "last_date_updated_utc"  # "YYYY-MM-DD HH:MM:SS", UTC
REFRESHED_STATE = "refreshed_at"  # when a full read last completed, UTC
FULL_READ_ATTEMPTS = 3
DRIFT_STATE = "drifted_runs"  # consecutive incremental reads that moved while read
MAX_DRIFT_RUNS = 5
_naming = NamingConvention()


def custom_table_name(object_name: str, taken: set[str]) -> str:
    """`Fruit__c` -> `custom_fruit`; a clash gets a numeric suffix, in name order."""
    base = object_name[:-3] if object_name.lower().endswith("__c") else object_name
    name = "custom_" + _naming.normalize_table_identifier(base).strip("_")
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def custom_object_entities(definitions: list[dict]) -> list[Entity]:
    """One incremental entity per /CustomObjects definition, named in OBJECT_NAME order."""
    taken: set[str] = set()
    names = sorted(str(d["OBJECT_NAME"]) for d in definitions if d.get("OBJECT_NAME"))
    return [custom_object_entity(name, custom_table_name(name, taken)) for name in names]


def _read(
    client: InsightlyClient,
    entity: Entity,
    path: str,
    params: dict[str, Any],
    extra: dict[str, Any] | None = None,
    totals: list[int] | None = None,
    **paging: Any,
) -> Iterator[list[dict]]:
    """Yield shaped pages; a 403/404 on the first request skips the entity.

    `paging` (start, done, max_pages, progress) resumes a paged read, see client.pages.
    """
    first = True
    try:
        if entity.paging is Paging.NONE:
            page = client.get_list(path, params, table=entity.table)
            pages: Iterator[list[dict]] = iter([page] if page else [])
            if paging.get("progress") is not None:
                paging["progress"].complete = True
        else:
            pages = client.pages(path, params, table=entity.table, totals=totals, **paging)
        for page in pages:
            first = False
            yield with_constants(page, extra)
    except EntityUnavailable as exc:
        if not first:  # half an entity would advance the cursor past rows never read
            raise
        client.stats.skip(entity.table, exc.reason)
        log.warning("skipping %s: %s", entity.table, exc)


def _mark_refreshed() -> None:
    """Remember when a full read completed, for the lookup refresh cadence."""
    stamp = utc_stamp(datetime.now(timezone.utc))
    dlt.current.resource_state()[REFRESHED_STATE] = stamp


def _base_params(entity: Entity) -> dict[str, Any]:
    params: dict[str, Any] = dict(entity.params)
    if entity.brief_param:
        params["brief"] = "false"
    return params


def incremental_records(
    client: InsightlyClient, entity: Entity, start_date: datetime | None, lookback: int
) -> Iterator[list[dict]]:
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
    (deletes.py) for records that moved between its pages.
    """
    state = dlt.current.resource_state()
    fetched = client.stats.take_refetch(entity.table)
    if fetched is not None:  # records the id check fetched one by one: load just those
        yield from _fetched_pages(client, entity, fetched)
        return
    _rewind(state, client.stats.rewind.pop(entity.table, None))
    stored = parse_utc(state.get(CURSOR_STATE))
    walk, start = _walk(state, stored, start_date, lookback, client.stats.sync)
    params = _base_params(entity)
    if walk.after is not None:
        params["updated_after_utc"] = walk.after
    newest = parse_utc(walk.newest) if walk.newest else None
    if newest is None and isinstance(stored, datetime):
        newest = stored
    totals: list[int] = []
    keys: set[tuple] = set()
    progress = PageProgress()
    pages = _read(
        client,
        entity,
        entity.list_path,
        params,
        totals=totals,
        start=start,
        done=walk.done,
        max_pages=client.pages_per_run,
        progress=progress,
    )
    try:
        for page in pages:
            client.stats.count_rows(entity.table, len(page))
            for record in page:
                keys.add(tuple(record.get(k) for k in entity.primary_key))
                value = parse_utc(record.get(CURSOR))
                if isinstance(value, datetime) and (newest is None or value > newest):
                    newest = value
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
    keys: set[tuple],
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
    time, an update) are found by one id check of the table (deletes.py). The in-run drift
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


def drifted(totals: list[int], keys: set[tuple]) -> bool:
    """Did the result set move during a paged read? Totals changed, or the distinct records
    read don't add up to the total (one seen twice means another was skipped)."""
    if not totals:
        return False
    return len(set(totals)) > 1 or len(keys) != totals[-1]


def kept_while_skipped(
    client: InsightlyClient, table: str, pages: Iterator[list[dict]]
) -> Iterator[Any]:
    """The pages of a replace table; when its entity answered 403/404 and nothing was read,
    an empty replace would truncate what earlier syncs loaded, so nothing is loaded as
    append instead: the table is kept until the key can read the entity again."""
    read = False
    for page in pages:
        read = True
        yield page
    if not read and table in client.stats.skipped:
        yield dlt.mark.with_hints([], dlt.mark.make_hints(write_disposition="append"))


def full_records(client: InsightlyClient, entity: Entity) -> Iterator[Any]:
    """Every record of an entity without /Search (lookups, emails).

    The table is replaced, so a read that moved under its offsets is read again (up to
    three times) and the union of the reads is loaded: a record is never lost, and one
    deleted during the read disappears on the next sync.
    """
    yield from kept_while_skipped(client, entity.table, _full_pages(client, entity))


def _full_pages(client: InsightlyClient, entity: Entity) -> Iterator[list[dict]]:
    union: dict[tuple, dict] = {}
    for attempt in range(1, FULL_READ_ATTEMPTS + 1):
        totals: list[int] = []
        pages = list(_read(client, entity, entity.path, _base_params(entity), totals=totals))
        read = {tuple(r.get(k) for k in entity.primary_key): r for p in pages for r in p}
        union.update(read)
        if not drifted(totals, set(read)):
            break
        client.stats.note_drift(entity.table)
        log.warning("%s changed while it was read (attempt %d)", entity.table, attempt)
    if entity.table in client.stats.skipped:
        return  # not refreshed: read again on the next sync
    if union:
        client.stats.count_rows(entity.table, len(union))  # re-reads are not loaded twice
        yield list(union.values())
    _mark_refreshed()


def tag_records(client: InsightlyClient) -> Iterator[Any]:
    """/Tags per record type, in one table keyed by (RECORD_TYPE, TAG_NAME)."""
    yield from kept_while_skipped(client, TAGS.table, _tag_pages(client))


def _tag_pages(client: InsightlyClient) -> Iterator[list[dict]]:
    for record_type in TAG_RECORD_TYPES:
        params = {"record_type": record_type}
        for page in _read(client, TAGS, TAGS.path, params, {"RECORD_TYPE": record_type}):
            client.stats.count_rows(TAGS.table, len(page))
            yield page
    _mark_refreshed()


def _singular(path: str) -> str:
    if path.lower().endswith("__c"):
        return path.upper()
    upper = path.upper()
    if upper.endswith("IES"):
        return upper[:-3] + "Y"
    return upper[:-1] if upper.endswith("S") else upper


def _fields_of(object_path: str, table: str, fields: list[dict]) -> list[dict]:
    """Keep one object's fields, tagged with its table.

    An unknown object name makes the API answer every custom field of the instance
    (insightly-api.md 5.1); such an answer is narrowed to the object asked for.
    """
    owners = {str(f.get("FIELD_FOR", "")).upper() for f in fields}
    if len(owners) > 1:
        wanted = _singular(object_path)
        fields = [f for f in fields if str(f.get("FIELD_FOR", "")).upper() == wanted]
    return [{**f, "OBJECT_TABLE": table} for f in fields]


def custom_field_records(
    client: InsightlyClient, objects: list[tuple[str, str]]
) -> Iterator[list[dict]]:
    """/CustomFields/{object} metadata for every object that has custom fields.

    An object the key can't read (403/404) simply has no metadata rows; its records are
    skipped by their own resource.
    """
    seen: set[tuple[str, str]] = set()
    for object_path, table in objects:
        try:
            fields = client.get_list(f"CustomFields/{object_path}", table=CUSTOM_FIELDS.table)
        except EntityUnavailable:
            continue
        fresh = []
        for field in _fields_of(object_path, table, fields):
            key = (str(field.get("FIELD_FOR")), str(field.get("FIELD_NAME")))
            if key not in seen:
                seen.add(key)
                fresh.append(field)
        if fresh:
            client.stats.count_rows(CUSTOM_FIELDS.table, len(fresh))
            yield fresh
    _mark_refreshed()


def custom_object_records(client: InsightlyClient, definitions: list[dict]) -> Iterator[list]:
    """The /CustomObjects answer fetched for discovery, loaded without a second request."""
    pages = [[dict(d) for d in definitions]] if definitions else []
    if definitions:
        client.stats.count_rows(CUSTOM_OBJECTS.table, len(definitions))
    yield from kept_while_skipped(client, CUSTOM_OBJECTS.table, iter(pages))
    _mark_refreshed()


def discover_custom_objects(client: InsightlyClient) -> list[dict]:
    """/CustomObjects, or none when the plan has no custom objects."""
    try:
        return client.get_list(CUSTOM_OBJECTS.path, table=CUSTOM_OBJECTS.table)
    except EntityUnavailable as exc:
        client.stats.skip(CUSTOM_OBJECTS.table, exc.reason)
        return []


def entity_tables(entity: Entity, read: Callable[..., Iterator[Any]], args: tuple) -> Iterator[Any]:
    """The pages of `read(*args)` as Arrow tables: the entity's and its child tables'
    (layout.py). Anything else a read yields (hints for a table kept while its entity is
    forbidden) passes through."""
    rows: EntityRows | None = None
    for page in read(*args):
        if not isinstance(page, list):
            yield page
        elif page:
            if rows is None:  # the schema is known once extraction runs
                rows = EntityRows(entity, dlt.current.source_schema())
            yield from rows.tables(page)
    if rows is not None and entity.load is Load.FULL:
        yield from rows.empty_children()


def _rows_resource(entity: Entity, read: Callable[..., Iterator[Any]], *args: Any) -> DltResource:
    """One resource per table; every yielded table carries its own hints (layout.py), so
    the resource itself declares no key for its child tables to inherit."""
    disposition = "merge" if entity.load is Load.INCREMENTAL else "replace"
    resource = dlt.resource(entity_tables, name=entity.table, write_disposition=disposition)
    return resource(entity, read, args)


def _entity_resource(
    client: InsightlyClient, entity: Entity, start_date: datetime | None, lookback: int
) -> DltResource:
    if entity.load is Load.FULL:
        return _rows_resource(entity, full_records, client, entity)
    resource = _rows_resource(entity, incremental_records, client, entity, start_date, lookback)
    return resource.parallelize()


def _parse_start(start_date: str | datetime | None) -> datetime | None:
    if start_date is None or start_date == "":
        return None
    if isinstance(start_date, datetime):
        value = start_date
    else:
        value = pendulum.parse(str(start_date), tz="UTC")
    return pendulum.instance(value).in_timezone("UTC")


@dlt.source(name="insightly")
def insightly_source(
    api_key: str = dlt.secrets.value,
    pod: str | None = dlt.config.value,
    base_url: str | None = dlt.config.value,
    start_date: str | None = None,
    lookback_seconds: int = 1,
    client: InsightlyClient | None = None,
) -> Iterator[DltResource]:
    """Every Insightly v3.1 entity, custom objects included.

    Args:
        api_key: the user's API key (secret).
        pod: na1, eu1, au1, ...; ignored when `base_url` is set.
        base_url: replaces the pod's URL (the emulator, a proxy).
        start_date: limits the first load of incremental entities (ISO date or datetime).
        lookback_seconds: re-read window before the stored cursor; at least 1.
        client: an existing client (the CLI passes one to collect run statistics).
    """
    if lookback_seconds < 1:
        raise ValueError("lookback_seconds must be at least 1: updated_after_utc is exclusive")
    # Only explicitly typed columns become timestamps; see records.py.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    if client is None:
        client = InsightlyClient(resolve_connection(api_key, pod, base_url))
    start = _parse_start(start_date)

    for entity in ENTITIES:
        yield _entity_resource(client, entity, start, lookback_seconds)
    yield _rows_resource(TAGS, tag_records, client)

    definitions = discover_custom_objects(client)
    yield _rows_resource(CUSTOM_OBJECTS, custom_object_records, client, definitions)
    custom_entities = custom_object_entities(definitions)
    for entity in (*ENTITIES, *custom_entities):
        if entity.load is Load.INCREMENTAL:
            client.stats.incremental[entity.table] = entity
    for entity in custom_entities:
        yield _entity_resource(client, entity, start, lookback_seconds)

    field_objects = [(e.path, e.table) for e in (*ENTITIES, *custom_entities) if e.custom_fields]
    yield _rows_resource(CUSTOM_FIELDS, custom_field_records, client, field_objects)
