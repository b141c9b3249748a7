"""One pacing mechanism for every request of a run: a request rate and a cap on requests in
flight, shared by all threads (dlt's parallel resources and the page fetchers).

The rate finds the API's limit instead of being guessed. Insightly documents 10 requests/s,
but tenants have answered 429 above about 5/s (docs/api.md §6), so the configured rate
is a ceiling and the pacer adapts below it, the way TCP finds a link's capacity:

* **Start and ramp.** The rate starts at half the ceiling and rises by half the ceiling over
  `RAMP_S` seconds of clean answers, so an API that allows the ceiling is read at the
  ceiling a few seconds into the run.
* **A 429 halves the rate** for every worker at once and holds them all for the Retry-After
  (or backoff) delay; requests already waiting for their turn wait again. 429s answering
  requests sent before that reduction belong to the same event and do not halve it again.
* **A learned safe rate** (TCP's ssthresh). An API with a burst allowance (a token bucket)
  lets the rate climb well past its limit before the first 429, so the rate at a 429 says
  little; half of it is taken as safe. At later 429s the throughput since the previous one
  is what the API sustained (its allowance was spent at both ends), and that is the new
  safe rate (bounded to half and nine tenths of the rate at the 429).
* **Probing above it slowly** (CUBIC's convex half). After a 429 the rate climbs back to the
  safe rate, then probes above it as safe * (1 + (t / probe_s)^2): flat at first, faster the
  longer no 429 comes. Each 429 near the safe rate doubles `probe_s`: the more often the
  limit is confirmed, the slower it is probed. A 429 far above it (a transient refusal, not
  the limit) resets the probe to `PROBE_S`.

At 5 req/s with a 5-request burst this is one 429 event (one or two 429s, the second from a
request already in flight) in a 100k-contact full load, then about 4.1 req/s rising towards
5; at 10 req/s with no limit it is 10 req/s after five seconds.

Written by hand because the maintained limiters (pyrate-limiter, aiolimiter, limits) give
fixed-rate buckets; none shares one adjustable rate and a pause across threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# The ceiling: Insightly's documented 10 requests/s (docs/api.md §6).
DEFAULT_RATE = 10.0
# In flight at once. At 10 req/s a request of latency L keeps 10 * L slots busy: 1.5 at
# 150 ms. 4 covers latencies up to 400 ms at the full rate, and the rate, not this cap,
# keeps a tenant's own limit (a public Singer tap ran 4 in flight without concurrency
# 429s: docs/api.md §6).
DEFAULT_IN_FLIGHT = 4
START = 0.5  # the first rate, as a share of the ceiling
RAMP_S = 5.0  # clean seconds from the start rate to the ceiling (and back up to the safe rate)
PROBE_S = 90.0  # after a 429: seconds until the probe is 2x the safe rate (+25% at half)
MAX_PROBE_S = 3600.0
NEAR = 1.25  # a 429 below NEAR * the safe rate confirms the limit: the next probe is slower
MAX_STEP_S = 1.0  # growth per answer counts at most this much time: idle time is not "clean"


class Pacer:
    """Thread-safe adaptive rate + in-flight limiter, shared by every request of a run."""

    def __init__(
        self,
        rate_per_s: float = DEFAULT_RATE,
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        *,
        min_rate: float = 0.2,
        start: float = START,
        ramp_s: float = RAMP_S,
        probe_s: float = PROBE_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0 or max_in_flight < 1:
            raise ValueError("rate_per_s must be > 0 and max_in_flight >= 1")
        self.max_rate = rate_per_s  # the ceiling (setting rate_per_s)
        self.min_rate = min(min_rate, rate_per_s)
        self.rate = max(self.min_rate, rate_per_s * start)
        self.safe: float | None = None  # learned sustainable rate; None until a 429
        self.max_in_flight = max_in_flight
        self.slowdowns = 0  # 429 events (one per reduction, not per 429)
        self._ramp = rate_per_s * (1 - start) / ramp_s  # req/s gained per clean second
        self._base_probe = self._probe_s = probe_s
        self._probed = 0.0  # clean seconds spent at or above the safe rate
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        now = clock()
        self._next = now
        self._paused_until = now
        self._pauses = 0
        self._grown_at = now
        self._event_at = now  # the last reduction: 429s to requests sent before it are its own
        self._ok = 0  # successful answers
        self._ok_at_event = 0

    @contextmanager
    def request(self) -> Iterator[float]:
        """Hold an in-flight slot, starting no sooner than the rate and any pause allow;
        yields the start time, which `slow_down` takes to tell a new 429 event."""
        with self._slots:
            yield self._wait_turn()

    def _wait_turn(self) -> float:
        while True:
            with self._lock:
                now = self._clock()
                start = max(now, self._next, self._paused_until)
                self._next = start + 1.0 / self.rate
                pauses = self._pauses
            if start > now:
                self._sleep(start - now)
            with self._lock:
                if self._pauses == pauses or self._paused_until <= start:
                    return start
            # a 429 arrived while this request waited: its turn was cancelled, queue again

    def slow_down(self, pause: float, sent: float | None = None) -> None:
        """A 429 to a request started at `sent`: hold every worker back for `pause` seconds,
        and unless the request went out before the last reduction, halve the rate."""
        with self._lock:
            now = self._clock()
            if now + pause > self._paused_until:
                self._paused_until = now + pause
                self._next = self._paused_until  # turns handed out before are cancelled
                self._pauses += 1
            if sent is not None and sent < self._event_at:
                return  # the same event: that request was already on its way
            hit = self.rate
            if self.safe is None:
                safe = hit / 2
            else:
                elapsed = max(now - self._event_at, 1e-3)
                sustained = (self._ok - self._ok_at_event) / elapsed
                safe = min(max(sustained, hit / 2), hit * 0.9)
                near = hit < self.safe * NEAR
                self._probe_s = min(MAX_PROBE_S, self._probe_s * 2) if near else self._base_probe
            self.safe = max(self.min_rate, min(self.max_rate, safe))
            self.rate = max(self.min_rate, hit / 2)
            self.slowdowns += 1
            self._probed = 0.0
            self._event_at = now
            self._ok_at_event = self._ok
            self._grown_at = self._paused_until  # the pause is not clean time

    def succeeded(self) -> None:
        """A successful answer: the rate climbs (to the ceiling, or to the safe rate and
        then slowly past it)."""
        with self._lock:
            self._ok += 1
            now = self._clock()
            step = min(MAX_STEP_S, max(0.0, now - self._grown_at))
            self._grown_at = max(now, self._paused_until)  # a pause is not clean time
            if now < self._paused_until:
                return
            safe = self.safe
            if safe is None:
                self.rate = min(self.max_rate, self.rate + self._ramp * step)
            elif self.rate < safe:
                self.rate = min(safe, self.rate + self._ramp * step)
            else:
                self._probed += step
                probe = safe * (1 + (self._probed / self._probe_s) ** 2)
                self.rate = min(self.max_rate, max(self.rate, probe))
