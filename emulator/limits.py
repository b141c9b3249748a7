"""Daily quota, per-second rate limit and concurrency cap (docs/api.md §6).

The daily quota is what ``X-RateLimit-Remaining`` reports; a 429 with Remaining 0 means
"quota spent", a 429 with Remaining > 0 means "too fast" (burst or concurrency), which is
the distinction clients are advised to make.  Every method takes a lock, because the
Python API (``reset_quota``) runs on another thread than the server.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class Verdict:
    ok: bool
    status: int = 200
    message: str = ""
    retry_after: int | None = None
    quota_spent: bool = False


class Limits:
    """Quota counter, token bucket and in-flight counter for one emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.used = 0
        self.in_flight = 0
        self._tokens: float | None = None
        self._stamp = time.monotonic()
        self._rate: float | None = None

    def reset(self) -> None:
        """A new day: quota and bucket start full again."""
        with self._lock:
            self.used = 0
            self._tokens = None

    def remaining(self, daily_limit: int) -> int:
        return max(0, daily_limit - self.used)

    def admit(self, daily_limit: int, rate: float | None, max_in_flight: int | None) -> Verdict:
        """Decide whether an authenticated request may run; count it if so."""
        with self._lock:
            if self.used >= daily_limit:
                return Verdict(
                    False, 429, "API daily request limit exceeded", _seconds_to_midnight(), True
                )
            if rate is not None:
                now = time.monotonic()
                capacity = max(1.0, rate)
                if self._tokens is None or self._rate != rate:
                    self._tokens, self._rate = capacity, rate
                else:
                    self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
                self._stamp = now
                if self._tokens < 1.0:
                    wait = math.ceil((1.0 - self._tokens) / rate)
                    return Verdict(False, 429, "Too many requests", max(1, wait))
            if max_in_flight is not None and self.in_flight >= max_in_flight:
                return Verdict(False, 429, "Too many concurrent requests", 1)
            if rate is not None and self._tokens is not None:
                self._tokens -= 1.0
            self.used += 1
            self.in_flight += 1
            return Verdict(True)

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _seconds_to_midnight() -> int:
    now = time.time()
    return max(1, int(86_400 - now % 86_400))
