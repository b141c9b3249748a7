"""A push's writes as plain progress lines, when its stream is not a terminal (cron, a
file, CI): 20,000 writes take over half an hour at 10 req/s, and a log that stays silent
that long looks hung. Lines read the report's counters only, from a thread of their own."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone
from typing import IO

from insightly.push.results import PushReport
from insightly.push.text import duration

INTERVAL = 10.0  # seconds between two lines


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class WriteProgress:
    """`<UTC time> progress [<account>] push <name>: 1,200 of 20,485 writes sent, 2 failed,
    41 s, about 11 minutes left` every `interval` seconds while the writes are sent."""

    def __init__(
        self,
        report: PushReport,
        stream: IO[str] | None = None,
        interval: float = INTERVAL,
        label: str | None = None,
    ) -> None:
        self.report, self.interval = report, interval
        self.stream = stream or sys.stderr
        self.prefix = f"progress [{label}]" if label else "progress"
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> WriteProgress:
        self.started = time.monotonic()
        if self.interval > 0 and self.report.plan.writes and not is_terminal(self.stream):
            self.thread = threading.Thread(target=self._tick, daemon=True, name="push-progress")
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _tick(self) -> None:
        while not self.stopped.wait(self.interval):
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        report, elapsed = self.report, time.monotonic() - self.started
        sent, total = report.writes, report.plan.writes
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = (
            f"{stamp} {self.prefix} push {report.name}: {sent:,} of {total:,} writes sent, "
            f"{report.failed:,} failed, {elapsed:,.0f} s"
        )
        if 0 < sent < total:
            text += f", {duration((total - sent) * elapsed / sent)} left"
        return text
