"""The id check: deleted, missing and stale records, found by reconciling ids.

Insightly has no deleted-records feed (insightly-api.md 7), so on its own cadence each
incremental table's ids are read with `brief=true` pages (the same number of requests as a
full read, far fewer bytes) and compared with the warehouse after the load:

- a record the warehouse holds, that the API no longer lists, and that was not updated
  since the id read began, is marked `_deleted_at = <time of detection>` (the staging views
  leave it out), or removed with its child rows when `hard_deletes` is on;
- a record the API lists that the warehouse lacks, holds with an older DATE_UPDATED_UTC,
  or holds marked deleted, and that the next incremental read would not see (updated
  before the cursor), is fetched with one GET per id and loaded by merge; when re-reading
  from its update time costs fewer requests than the GETs, the cursor moves back instead.

The second kind is what a read spanning several syncs (walk.py) leaves behind: a record
that moved to an offset already read while the read waited for its next run. So after such
a read (or a read loaded in chunks of one sync that moved while it was read) the check is
run once whatever the cadence.

The check itself may not fit in a day's quota either (2,000 id pages for a million records
on a 1,000-request plan): its place, and the ids read so far, are kept in files beside the
pipeline (`<pipeline>.idcheck/`), and the next run continues it. An id read that was not
one undisturbed run (it spanned runs, or moved under its offsets) may have skipped an id,
so its delete candidates are confirmed with a GET each (404: deleted) as long as that costs
no more than the id read did; beyond that they are marked, and a record marked wrongly is
unmarked by the next check, which sees it listed.

Written against dlt's sql_client rather than as a dlt resource: marking needs an UPDATE of
rows already loaded, which a merge (whole-row replace) can't express. Fetched records are
handed to the runner, which loads them through the table's own resource.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt

from .catalogue import CURSOR, Entity
from .client import InsightlyClient
from .errors import EntityUnavailable, QuotaExhausted
from .history_store import close_versions
from .incremental import CURSOR_STATE
from .layout import DELETED_AT, child_tables
from .paging import PAGE_SIZE, PageProgress, page_count
from .reading import drifted
from .walk import (
    ID_CHECK_STATE,
    Walk,
    parse_stamp,
    resource_state,
    unfinished_walk,
    updated_after_param,
    utc_stamp,
)
from .warehouse import tables_in

log = logging.getLogger(__name__)
BATCH = 500
REWIND_MIN = 10  # fewer records to fetch than this: GET them without pricing a re-read
VERIFY_MIN = 20  # delete candidates always confirmed one by one up to this many


@dataclass
class DeleteReport:
    """What the checks of one run found and left to do."""

    found: dict[str, int] = field(default_factory=dict)  # records marked (or removed)
    fetched: dict[str, list[dict]] = field(default_factory=dict)  # to load by merge
    rewind: dict[str, str] = field(default_factory=dict)  # tables re-read from this time
    pending: list[str] = field(default_factory=list)  # checks that continue next run
    quota_stop: str | None = None
    _commits: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def commit(self) -> None:
        """The fetched records are loaded: record which checks are finished."""
        for step in self._commits:
            step()
        self._commits.clear()


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

    def last(self, table: str) -> datetime | None:
        stamp = self.checked.get(table)
        return datetime.fromisoformat(stamp) if stamp else None

    def due(self, table: str, cadence_hours: float, now: datetime) -> bool:
        last = self.last(table)
        if last is None or cadence_hours <= 0:
            return True
        return now - last >= timedelta(hours=cadence_hours)

    def mark(self, table: str, now: datetime) -> None:
        self.checked[table] = now.isoformat()
        self.path.write_text(json.dumps(self.checked, indent=1, sort_keys=True))


@dataclass
class IdRead:
    """One table's id check in progress (saved after every page and every stop)."""

    began: str  # ISO time the check began; stamped into the CheckLog when it completes
    walk: dict[str, Any]  # the id read's place (walk.Walk: skip, done, runs)
    settled: bool | None = None  # after the read: one undisturbed run, absences are proof
    fetch: list[Any] | None = None  # after the read: ids to GET and load by merge
    verify: list[Any] | None = None  # after the read: delete candidates to confirm by GET
    # candidates beyond the GET budget, decided by the sample in `verify`
    suspects: list[Any] | None = None
    alive: int = 0  # confirmed candidates that turned out to exist (the read missed them)

    @classmethod
    def begin(cls) -> IdRead:
        walk = Walk.begin(None)
        return cls(began=datetime.now(timezone.utc).isoformat(), walk=walk.as_state())

    @property
    def since(self) -> str:
        """Records updated after this may have changed during the check: never deleted."""
        return str(self.walk["started"])


class IdFiles:
    """A check's progress (JSON) and the ids it read (one JSON [id, updated] per line)."""

    def __init__(self, pipeline: dlt.Pipeline, table: str) -> None:
        root = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.idcheck"
        self.progress = root / f"{table}.json"
        self.ids_path = root / f"{table}.ids"

    def load(self) -> IdRead | None:
        try:
            return IdRead(**json.loads(self.progress.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, read: IdRead) -> None:
        self.progress.parent.mkdir(parents=True, exist_ok=True)
        self.progress.write_text(json.dumps(asdict(read)))

    def add(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        self.ids_path.parent.mkdir(parents=True, exist_ok=True)
        with self.ids_path.open("a") as out:
            out.writelines(json.dumps(list(pair)) + "\n" for pair in pairs)

    def ids(self) -> dict[Any, str | None]:
        """Every id read, with its DATE_UPDATED_UTC (the last one read wins)."""
        seen: dict[Any, str | None] = {}
        if self.ids_path.exists():
            with self.ids_path.open() as lines:
                for line in lines:
                    record_id, updated = json.loads(line)
                    seen[record_id] = updated
        return seen

    def clear(self) -> None:
        self.progress.unlink(missing_ok=True)
        self.ids_path.unlink(missing_ok=True)


def read_ids(client: InsightlyClient, entity: Entity, read: IdRead, files: IdFiles) -> None:
    """Read (or go on reading) the entity's ids; QuotaExhausted leaves the place saved."""
    walk = Walk.from_state(read.walk)
    start = walk.resume() if walk.started_reading else 0
    pk = entity.primary_key[0]
    totals: list[int] = []
    keys: set[tuple] = set()
    progress = PageProgress()
    pages = client.pages(
        entity.path,
        {"brief": "true"},
        table=entity.table,
        totals=totals,
        start=start,
        done=walk.done,
        progress=progress,
    )
    try:
        for page in pages:
            files.add((r.get(pk), r.get(CURSOR)) for r in page)
            keys.update((r.get(pk),) for r in page)
            walk.advance(progress.offsets[-1], PAGE_SIZE)
            read.walk = walk.as_state()
            files.save(read)
    finally:
        read.walk = walk.as_state()
        files.save(read)
    read.settled = not walk.resumed and not drifted(totals, keys)
    files.save(read)


def _chunks(values: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _stamp(value: Any) -> str | None:
    return utc_stamp(value) if isinstance(value, datetime) else None


def warehouse_rows(pipeline: dlt.Pipeline, entity: Entity) -> dict[Any, tuple[str | None, bool]]:
    """Every record of the table: id -> (DATE_UPDATED_UTC stamp, marked deleted)."""
    with pipeline.sql_client() as sql:
        if entity.table not in tables_in(sql):
            return {}
        name = sql.make_qualified_table_name(entity.table)
        key = sql.escape_column_name(entity.primary_key[0].lower())
        updated = sql.escape_column_name(CURSOR.lower())
        deleted = sql.escape_column_name(DELETED_AT)
        rows = sql.execute_sql(f"select {key}, {updated}, {deleted} from {name}") or []
    return {r[0]: (_stamp(r[1]), r[2] is not None) for r in rows}


def mark_deleted(pipeline: dlt.Pipeline, entity: Entity, gone: Sequence[Any], hard: bool) -> int:
    """Mark (or remove) warehouse records of `entity` that the API no longer has."""
    if not gone:
        return 0
    table = entity.table
    pk = entity.primary_key[0].lower()
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name(table)
        key, deleted = sql.escape_column_name(pk), sql.escape_column_name(DELETED_AT)
        held = tables_in(sql)
        children = [t for t in child_tables(entity, pipeline.default_schema.naming) if t in held]
        for chunk in _chunks(list(gone)):
            marks = ", ".join(["%s"] * len(chunk))
            # the record, its child rows (keyed by its id) and its history in one transaction
            with sql.begin_transaction():
                close_versions(sql, entity, chunk)
                if hard:
                    for child in children:
                        sql.execute_sql(
                            f"delete from {sql.make_qualified_table_name(child)} "
                            f"where {key} in ({marks})",
                            *chunk,
                        )
                    sql.execute_sql(f"delete from {name} where {key} in ({marks})", *chunk)
                else:
                    sql.execute_sql(
                        f"update {name} set {deleted} = %s where {key} in ({marks}) "
                        f"and {deleted} is null",
                        datetime.now(timezone.utc),
                        *chunk,
                    )
    return len(gone)


@dataclass
class Findings:
    """What comparing the ids read with the warehouse found."""

    fetch: dict[Any, str | None]  # id -> the API's DATE_UPDATED_UTC
    candidates: list[Any]  # held, not listed, not updated since the check began


def compare(
    seen: dict[Any, str | None],
    stored: dict[Any, tuple[str | None, bool]],
    cursor: str | None,
    since: str,
) -> Findings:
    """Ids to fetch and delete candidates.

    A record updated at or after the cursor is left to the next incremental read, which
    re-reads from the cursor minus at least a second.
    """
    fetch: dict[Any, str | None] = {}
    for record_id, updated in seen.items():
        if cursor is not None and updated is not None and updated >= cursor:
            continue
        held = stored.get(record_id)
        if held is None or held[1] or (updated and (held[0] is None or updated > held[0])):
            fetch[record_id] = updated
    candidates = [
        record_id
        for record_id, (updated, deleted) in stored.items()
        if not deleted and record_id not in seen and (updated is None or updated < since)
    ]
    return Findings(fetch, candidates)


def _cursor(pipeline: dlt.Pipeline, table: str) -> str | None:
    value = resource_state(pipeline, table).get(CURSOR_STATE)
    return str(value) if value else None


def _rewind_to(
    client: InsightlyClient, entity: Entity, fetch: dict[Any, str | None], listed: int
) -> str | None:
    """A cursor to re-read from, when that costs fewer requests than one GET per record.

    Priced as the re-read plus another id check of the `listed` records, which a re-read
    spanning runs forces in turn.
    """
    times = [t for t in fetch.values() if t]
    if len(fetch) < REWIND_MIN or len(times) < len(fetch):
        return None
    earliest = parse_stamp(min(times))
    after = updated_after_param(earliest - timedelta(seconds=1))
    params = {"updated_after_utc": after, **({"brief": "true"} if entity.brief_param else {})}
    total = client.total(entity.list_path, params, table=entity.table)
    if total is None or page_count(total) + page_count(listed) >= len(fetch):
        return None
    return utc_stamp(earliest)


def conclude(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entity: Entity,
    read: IdRead,
    files: IdFiles,
    report: DeleteReport,
    hard: bool,
) -> None:
    """The id read is complete: mark what is proven deleted, plan the GETs or a rewind."""
    seen = files.ids()
    findings = compare(
        seen, warehouse_rows(pipeline, entity), _cursor(pipeline, entity.table), read.since
    )
    table = entity.table
    verify: list[Any] = []
    if read.settled:
        report.found[table] = mark_deleted(pipeline, entity, findings.candidates, hard)
    elif len(findings.candidates) <= max(VERIFY_MIN, page_count(len(seen))):
        verify = findings.candidates
    else:
        verify, read.suspects = sample(findings.candidates, VERIFY_MIN)
        log.warning(
            "%s: %d records not listed; a sample of %d is confirmed first",
            table,
            len(findings.candidates),
            len(verify),
        )
    rewind = _rewind_to(client, entity, findings.fetch, len(seen))
    if rewind is not None:
        report.rewind[table] = rewind
        findings.fetch = {}
    read.fetch, read.verify = list(findings.fetch), verify
    files.save(read)


def sample(values: list[Any], n: int) -> tuple[list[Any], list[Any]]:
    """`n` values spread evenly over the sorted list, and the rest."""
    ordered = sorted(values, key=str)
    picked = {round(i * (len(ordered) - 1) / max(1, n - 1)) for i in range(n)}
    return (
        [v for i, v in enumerate(ordered) if i in picked],
        [v for i, v in enumerate(ordered) if i not in picked],
    )


def fetch_one(client: InsightlyClient, entity: Entity, record_id: Any) -> dict | None:
    """The record as the API has it now; None when it is gone (404)."""
    try:
        record = client.get_json(f"{entity.path}/{record_id}", table=entity.table)
    except EntityUnavailable as exc:
        if exc.status == 404:
            return None
        raise
    return record if isinstance(record, dict) else None


@dataclass
class Fetched:
    """What the GETs of one run got: records to load, ids gone, ids left for later."""

    records: list[dict] = field(default_factory=list)
    gone: list[Any] = field(default_factory=list)
    fetch: list[Any] = field(default_factory=list)  # not fetched yet
    verify: list[Any] = field(default_factory=list)  # not confirmed yet
    alive: int = 0  # candidates confirmed to exist
    stopped: QuotaExhausted | None = None


def fetch_and_confirm(client: InsightlyClient, entity: Entity, read: IdRead) -> Fetched:
    """GET each delete candidate (404: deleted) and each id to fetch, as far as the quota
    allows; a candidate that still exists is fetched like the others."""
    got = Fetched(fetch=list(read.fetch or []), verify=list(read.verify or []))
    try:
        for pending in (got.verify, got.fetch):
            while pending:
                record = fetch_one(client, entity, pending[0])
                (got.gone.append(pending[0]) if record is None else got.records.append(record))
                got.alive += record is not None and pending is got.verify
                pending.pop(0)
    except QuotaExhausted as exc:
        got.stopped = exc
    return got


def _forced(pipeline: dlt.Pipeline, table: str, checks: CheckLog) -> bool:
    """A read that spanned syncs (or moved in chunks) completed after the last check."""
    required = resource_state(pipeline, table).get(ID_CHECK_STATE)
    if not required:
        return False
    last = checks.last(table)
    return last is None or last < parse_stamp(str(required))


def check_table(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entity: Entity,
    files: IdFiles,
    read: IdRead,
    checks: CheckLog,
    report: DeleteReport,
    hard: bool,
) -> None:
    """Run one table's check as far as the quota allows (QuotaExhausted: saved, re-raised).

    Records fetched are loaded by the runner before `report.commit()`; until then their ids
    stay in the saved progress, so a kill in between fetches them again next time.
    """
    table = entity.table
    if read.settled is None:
        read_ids(client, entity, read, files)
        conclude(pipeline, client, entity, read, files, report, hard)
    records, gone, stopped = confirm_all(client, entity, read)
    report.found[table] = report.found.get(table, 0) + mark_deleted(pipeline, entity, gone, hard)
    if records:
        report.fetched[table] = records
    left = IdRead(**asdict(read))
    pk = entity.primary_key[0]
    read.fetch = [r.get(pk) for r in records] + (read.fetch or [])
    files.save(read)

    def finish() -> None:
        if left.fetch or left.verify or left.suspects:
            files.save(left)
            return
        checks.mark(table, datetime.fromisoformat(left.began))
        files.clear()

    report._commits.append(finish)
    if stopped is not None:
        raise stopped


def confirm_all(
    client: InsightlyClient, entity: Entity, read: IdRead
) -> tuple[list[dict], list[Any], QuotaExhausted | None]:
    """The GETs of a check, as far as the quota allows; `read` keeps what is left.

    Suspects (candidates beyond the GET budget) are decided by the sample confirmed
    before them: all gone, a mass delete, so they are marked; any still there, the id read
    missed records, so every suspect is confirmed one by one too.
    Returns the records fetched, the ids gone, and the quota stop if any.
    """
    records: list[dict] = []
    gone: list[Any] = []
    while True:
        got = fetch_and_confirm(client, entity, read)
        records += got.records
        gone += got.gone
        read.fetch, read.verify, read.alive = got.fetch, got.verify, read.alive + got.alive
        if got.stopped is not None or read.verify or not read.suspects:
            return records, gone, got.stopped
        if not read.alive:
            gone += read.suspects
            read.suspects = []
            return records, gone, None
        log.warning("%s: the id read missed records; confirming each candidate", entity.table)
        read.verify, read.suspects = read.suspects, []


def reconcile(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entities: Sequence[Entity],
    *,
    cadence_hours: float,
    hard: bool,
    first_sync: set[str],
) -> DeleteReport:
    """Check every table that is due, forced or has a check in progress.

    A table loaded for the first time this run is only stamped (its read just listed every
    record), unless that read spanned syncs or moved; a table whose read is still unfinished
    waits.
    The daily quota stops the checks cleanly: each keeps its place for the next run.
    Call `report.commit()` once the fetched records are loaded.
    """
    report = DeleteReport()
    log_path = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.deletes.json"
    checks = CheckLog(log_path)
    for entity in entities:
        table = entity.table
        if unfinished_walk(pipeline, table) is not None:
            continue
        now = datetime.now(timezone.utc)
        files = IdFiles(pipeline, table)
        read = files.load()
        if read is None:
            forced = _forced(pipeline, table, checks)
            if table in first_sync and not forced:
                checks.mark(table, now)
                continue
            if not forced and not checks.due(table, cadence_hours, now):
                continue
            read = IdRead.begin()
        try:
            check_table(pipeline, client, entity, files, read, checks, report, hard)
        except EntityUnavailable:
            files.clear()
        except QuotaExhausted as exc:
            report.quota_stop = str(exc)
            report.pending.append(table)
            break
    return report


def discard_checks(pipeline: dlt.Pipeline, tables: Iterable[str]) -> None:
    """Forget checks in progress (a full refresh drops the tables they compare with)."""
    for table in tables:
        IdFiles(pipeline, table).clear()
