"""Result order and time filters answered from sorted compact arrays.

A tenant with a million contacts must answer ``/Contacts/Search?updated_after_utc=...``
page after page without looking at a million rows per request, also while records keep
changing (drift).  Three structures per table, kept up to date on every mutation:

* ``by_updated``: one ``array('q')`` of ``(updated, index)`` packed into one int64, sorted,
  live rows only.  ``order=updated`` pages are slices of it, and "updated after X" is the
  suffix after one bisect.
* ``hash_order`` (``order=unordered``): live indexes sorted by a seeded hash of their id,
  plus the sorted hashes, so a created row is inserted where it belongs.
* ``deleted_sorted``: deleted indexes; in id order the live rows are all indexes minus
  these, so page k is found by bisecting instead of scanning.

A filtered result in id or hash order is a ``Selection``: either the positions it
includes or the positions it excludes, whichever list is shorter (an incremental read
includes few rows, a first read excludes few).  Built once per table version.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass

SHIFT = 26  # up to 67 million rows per table
MASK = (1 << SHIFT) - 1
EPOCH_OFFSET = 1 << 33  # packs epochs from 1697 BC to 2242 AD as non-negative numbers


def pack(updated: int, index: int) -> int:
    return ((updated + EPOCH_OFFSET) << SHIFT) | index


def first_after(keys: Sequence[int], after: int) -> int:
    """Position of the first packed key whose time is > ``after`` (strict)."""
    return bisect_left(keys, pack(after + 1, 0))


@dataclass(frozen=True)
class Selection:
    """Positions 0..n-1 of an order minus ``excluded``, or exactly ``included``."""

    n: int = 0
    excluded: Sequence[int] | None = None  # sorted positions left out
    included: Sequence[int] | None = None  # sorted positions kept

    @property
    def total(self) -> int:
        if self.included is not None:
            return len(self.included)
        return self.n - len(self.excluded or ())

    def positions(self, skip: int, top: int | None) -> list[int]:
        if self.included is not None:
            stop = len(self.included) if top is None else skip + top
            return list(self.included[skip:stop])
        return select_excluding(self.excluded or (), self.n, skip, top)


def select_excluding(excluded: Sequence[int], n: int, skip: int, top: int | None) -> list[int]:
    """Positions ``skip .. skip+top`` of ``range(n)`` without the sorted ``excluded``.

    The first kept position is ``skip + j`` for the smallest j with
    ``excluded[j] - j > skip`` (monotone in j), found by bisection.
    """
    j = bisect_right(range(len(excluded)), skip, key=lambda x: excluded[x] - x)
    pos = skip + j
    want = n if top is None else min(n, top)
    out: list[int] = []
    n_excluded = len(excluded)
    while pos < n and len(out) < want:
        if j < n_excluded and excluded[j] == pos:
            j += 1
        else:
            out.append(pos)
        pos += 1
    return out


class Orders:
    """The sorted structures of one table (built lazily, then maintained)."""

    def __init__(self, updated: array, hasher: object) -> None:
        self._updated = updated
        self._hash = hasher  # callable: index -> 64-bit hash of the row's id
        self.deleted_sorted = array("q")
        self._by_updated: array | None = None
        self._hash_keys: array | None = None  # sorted hashes ('Q')
        self._hash_perm: array | None = None  # indexes in the same order

    # ------------------------------------------------------------ lazy structures
    def by_updated(self, deleted: set[int]) -> array:
        if self._by_updated is None:
            upd = self._updated
            packed = sorted(
                pack(upd[i], i) for i in range(len(upd)) if i not in deleted
            )  # fmt: skip
            self._by_updated = array("q", packed)
        return self._by_updated

    def hash_order(self, deleted: set[int]) -> tuple[array, array]:
        if self._hash_perm is None:
            h = self._hash
            pairs = sorted(
                (h(i), i)
                for i in range(len(self._updated))
                if i not in deleted  # type: ignore[operator]
            )
            self._hash_keys = array("Q", (p[0] for p in pairs))
            self._hash_perm = array("q", (p[1] for p in pairs))
        assert self._hash_keys is not None
        return self._hash_keys, self._hash_perm

    def hash_position(self, index: int) -> int:
        keys, perm = self._hash_keys, self._hash_perm
        assert keys is not None and perm is not None
        pos = bisect_left(keys, self._hash(index))  # type: ignore[operator]
        while perm[pos] != index:  # equal hashes: the rows sit next to each other
            pos += 1
        return pos

    # ------------------------------------------------------------ maintenance
    def on_create(self, index: int) -> None:
        if self._by_updated is not None:
            insort(self._by_updated, pack(self._updated[index], index))
        if self._hash_perm is not None:
            assert self._hash_keys is not None
            value = self._hash(index)  # type: ignore[operator]
            pos = bisect_right(self._hash_keys, value)
            self._hash_keys.insert(pos, value)
            self._hash_perm.insert(pos, index)

    def on_update(self, index: int, old: int, new: int) -> None:
        """``updated[index]`` moved from ``old`` to ``new`` (the array already holds new)."""
        keys = self._by_updated
        if keys is not None and old != new:
            del keys[bisect_left(keys, pack(old, index))]
            insort(keys, pack(new, index))

    def on_delete(self, index: int) -> None:
        insort(self.deleted_sorted, index)
        keys = self._by_updated
        if keys is not None:
            del keys[bisect_left(keys, pack(self._updated[index], index))]
        if self._hash_perm is not None:
            assert self._hash_keys is not None
            pos = self.hash_position(index)
            del self._hash_keys[pos]
            del self._hash_perm[pos]


def id_selection(orders: Orders, n_rows: int, deleted: set[int], after: int | None) -> Selection:
    """Live rows (with updated > after) in index order, as positions = indexes."""
    if after is None:
        return Selection(n_rows, excluded=orders.deleted_sorted)
    keys = orders.by_updated(deleted)
    cut = first_after(keys, after)
    if len(keys) - cut <= cut + len(deleted):
        return Selection(included=array("q", sorted(k & MASK for k in keys[cut:])))
    early = [k & MASK for k in keys[:cut]]
    return Selection(n_rows, excluded=array("q", sorted([*early, *orders.deleted_sorted])))


def hash_selection(orders: Orders, deleted: set[int], after: int | None) -> Selection:
    """Live rows (with updated > after) in hash order, as positions in ``hash_order``."""
    _, perm = orders.hash_order(deleted)
    if after is None:
        return Selection(len(perm), excluded=())
    keys = orders.by_updated(deleted)
    cut = first_after(keys, after)
    where = orders.hash_position
    if len(keys) - cut <= cut:
        return Selection(included=array("q", sorted(where(k & MASK) for k in keys[cut:])))
    return Selection(len(perm), excluded=array("q", sorted(where(k & MASK) for k in keys[:cut])))
