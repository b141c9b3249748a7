"""The id check's verdicts: which records to fetch, which are delete candidates, and their
confirmation with one GET each (404: deleted), as far as the quota allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dlt

from insightly.api.client import InsightlyClient
from insightly.api.paging import page_count
from insightly.api.stamps import parse_stamp, updated_after_param, utc_stamp
from insightly.catalogue.entities import Entity
from insightly.deletes.id_read import IdRead
from insightly.errors import EntityUnavailable, QuotaExhausted
from insightly.read.incremental import CURSOR_STATE
from insightly.read.walk import resource_state

log = logging.getLogger(__name__)
REWIND_MIN = 10  # fewer records to fetch than this: GET them without pricing a re-read
VERIFY_MIN = 20  # delete candidates always confirmed one by one up to this many


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


def stored_cursor(pipeline: dlt.Pipeline, table: str) -> str | None:
    value = resource_state(pipeline, table).get(CURSOR_STATE)
    return str(value) if value else None


def rewind_to(
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
            read.on_trust, read.suspects = list(read.suspects), []
            return records, gone, None
        log.warning("%s: the id read missed records; confirming each candidate", entity.table)
        read.verify, read.suspects = read.suspects, []
