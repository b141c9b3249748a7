"""Progress of one incremental read (a "walk") kept in the resource's dlt state.

A first load of a million records is 2,000 pages; the Free plan allows 1,000 requests a
day. So a read must be able to stop (daily quota, the page budget of one pipeline run, a
kill) and continue later at its next unread page, with the same `updated_after_utc`, never
fetching a page twice. The walk is saved in the resource state after every page; dlt
commits that state with the extracted data, so what is committed is exactly what was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import numpy as np

from insightly.api.stamps import utc_stamp

WALK_STATE = "walk"  # the unfinished read of a table, see Walk
# Records re-read when a walk continues in a later sync. A delete (or, with results ordered
# by update time, an update) of a record already read moves every later record one offset
# back, so the first unread records now sit just before `skip`: starting this many records
# earlier reads them anyway. A fifth of a page: at most one extra request per five resumes.
# The next chunk of the same sync starts exactly at `skip`: its read is verified as a whole.
OVERLAP = 100
# A walk that spanned syncs (or moved under its offsets) completed at this time (UTC): its
# ids must be checked once, because records may have moved between its pages meanwhile.
ID_CHECK_STATE = "id_check_after"


@dataclass
class Walk:
    """Where an incremental read is: its filter, the next page, and when it began."""

    after: str | None  # the updated_after_utc parameter sent (None: no filter)
    started: str  # when the walk began, minus one second (DATE_UPDATED_UTC's precision)
    skip: int = 0  # offset of the first page not read yet
    done: list[int] = field(default_factory=list)  # offsets past `skip` already read
    runs: int = 1  # runs (extracts) that read some of it: chunks of one sync, or resumes
    newest: str | None = None  # the newest DATE_UPDATED_UTC read so far
    first_total: int | None = None  # X-Total-Count when the walk began
    sync: str | None = None  # the sync (RunStats.sync) that read its latest pages
    spanned: bool = False  # continued in a later sync than the one that read some of it

    @classmethod
    def begin(cls, after: str | None, sync: str | None = None) -> Walk:
        started = datetime.now(timezone.utc) - timedelta(seconds=1)
        return cls(after=after, started=utc_stamp(started), sync=sync)

    @classmethod
    def from_state(cls, value: dict[str, Any]) -> Walk:
        return cls(**value)

    def as_state(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def resumed(self) -> bool:
        """Its pages were read in more than one sync, so offsets may have moved between
        them unseen: the totals and records seen by one sync can't verify it."""
        return self.spanned

    @property
    def started_reading(self) -> bool:
        return self.skip > 0 or bool(self.done)

    def resume(self, sync: str | None = None) -> int:
        """Continue in a new run of sync `sync`; returns the offset to read from.

        The next chunk of the sync that read the walk's latest pages starts exactly at the
        first unread page: that sync has seen every total and record of the walk so far,
        so a move between chunks is noticed when the walk completes (source.drifted), and
        a re-read overlap would both cost a request and spoil the count of distinct
        records. A walk continued in a later sync (or by a caller that keeps no sync,
        `sync=None`) has spanned syncs: it starts OVERLAP records before the first unread
        one, unless pages past a gap are already read.
        """
        self.runs += 1
        if sync is not None and sync == self.sync:
            return self.skip
        self.spanned = True
        self.sync = sync
        return self.skip if self.done else max(0, self.skip - OVERLAP)

    def advance(self, offset: int, page_size: int) -> None:
        """A page at `offset` was read: move `skip` past every page read without a gap.

        Pages arrive in offset order, but after a quota stop a gap can precede pages that
        were already in flight; those are kept in `done` until the gap is filled. A page
        that starts before `skip` (a resumed run's overlap) covers it too.
        """
        if offset <= self.skip < offset + page_size:
            self.skip = offset + page_size
            while self.skip in self.done:
                self.done.remove(self.skip)
                self.skip += page_size
        elif offset > self.skip and offset not in self.done:
            self.done = sorted([*self.done, offset])


class RecordKeys:
    """The distinct keys of the records a read saw, for its drift check (pages.drifted):
    a set-like object that keeps single integer keys (every entity's primary key) as int64
    arrays, 8 bytes a record, and any other key as a tuple in a set. A set of tuples took
    about 120 bytes a record, 120 MB for a 1M-contact read: the largest Python object of a
    large load, kept for the whole sync when the read spans chunks. Single keys are bare."""

    __hash__ = None  # type: ignore[assignment]  # mutable, like a set
    COMPACT_EVERY = 256  # arrays (pages) between two de-duplications

    def __init__(self, keys: Iterable[tuple] = ()) -> None:
        self._arrays: list[np.ndarray] = []
        self._other: set[Any] = set()
        self.update(keys)

    def add_ids(self, ids: list[Any], single: bool) -> None:
        """One page's keys (page_facts.py): values of one key field (`single`), else
        tuples."""
        if single:
            self._add_bare(ids)
        else:
            self._other.update(ids)

    def update(self, keys: Iterable[tuple] | RecordKeys) -> None:
        if isinstance(keys, RecordKeys):
            for array in keys._arrays:
                self._add_array(array)
            self._other |= keys._other
            return
        keys = list(keys)
        self._other.update(key for key in keys if len(key) != 1)
        self._add_bare([key[0] for key in keys if len(key) == 1])

    def _add_bare(self, values: list[Any]) -> None:
        """Single keys: every int64 integer to the arrays, anything else to the set, so
        that no key is in both (len and iteration need no membership test)."""
        ints = [v for v in values if _int64(v)]
        if ints:
            self._add_array(np.fromiter(ints, np.int64, len(ints)))
        if len(ints) < len(values):
            self._other.update(v for v in values if not _int64(v))

    def _add_array(self, array: np.ndarray) -> None:
        self._arrays.append(array)
        if len(self._arrays) >= self.COMPACT_EVERY:
            self._unique()

    def _unique(self) -> np.ndarray:
        if not self._arrays:
            return np.empty(0, np.int64)
        if len(self._arrays) > 1:
            self._arrays = [np.unique(np.concatenate(self._arrays))]
        else:
            self._arrays = [np.unique(self._arrays[0])]
        return self._arrays[0]

    def __len__(self) -> int:
        return len(self._unique()) + len(self._other)

    def __iter__(self) -> Iterator[Any]:
        yield from (int(v) for v in self._unique())
        yield from self._other

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset, RecordKeys)):
            return set(self) == set(other)
        return NotImplemented


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _int64(value: Any) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


@dataclass
class ChunksSeen:
    """What one sync saw of a walk it read in several chunks (pipeline runs): every
    X-Total-Count and every distinct record key, so that the walk can be verified as a
    whole when its last chunk completes, like a read done in one run.

    Kept in memory for the sync only (a later sync can't add to it: the walk then spans
    syncs); the keys as RecordKeys, about 8 bytes a record.
    """

    totals: list[int] = field(default_factory=list)  # distinct totals, in the order seen
    keys: RecordKeys = field(default_factory=RecordKeys)

    def add(self, totals: list[int], keys: Iterable[tuple] | RecordKeys) -> None:
        for total in totals:
            if total not in self.totals:
                self.totals.append(total)
        self.keys.update(keys)


def resource_state(pipeline: dlt.Pipeline, table: str) -> dict:
    """A resource's state as last committed by the pipeline (read-only use)."""
    sources = pipeline.state.get("sources", {})
    return sources.get("insightly", {}).get("resources", {}).get(table, {})


def unfinished_walk(pipeline: dlt.Pipeline, table: str) -> Walk | None:
    """The table's read still in progress, if any."""
    value = resource_state(pipeline, table).get(WALK_STATE)
    return Walk.from_state(value) if value else None
