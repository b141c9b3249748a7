"""Value indexes for ``/Search?field_name=&field_value=``, so an exact-match lookup does
not rebuild every record of the table.

A write-back client searches after every write whose answer was lost; a full scan costs
about 0.4 ms a record (0.75 s for the 1,250 contacts of the test profile, 4 s for the demo
profile's 10,000), so a few dozen lookups in a chaos test would take minutes. One index
per (entity, field, case folding) is built by one scan on its first search, then patched:
the store reports each record it changes (``touch``), and the next search re-reads only
those records. Matching is exact, as before: strings by text (case-folded under the
``search_case`` switch), numbers by value, booleans as "true"/"false"; null never matches.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

Key = tuple[str, Any]
ValueOf = Callable[[int], Any]  # record index -> the field's value, or a MISSING marker


def keys_of(value: Any, fold: bool) -> list[Key]:
    """The lookup keys a stored value answers to."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [("bool", value)]
    if isinstance(value, int | float):
        return [("num", float(value))]
    text = str(value)
    return [("text", text.casefold() if fold else text)]


def wanted_keys(wanted: str, fold: bool) -> list[Key]:
    """The keys a searched text can match (a number matches by value too)."""
    keys: list[Key] = [("text", wanted.casefold() if fold else wanted)]
    if wanted.strip().lower() in ("true", "false"):
        keys.append(("bool", wanted.strip().lower() == "true"))
    with contextlib.suppress(ValueError):
        keys.append(("num", float(wanted)))
    return keys


class _Index:
    def __init__(self) -> None:
        self.by_key: dict[Key, set[int]] = {}
        self.of_record: dict[int, list[Key]] = {}

    def put(self, i: int, keys: list[Key]) -> None:
        for key in self.of_record.pop(i, ()):
            self.by_key.get(key, set()).discard(i)
        if keys:
            self.of_record[i] = keys
            for key in keys:
                self.by_key.setdefault(key, set()).add(i)


class SearchIndex:
    """Every field index of one tenant, with the records changed since each was read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[tuple[str, str, bool], _Index] = {}
        self._dirty: dict[tuple[str, str, bool], set[int]] = {}

    def touch(self, entity: str, index: int | None) -> None:
        """Record `index` of `entity` changed (None: any of them may have)."""
        with self._lock:
            for name in [n for n in self._indexes if n[0] == entity]:
                if index is None:
                    del self._indexes[name], self._dirty[name]
                else:
                    self._dirty[name].add(index)

    def matching(
        self,
        entity: str,
        field: str,
        wanted: str,
        fold: bool,
        live: Callable[[], Iterable[int]],
        value_of: ValueOf,
    ) -> set[int]:
        """Indexes of records whose `field` equals `wanted`; `live` lists the records to
        index on first use, `value_of` reads one record's value."""
        name = (entity, field.lower(), fold)
        with self._lock:
            found = self._indexes.get(name)
            if found is None:
                found = self._indexes[name] = _Index()
                self._dirty[name] = set(live())
            for i in self._dirty.pop(name):
                found.put(i, keys_of(value_of(i), fold))
            self._dirty[name] = set()
            out: set[int] = set()
            for key in wanted_keys(wanted, fold):
                out |= found.by_key.get(key, set())
            return out
