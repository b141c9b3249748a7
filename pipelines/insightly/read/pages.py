"""What every read shares: the pages of a list endpoint, its parameters, and the checks
that tell a read done in one pass from one that moved under its offsets."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from datetime import datetime, timezone
from typing import Any

import dlt

from insightly.api.ahead import read_chunk
from insightly.api.client import InsightlyClient
from insightly.api.paging import require_list
from insightly.api.stamps import utc_stamp
from insightly.catalogue.entities import Entity, Paging
from insightly.errors import EntityUnavailable
from insightly.read.rows import with_constants

log = logging.getLogger(__name__)
REFRESHED_STATE = "refreshed_at"  # when a full read last completed, UTC


def read_pages(
    client: InsightlyClient,
    entity: Entity,
    path: str,
    params: dict[str, Any],
    extra: dict[str, Any] | None = None,
    totals: list[int] | None = None,
    **paging: Any,
) -> Iterator[list[dict]]:
    """Yield shaped pages; a 403/404 on the first request skips the entity.

    `paging` (start, done, max_pages, progress) resumes a paged read, see client.pages; a
    read with a page budget is one chunk of it, the rest read ahead (api/ahead.py).
    """
    first = True
    try:
        if entity.paging is Paging.NONE:
            body = client.get_json(path, params, table=entity.table)
            # Instance and Permissions answer one object: a one-row table
            page = [body] if entity.single and isinstance(body, dict) else require_list(path, body)
            pages: Iterator[list[dict]] = iter([page] if page else [])
            if paging.get("progress") is not None:
                paging["progress"].complete = True
        else:
            pages = read_chunk(client, path, params, table=entity.table, totals=totals, **paging)
        for page in pages:
            first = False
            yield with_constants(page, extra)
    except EntityUnavailable as exc:
        if not first:  # half an entity would advance the cursor past rows never read
            raise
        client.stats.skip(entity.table, exc.reason)
        log.warning("skipping %s: %s", entity.table, exc)


def mark_refreshed() -> None:
    """Remember when a full read completed, for the lookup refresh cadence."""
    stamp = utc_stamp(datetime.now(timezone.utc))
    dlt.current.resource_state()[REFRESHED_STATE] = stamp


def base_params(entity: Entity) -> dict[str, Any]:
    params: dict[str, Any] = dict(entity.params)
    if entity.brief_param:
        params["brief"] = "false"
    return params


def drifted(totals: list[int], keys: Collection[Any]) -> bool:
    """Did the result set move during a paged read? Totals changed, or the distinct records
    read don't add up to the total (one seen twice means another was skipped)."""
    if not totals:
        return False
    return len(set(totals)) > 1 or len(keys) != totals[-1]
