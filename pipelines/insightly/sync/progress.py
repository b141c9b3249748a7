"""Live progress of a sync, per table: pages read of the total, rows, rate and time left.

On a terminal it is drawn with rich's progress bars (progress_bars.py, imported only then);
under cron, systemd or CI (no TTY) it is plain log lines without control codes: one line per
table every `interval` seconds while it changes, and one when the sync ends. Both only read
the run's counters (RunStats): the requests per table, the latest X-Total-Count per table
(the size of the read, so the pages it needs), and the rows. Pages are requests, retries included.

`--progress log|tqdm|enlighten|alive_progress` still choose one of dlt's own collectors
(extract/normalize/load stages) instead.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO

from insightly.api.paging import page_count
from insightly.stats import RunStats

DLT_COLLECTORS = ("log", "tqdm", "enlighten", "alive_progress")
CHOICES = ("auto", "rich", "lines", "off", *DLT_COLLECTORS)
LINE_INTERVAL = 10.0  # seconds between two plain lines about the same table
SAMPLE_SECONDS = 0.5


@dataclass
class TableProgress:
    """One table's read so far."""

    table: str
    pages: int  # requests sent for the table, retries included
    total_pages: int | None  # from X-Total-Count; None before the first answer with it
    rows: int
    seconds: float  # from this table's first request seen to its latest

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None: unknown)."""
        if self.total_pages is None or self.pages == 0 or self.seconds <= 0:
            return None
        return max(0, self.total_pages - self.pages) * self.seconds / self.pages


class Tracker:
    """Per-table progress from RunStats. A table's time runs from the sample before the
    one that first saw it to the last sample that saw it move, so a finished table keeps
    its rate and a table read between two samples gets at least one sample's time."""

    def __init__(self, stats: RunStats) -> None:
        self.stats = stats
        self.previous = time.monotonic()  # the time of the last sample
        self.first_seen: dict[str, float] = {}
        self.last_moved: dict[str, tuple[float, int, int]] = {}  # table -> (when, pages, rows)

    def snapshot(self) -> list[TableProgress]:
        now = time.monotonic()
        requests, rows = dict(self.stats.requests), dict(self.stats.rows)
        totals = dict(self.stats.totals)
        out = []
        for table in sorted(set(requests) | set(rows)):
            pages, read = requests.get(table, 0), rows.get(table, 0)
            started = self.first_seen.setdefault(table, self.previous)
            moved = self.last_moved.get(table)
            if moved is None or moved[1:] != (pages, read):
                moved = self.last_moved[table] = (now, pages, read)
            total = totals.get(table)
            total_pages = max(page_count(total), pages) if total is not None else None
            out.append(TableProgress(table, pages, total_pages, read, moved[0] - started))
        self.previous = now
        return out


def dlt_collector(mode: str | None) -> str | None:
    """The dlt progress collector to pass to the pipeline, if `mode` names one."""
    return mode if mode in DLT_COLLECTORS else None


@contextmanager
def live_progress(
    mode: str | None, stats: RunStats, stream: IO[str] | None = None, label: str | None = None
) -> Iterator[None]:
    """Show the sync's progress while the block runs: rich bars on a terminal, plain lines
    elsewhere (mode "auto"), or nothing ("off", or one of dlt's collectors). `label` (the
    account) starts each plain line, so accounts synced side by side can be told apart."""
    stream = stream or sys.stderr
    mode = mode or "auto"
    if mode == "auto":
        mode = "rich" if _is_terminal(stream) else "lines"
    if mode == "rich":
        from insightly.sync.progress_bars import bars  # rich: only on a terminal

        with bars(Tracker(stats), stream):
            yield
    elif mode == "lines":
        with ProgressLines(Tracker(stats), stream, label=label):
            yield
    else:
        yield


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLines:
    """Plain lines for logs: `<UTC time> progress [<account>] <table>: 3/6 pages, ...`.

    The counters are sampled twice a second (so a table's rate counts from its first
    request), a line written per table at most every `interval` seconds while it moves."""

    def __init__(
        self,
        tracker: Tracker,
        stream: IO[str],
        interval: float = LINE_INTERVAL,
        label: str | None = None,
    ) -> None:
        self.tracker = tracker
        self.prefix = f"progress [{label}]" if label else "progress"
        self.stream = stream
        self.interval = interval
        self.said: dict[str, tuple[float, int, int]] = {}  # table -> (when, pages, rows)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ProgressLines:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.write(final=True)

    def _sample(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.write(final=False)

    def write(self, final: bool) -> None:
        """A line for each table that moved and was last told `interval` seconds ago or
        more; at the end, one for each table that moved since its last line, and a total."""
        now = time.monotonic()
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        snapshot = self.tracker.snapshot()
        for item in snapshot:
            when, pages, rows = self.said.get(item.table, (now - self.interval, -1, -1))
            moved = (pages, rows) != (item.pages, item.rows)
            if not moved or not (final or now - when >= self.interval):
                continue
            self.said[item.table] = (now, item.pages, item.rows)
            print(f"{stamp} {self.prefix} {describe(item, final)}", file=self.stream, flush=True)
        if final and snapshot:
            pages, rows = sum(i.pages for i in snapshot), sum(i.rows for i in snapshot)
            total = f"{len(snapshot)} tables, {pages:,} pages, {rows:,} rows"
            print(f"{stamp} {self.prefix} done: {total}", file=self.stream, flush=True)


def describe(item: TableProgress, final: bool = False) -> str:
    """One table's progress as words, for a log line."""
    of = f"/{item.total_pages}" if item.total_pages is not None else ""
    text = f"{item.table}: {item.pages}{of} pages, {item.rows:,} rows, {item.rate:,.0f} rows/s"
    if final:
        return f"{text}, {item.seconds:.1f} s (end of sync)"
    eta = item.eta
    return text + (f", about {eta:,.0f} s left" if eta is not None else "")
