"""Which parent records' activity (comments, file attachments) a sync reads, and how far
each pass over a parent table got, kept in the activity resource's dlt state.

"Changed since the last sync" is read off the warehouse, not the API: a parent row loaded
by a later load than the last one processed (`_dlt_load_id` is the load's start time, and
merge rewrites a changed row with the new load's id) changed since. Emails are re-read in
full every sync and have no update stamp, so for them "new" means an EMAIL_ID above the last
one processed (ids ascend with creation). Reading off the warehouse makes the pass exact
under chunked reads, resumed walks, id-check fetches and kills: the cursor is state, and
dlt commits state in the same load package as the rows read with it.

The incremental read re-reads the records updated in the same second as its cursor (the
look-back, incremental.py), and a read that moved re-reads its whole window; that gives
rows a new load id although they did not change. So the parents read lately are remembered
with the DATE_UPDATED_UTC they had (`boundary`), and a parent loaded again with the same
stamp is not read again: an unchanged sync costs no activity request.

Each parent table has two passes:
- incremental: rows with (key, id) after the cursor, in that order;
- backfill: the rows that were already there when the table was first seen (key up to
  `upto`), in id order after `last`. It is one-time, resumable across syncs and days, and
  restarts as the periodic full pass (the fallback for activity that does not change its
  parent's DATE_UPDATED_UTC) once `full_pass_hours` have passed since the last one ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from insightly.api.stamps import parse_stamp, utc_stamp
from insightly.catalogue.entities import CURSOR, Entity, Load
from insightly.catalogue.tables import DELETED_AT
from insightly.warehouse.introspect import columns_in

LOAD_ID = "_dlt_load_id"
PARENTS_STATE = "parents"  # resource state: parent table -> ParentProgress
BOUNDARY_MAX = 500  # parents remembered as read, per parent table (a page of a read)


@dataclass
class ParentProgress:
    """How far the passes over one parent table got."""

    after: list[Any] | None = None  # [key, id] of the last parent read incrementally
    upto: Any = None  # the running backfill's key bound (None: no backfill running)
    last: Any = None  # id of the last parent the running backfill read
    full_pass_at: str | None = None  # when the last backfill (or full pass) completed
    # parents read lately, id (as text) -> the DATE_UPDATED_UTC they were read at
    boundary: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_state(cls, value: dict[str, Any]) -> ParentProgress:
        return cls(**value)

    def as_state(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def backfilling(self) -> bool:
        return self.upto is not None

    def full_pass_due(self, hours: float | None, now: datetime) -> bool:
        if self.backfilling or hours is None:  # None: no periodic full pass (the default)
            return False
        if hours <= 0 or self.full_pass_at is None:
            return True
        return now - parse_stamp(self.full_pass_at) >= timedelta(hours=hours)

    def unchanged(self, parent: Changed) -> bool:
        """Read before with this very stamp (a look-back re-read, not a change)."""
        return parent.stamp is not None and self.boundary.get(str(parent.id)) == parent.stamp

    def remember(self, parents: list[Changed]) -> None:
        """Keep the BOUNDARY_MAX parents with the newest stamps read: a look-back, or a read
        that moved and is read again, loads the table's newest rows again unchanged. Only
        parents whose lists were read (or skipped as read) are kept, never a table's rows at
        first sight: one loaded again before the backfill reached it must be read."""
        self.boundary.update({str(p.id): p.stamp for p in parents if p.stamp is not None})
        if len(self.boundary) > BOUNDARY_MAX:
            kept = sorted(((s, i) for i, s in self.boundary.items()), reverse=True)
            self.boundary = {i: s for s, i in kept[:BOUNDARY_MAX]}

    def finish_backfill(self) -> None:
        self.upto = self.last = None
        self.full_pass_at = utc_stamp(datetime.now(timezone.utc))


@dataclass(frozen=True)
class Changed:
    """A parent row loaded after the cursor."""

    id: Any
    key: Any  # its load id (emails: its id)
    stamp: str | None  # its DATE_UPDATED_UTC, "YYYY-MM-DD HH:MM:SS" (emails: None)


class ParentTable:
    """SQL over one parent table of the warehouse, through dlt's sql_client."""

    def __init__(self, sql: Any, entity: Entity, naming: Any) -> None:
        self.sql = sql
        self.entity = entity
        self.name = sql.make_qualified_table_name(naming.normalize_table_identifier(entity.table))
        self.id = naming.normalize_identifier(entity.primary_key[0])
        # emails are replaced every sync: their ids, not their loads, tell what is new
        self.key = self.id if entity.load is Load.FULL else LOAD_ID
        columns = columns_in(sql, naming.normalize_table_identifier(entity.table))
        self.exists = bool(columns)
        self.alive = f"{DELETED_AT} is null" if DELETED_AT in columns else "true"
        stamp = naming.normalize_identifier(CURSOR)
        self.stamp = stamp if stamp in columns and entity.load is Load.INCREMENTAL else "null"

    def max_key(self) -> Any:
        rows = self.sql.execute_sql(f"select max({self.key}) from {self.name} where {self.alive}")
        return rows[0][0] if rows else None

    def changed(self, after: list[Any] | None, limit: int) -> list[Changed]:
        """The rows after the cursor, in (key, id) order."""
        where, args = self.alive, []
        if after is not None:
            key, last_id = after
            if last_id is None:
                where += f" and {self.key} > %s"
                args = [key]
            else:
                where += f" and ({self.key} > %s or ({self.key} = %s and {self.id} > %s))"
                args = [key, key, last_id]
        query = (
            f"select {self.id}, {self.key}, {self.stamp} from {self.name} where {where} "
            f"order by {self.key}, {self.id} limit {int(limit)}"
        )
        return _changed(self.sql.execute_sql(query, *args))

    def backlog(self, upto: Any, last: Any, limit: int) -> list[Changed]:
        """The rows the backfill still has to read, in id order."""
        where, args = f"{self.alive} and {self.key} <= %s", [upto]
        if last is not None:
            where += f" and {self.id} > %s"
            args.append(last)
        query = (
            f"select {self.id}, {self.key}, {self.stamp} from {self.name} where {where} "
            f"order by {self.id} limit {int(limit)}"
        )
        return _changed(self.sql.execute_sql(query, *args))


def _changed(rows: Any) -> list[Changed]:
    return [Changed(r[0], r[1], utc_stamp(r[2]) if r[2] is not None else None) for r in rows or []]


def progress_of(state: dict, table: ParentTable) -> ParentProgress:
    """The table's progress; a table seen for the first time starts its backfill with every
    row it holds now, and the incremental pass takes every row loaded after them."""
    saved = state.setdefault(PARENTS_STATE, {}).get(table.entity.table)
    if saved is not None:
        return ParentProgress.from_state(saved)
    top = table.max_key()
    if top is None:  # empty: everything loaded from now on is new
        return ParentProgress(full_pass_at=utc_stamp(datetime.now(timezone.utc)))
    return ParentProgress(after=[top, None], upto=top)


def save(state: dict, table: ParentTable, progress: ParentProgress) -> None:
    state.setdefault(PARENTS_STATE, {})[table.entity.table] = progress.as_state()
