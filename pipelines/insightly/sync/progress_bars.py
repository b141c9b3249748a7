"""rich's progress bars for a sync on a terminal (progress.py draws plain lines
elsewhere). A module of its own so that a sync without a terminal never imports rich."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


class Snapshots(Protocol):
    """progress.Tracker: each table's pages, total pages, rows and rate so far."""

    def snapshot(self) -> Sequence[Any]: ...


@contextmanager
def bars(tracker: Snapshots, stream: IO[str]) -> Iterator[None]:
    """Bars on `stream` while the block runs, with log lines printed above them."""
    with BarsFromStats(tracker, Console(file=stream)), logs_above_bars(stream):
        yield


@contextmanager
def logs_above_bars(stream: IO[str]) -> Iterator[None]:
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


class BarsFromStats(Progress):
    """rich's Progress, whose tasks follow RunStats each time rich redraws (its own refresh
    thread calls get_renderables), so the sync's threads never call into rich."""

    def __init__(self, tracker: Snapshots, console: Console) -> None:
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
