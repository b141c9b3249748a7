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
from _random import Random as _CRandom
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_seed = _CRandom.seed
MASK64 = (1 << 64) - 1
_SALTS: dict[str, int] = {}
_PREFIXES: dict[tuple[int | str, ...], int] = {}
PREFIX_CACHE_SIZE = 4096
_DIGITS = "0123456789"


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


def _chain(seed: int, parts: tuple[int | str, ...]) -> int:
    h = mix64(seed & MASK64)
    for part in parts:
        h = mix64(h ^ (salt(part) if isinstance(part, str) else part & MASK64))
    return h


def key(seed: int, *parts: int | str) -> int:
    """Combine a seed and any mix of ints/strings into one 64-bit key.

    The hash of everything but the last part is cached: calls differ almost always only in
    the record index at the end (``key(seed, "tags", entity, i)``), so this is one mix.
    """
    if not parts:
        return mix64(seed & MASK64)
    head = (seed, *parts[:-1])
    h = _PREFIXES.get(head)
    if h is None:
        if len(_PREFIXES) >= PREFIX_CACHE_SIZE:
            _PREFIXES.clear()
        h = _PREFIXES[head] = _chain(seed, parts[:-1])
    last = parts[-1]
    return mix64(h ^ (salt(last) if isinstance(last, str) else last & MASK64))


def unit(k: int) -> float:
    """A float in [0, 1) derived from a key, without building a Random."""
    return (mix64(k) >> 11) / 9007199254740992.0


class Rand(random.Random):
    """``random.Random`` with a few helpers that keep the generators short."""

    def __init__(self, x: int) -> None:
        # Same state as random.Random(x) for an int, without the Python-level seed().
        _seed(self, x)
        self.gauss_next = None

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
        rnd = self.random
        return "".join([_DIGITS[int(rnd() * 10)] for _ in range(n)])

    def sample_of(self, seq: Sequence[T], k: int) -> list[T]:
        return self.sample(list(seq), min(k, len(seq)))


def rand(seed: int, *parts: int | str) -> Rand:
    return Rand(key(seed, *parts))


def fmt_ts(epoch: int | None) -> str | None:
    """Insightly's wire format for *_UTC fields: 'YYYY-MM-DD HH:MM:SS' (UTC, no zone)."""
    if epoch is None:
        return None
    day, second = divmod(epoch, 86_400)
    return _day(day) + " " + _clock()[second]


def fmt_day(epoch: int | None) -> str | None:
    """Date-only fields (DUE_DATE, FORECAST_CLOSE_DATE, ...) carry a midnight time."""
    if epoch is None:
        return None
    return _day(epoch // 86_400) + " 00:00:00"


def _day(day: int) -> str:
    """'YYYY-MM-DD' of a day number since 1970 (cached: records share few days)."""
    text = _DAYS.get(day)
    if text is None:
        if len(_DAYS) >= DAY_CACHE_SIZE:
            _DAYS.clear()
        text = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    return text


def _clock() -> list[str]:
    """'HH:MM:SS' for every second of a day, made on first use."""
    if not _CLOCK:  # built whole, then put in place at once: another thread may be reading
        _CLOCK[:] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    return _CLOCK


_DAYS: dict[int, str] = {}
_CLOCK: list[str] = []
DAY_CACHE_SIZE = 100_000


DAY = 86_400
