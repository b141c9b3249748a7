"""How long a GET waits for its answer: fitted to how fast the API has answered this run.

A request the API never answers (a hang) used to be waited out for the whole configured
timeout, 60 s, then retried; with 5% of requests failing that was most of a 100,000-contact
load (docs/performance.md). Now a GET waits FACTOR times the 99th percentile of this run's
answer times so far, at least FLOOR_S and at most the configured `request_timeout_seconds`
(the ceiling, also what the first request waits, before there is anything to fit). A
slow tenant raises its own percentile, so its answers are not cut; on a fast one a hang
costs about FLOOR_S (5 s: 10 s and fitting from the fifth answer on made 5% failing
requests cost 3.3x the same load without faults, 5 s from the first answer 2.3-2.4x).
A request cut short is retried with twice its timeout (up to the ceiling): an answer
slower than any before still gets through on a later attempt, and then counts. Writes
keep the ceiling: a write cut short may have been applied.

An answer time is a 200's, from sending the request to its last byte: an upper bound of
the wait for its first byte, which is what a read timeout limits.
"""

from __future__ import annotations

import math
import threading
from collections import deque

FLOOR_S = 5.0
FACTOR = 5.0
MIN_SAMPLES = 1  # the first answer already fits: a hang among the first few cost 60 s
WINDOW = 1_000  # the latest answers: a run that slows down is fitted to its present pace


class ReadTimeouts:
    """The run's answer times and the read timeout they give; shared by every thread."""

    def __init__(
        self,
        ceiling: float,
        *,
        floor: float = FLOOR_S,
        factor: float = FACTOR,
        min_samples: int = MIN_SAMPLES,
        window: int = WINDOW,
    ) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.factor = factor
        self.min_samples = max(1, min_samples)
        self._seconds: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """A 200 answer that took `seconds` from sending to its last byte."""
        with self._lock:
            self._seconds.append(seconds)

    def p99(self) -> float | None:
        """The 99th percentile of the answer times seen (None before any)."""
        with self._lock:
            ordered = sorted(self._seconds)
        if not ordered:
            return None
        return ordered[math.ceil(0.99 * len(ordered)) - 1]

    def fitted(self) -> float:
        """A first attempt's read timeout."""
        with self._lock:
            seen = len(self._seconds)
        p99 = self.p99()
        if seen < self.min_samples or p99 is None:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.factor * p99))

    def for_attempt(self, cut: int) -> float:
        """The read timeout of an attempt after `cut` attempts of the same request timed out."""
        return min(self.ceiling, self.fitted() * 2**cut)
