"""One pacing mechanism for every request of a run: a request rate and a cap on requests in
flight, shared by all threads (dlt's parallel resources and the page fetchers).

It adapts like TCP's AIMD: a 429 halves the rate for every worker at once and pauses them
all for the Retry-After (or backoff) delay; each success then adds the rate back a little,
so the run recovers gradually instead of hitting the limit again at full speed.

Written by hand because the maintained limiters (pyrate-limiter, aiolimiter, limits) give
fixed-rate buckets; none shares one adjustable rate and a pause across threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# Insightly documents 10 requests/s; integrators see 429s above about 5/s and with several
# requests in flight (insightly-api.md 1.4). The defaults stay under both.
DEFAULT_RATE = 4.0
DEFAULT_IN_FLIGHT = 3


class Pacer:
    """Thread-safe rate + in-flight limiter with multiplicative slow-down on 429."""

    def __init__(
        self,
        rate_per_s: float = DEFAULT_RATE,
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        *,
        min_rate: float = 0.2,
        recovery: float = 0.05,
    ) -> None:
        if rate_per_s <= 0 or max_in_flight < 1:
            raise ValueError("rate_per_s must be > 0 and max_in_flight >= 1")
        self.max_rate = rate_per_s
        self.rate = rate_per_s
        self.min_rate = min(min_rate, rate_per_s)
        self.recovery = recovery * rate_per_s  # rate regained per successful request
        self.max_in_flight = max_in_flight
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._next = time.monotonic()
        self.slowdowns = 0

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold an in-flight slot, starting no sooner than the rate allows."""
        with self._slots:
            self._wait_turn()
            yield

    def _wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            time.sleep(start - now)

    def slow_down(self, pause: float) -> None:
        """A 429: halve the rate and hold every worker back for `pause` seconds."""
        with self._lock:
            self.slowdowns += 1
            self.rate = max(self.min_rate, self.rate / 2)
            self._next = max(self._next, time.monotonic() + pause)

    def succeeded(self) -> None:
        """A successful answer: recover the rate a little, up to the configured maximum."""
        if self.rate < self.max_rate:
            with self._lock:
                self.rate = min(self.max_rate, self.rate + self.recovery)
