"""Deterministic randomness and time formatting.

Every generated value is a pure function of (seed, entity, index, salt), so any record can
be rebuilt on demand without keeping it in memory, and the same seed always gives the
same bytes.  Python's ``hash()`` is salted per process, so only CRC32 and an explicit
64-bit mixer are used.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
MASK64 = (1 << 64) - 1
_SALTS: dict[str, int] = {}


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def salt(text: str) -> int:
    """Stable integer for a string (cached; the set of strings is small)."""
    value = _SALTS.get(text)
    if value is None:
        value = _SALTS[text] = zlib.crc32(text.encode("utf-8"))
    return value


def key(seed: int, *parts: int | str) -> int:
    """Combine a seed and any mix of ints/strings into one 64-bit key."""
    h = mix64(seed & MASK64)
    for part in parts:
        h = mix64(h ^ (salt(part) if isinstance(part, str) else part & MASK64))
    return h


def unit(k: int) -> float:
    """A float in [0, 1) derived from a key, without building a Random."""
    return (mix64(k) >> 11) / 9007199254740992.0


class Rand(random.Random):
    """``random.Random`` with a few helpers that keep the generators short."""

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def maybe(self, p: float, value: T) -> T | None:
        """``value`` with probability p, else None (how empty CRM fields look)."""
        return value if self.random() < p else None

    def between(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi] inclusive."""
        return lo + int(self.random() * (hi - lo + 1))

    def money(self, lo: float, hi: float, step: float = 0.01) -> float:
        """A price-like amount rounded to ``step``."""
        value = lo + self.random() * (hi - lo)
        return round(round(value / step) * step, 2)

    def digits(self, n: int) -> str:
        return "".join(str(int(self.random() * 10)) for _ in range(n))

    def sample_of(self, seq: Sequence[T], k: int) -> list[T]:
        return self.sample(list(seq), min(k, len(seq)))


def rand(seed: int, *parts: int | str) -> Rand:
    return Rand(key(seed, *parts))


def fmt_ts(epoch: int | None) -> str | None:
    """Insightly's wire format for *_UTC fields: 'YYYY-MM-DD HH:MM:SS' (UTC, no zone)."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def fmt_day(epoch: int | None) -> str | None:
    """Date-only fields (DUE_DATE, FORECAST_CLOSE_DATE, ...) carry a midnight time."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%d 00:00:00", time.gmtime(epoch))


DAY = 86_400
