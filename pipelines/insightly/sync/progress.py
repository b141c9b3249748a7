"""Live progress of a sync, per table: pages read of the total, rows, rate and time left.

On a terminal it is drawn with rich's progress bars; under cron, systemd or CI (no TTY) it
is plain log lines without control codes: one line per table every `interval` seconds
while it changes, and one when the sync ends. Both only read the run's counters
(RunStats): the requests per table, the latest X-Total-Count per table (the size of the
read, so the pages it needs), and the rows. Pages are requests, retries included.

`--progress log|tqdm|enlighten|alive_progress` still choose one of dlt's own collectors
(extract/normalize/load stages) instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

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
        with BarsFromStats(Tracker(stats), Console(file=stream)), _logs_above_bars(stream):
            yield
    elif mode == "lines":
        with ProgressLines(Tracker(stats), stream, label=label):
            yield
    else:
        yield


@contextmanager
def _logs_above_bars(stream: IO[str]) -> Iterator[None]:
    """Log handlers writing to the terminal write through rich's redirected sys.stderr
    while the bars are drawn, so a warning prints above them instead of through them."""
    moved = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is stream and sys.stderr is not stream
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(stream)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class BarsFromStats(Progress):
    """rich's Progress, whose tasks follow RunStats each time rich redraws (its own refresh
    thread calls get_renderables), so the sync's threads never call into rich."""

    def __init__(self, tracker: Tracker, console: Console) -> None:
        self.tracker = tracker  # before rich's __init__, which may draw already
        self.ids: dict[str, Any] = {}
        self.following = False  # add_task redraws, which calls get_renderables again
        super().__init__(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pages"),
            TextColumn("{task.fields[rows]:>9,} rows"),
            TextColumn("{task.fields[rate]:>7,.0f} rows/s"),
            TimeRemainingColumn(),
            console=console,
            refresh_per_second=4,
            transient=False,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        self.follow()
        yield from super().get_renderables()

    def follow(self) -> None:
        if self.following:
            return
        self.following = True
        try:
            self._follow()
        finally:
            self.following = False

    def _follow(self) -> None:
        for item in self.tracker.snapshot():
            fields = {"rows": item.rows, "rate": item.rate}
            if item.table not in self.ids:
                self.ids[item.table] = self.add_task(
                    item.table, total=item.total_pages, completed=item.pages, **fields
                )
            else:
                self.update(
                    self.ids[item.table], total=item.total_pages, completed=item.pages, **fields
                )

    def stop(self) -> None:
        self.follow()
        super().stop()


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
