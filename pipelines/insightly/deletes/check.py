"""The id check: deleted, missing and stale records, found by reconciling ids.

Insightly has no deleted-records feed (docs/api.md §9), so on its own cadence each
incremental table's ids are read with `brief=true` pages (the same number of requests as a
full read, far fewer bytes) and compared with the warehouse after the load:

- a record the warehouse holds, that the API no longer lists, and that was not updated
  since the id read began, is marked `_deleted_at = <time of detection>` (the staging views
  leave it out), or removed with its child rows when `hard_deletes` is on;
- a record the API lists that the warehouse lacks, holds with an older DATE_UPDATED_UTC,
  or holds marked deleted, and that the next incremental read would not see (updated
  before the cursor), is fetched with one GET per id and loaded by merge; when re-reading
  from its update time costs fewer requests than the GETs, the cursor moves back instead.

The second kind is what a read spanning several syncs (read/walk.py) leaves behind: a record
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

This module decides when each table is checked (cadence, forced after a spanning read,
resumed after a quota stop) and runs the steps: the id read (id_read.py), the verdicts and
GETs (verdicts.py), the marks in the warehouse (marks.py). Fetched records are
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

from insightly.api.client import InsightlyClient
from insightly.api.paging import page_count
from insightly.api.stamps import parse_stamp
from insightly.catalogue.entities import Entity
from insightly.deletes.id_read import IdFiles, IdRead, read_ids
from insightly.deletes.marks import mark_deleted, warehouse_rows
from insightly.deletes.verdicts import (
    VERIFY_MIN,
    compare,
    confirm_all,
    rewind_to,
    sample,
    stored_cursor,
)
from insightly.errors import EntityUnavailable, QuotaExhausted
from insightly.read.walk import ID_CHECK_STATE, resource_state, unfinished_walk

log = logging.getLogger(__name__)


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
        seen, warehouse_rows(pipeline, entity), stored_cursor(pipeline, entity.table), read.since
    )
    table = entity.table
    verify: list[Any] = []
    if read.settled:  # absent from an undisturbed read: marked, links kept (see check_table)
        report.found[table] = mark_deleted(
            pipeline, entity, findings.candidates, hard, drop_links=False
        )
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
    rewind = rewind_to(client, entity, findings.fetch, len(seen))
    if rewind is not None:
        report.rewind[table] = rewind
        findings.fetch = {}
    read.fetch, read.verify = list(findings.fetch), verify
    read.concluded = True
    files.save(read)


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
    if not read.concluded:  # also a run killed between the read and its verdicts
        conclude(pipeline, client, entity, read, files, report, hard)
    records, gone, stopped = confirm_all(client, entity, read)
    # Links to a deleted record leave the copy only when a GET proved it gone (404). A record
    # marked on trust (a mass delete's suspects; an absence from a read whose creates and
    # deletes cancelled out looks undisturbed) is unmarked by the next check if it exists
    # after all, but the links other records held to it would not come back.
    trusted = set(read.on_trust or [])
    proven = [g for g in gone if g not in trusted]
    found = mark_deleted(pipeline, entity, proven, hard)
    found += mark_deleted(pipeline, entity, sorted(trusted, key=str), hard, drop_links=False)
    read.on_trust = None
    report.found[table] = report.found.get(table, 0) + found
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


def reconcile(
    pipeline: dlt.Pipeline,
    client: InsightlyClient,
    entities: Sequence[Entity],
    *,
    cadence_hours: float,
    hard: bool,
    first_sync: set[str],
    count: Callable[[Entity, DeleteReport], bool] | None = None,
) -> DeleteReport:
    """Check every table that is due, forced or has a check in progress.

    A table loaded for the first time this run is only stamped (its read just listed every
    record), unless that read spanned syncs or moved; a table whose read is still unfinished
    waits. Any other table is handed to `count` (count.py), which finds deletes by
    counting and answers True when it needs the id check after all.
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
        try:
            if read is None:
                forced = _forced(pipeline, table, checks)
                if table in first_sync and not forced:
                    checks.mark(table, now)
                    continue
                counted = not forced and not checks.due(table, cadence_hours, now)
                if counted and (count is None or not count(entity, report)):
                    continue  # not due, and counting found what there was to find
                read = IdRead.begin()
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
