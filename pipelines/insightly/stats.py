"""Counters for the run summary: requests and rows per entity, skips, the daily quota.

Shared by every thread that talks to the API, hence the lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

REORDER_SLACK = 64  # more requests than can ever be in flight at once


@dataclass
class RunStats:
    """What one sync did, per warehouse table."""

    requests: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)
    quota_stop: str | None = None  # why the run stopped early for the daily quota
    unfinished: list[str] = field(default_factory=list)  # tables left for the next run
    held: list[str] = field(default_factory=list)  # lookups not due for a refresh yet
    drift: Counter[str] = field(default_factory=Counter)  # reads that moved under their offsets
    incremental: dict[str, Any] = field(default_factory=dict)  # table -> Entity, this run's
    deleted: dict[str, int] = field(default_factory=dict)  # records found deleted, per table
    repaired: dict[str, int] = field(default_factory=dict)  # exact duplicate rows removed
    # Reads too large for one run (read/walk.py): stopped at the page budget, run again at once
    paused: set[str] = field(default_factory=set)
    walks: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # left: (skip, total)
    walks_done: list[str] = field(default_factory=list)  # walks over several runs completed
    chunks: int = 0  # extra pipeline runs for reads stopped at their page budget
    # This sync, for walks to tell their next chunk (same sync) from a resume (a later one)
    sync: str = field(default_factory=lambda: uuid.uuid4().hex)
    began: float = field(default_factory=time.time)  # when the sync began (delete counting)
    chunks_seen: dict[str, Any] = field(default_factory=dict)  # table -> walk.ChunksSeen
    # The id check (deletes/check.py) hands records it fetched one by one to the table's next run,
    # or asks that run to move the cursor back when re-reading is cheaper.
    refetch: dict[str, list[dict]] = field(default_factory=dict)
    rewind: dict[str, str] = field(default_factory=dict)
    fetched: dict[str, int] = field(default_factory=dict)  # records the id check fetched
    rewound: dict[str, str] = field(default_factory=dict)  # cursors the id check moved back
    checks_pending: list[str] = field(default_factory=list)  # id checks left for next run
    rate_limit: int | None = None
    rate_remaining: int | None = None
    totals: dict[str, int] = field(default_factory=dict)  # latest X-Total-Count per table
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(
        self,
        table: str,
        status: int,
        limit: str | None,
        remaining: str | None,
        total: str | None = None,
    ):
        with self._lock:
            self.requests[table] += 1
            self.statuses[status] += 1
            if total and total.isdigit():  # for progress and the run log's pages left
                self.totals[table] = int(total)
            if limit and limit.isdigit():
                self.rate_limit = int(limit)
            if remaining and remaining.lstrip("-").isdigit():
                value = int(remaining)
                # Answers arrive out of order when requests overlap: an older, higher count
                # must not undo a newer one. A big jump up is a new quota day.
                current = self.rate_remaining
                if current is None or value < current or value - current > REORDER_SLACK:
                    self.rate_remaining = value

    def count_rows(self, table: str, n: int) -> None:
        with self._lock:
            self.rows[table] += n

    def skip(self, table: str, reason: str) -> None:
        with self._lock:
            self.skipped[table] = reason

    def stop_for_quota(self, table: str, reason: str) -> None:
        with self._lock:
            self.quota_stop = self.quota_stop or reason
            self.unfinished.append(table)

    def pause(self, table: str) -> None:
        with self._lock:
            self.paused.add(table)

    def note_walk(self, table: str, skip: int, total: int | None) -> None:
        with self._lock:
            self.walks[table] = (skip, total)

    def note_walk_done(self, table: str, id_check: bool = True) -> None:
        """A walk completed; `id_check`: it spanned syncs (or moved), its ids are checked."""
        with self._lock:
            self.walks.pop(table, None)
            if id_check:
                self.walks_done.append(table)

    def chunks_of(self, table: str, factory: Any) -> Any:
        """What this sync saw so far of the table's chunked walk (made by `factory`)."""
        with self._lock:
            return self.chunks_seen.setdefault(table, factory())

    def take_chunks(self, table: str) -> Any:
        with self._lock:
            return self.chunks_seen.pop(table, None)

    def take_refetch(self, table: str) -> list[dict] | None:
        with self._lock:
            return self.refetch.pop(table, None)

    def note_drift(self, table: str) -> None:
        with self._lock:
            self.drift[table] += 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())
