"""Tenant state: compact per-entity arrays, a mutation overlay, and queries.

Per entity only three ``array('q')`` columns are kept (ids, created and updated epoch
seconds); records are rebuilt on demand by ``generator.build``.  Mutations are an overlay:
changed fields per record index, appended rows for created records (ids keep ascending),
and a set of deleted indexes.

Pages are found without scanning: ``ordering`` keeps sorted arrays per table (by updated
time, by hash for ``order=unordered``, deleted indexes) up to date on every mutation, so an
``updated_after_utc`` page of a million rows is a bisection.  Filters by tag, field or
creation time still scan once per table version (cached).  Served records are kept
serialised (``rendercache``, within ``cache_mb``), the last few whole pages until the next
mutation, and ``readahead`` renders the next pages of a read in the background.

All public methods take the tenant lock: the server thread reads while a test mutates.
"""

from __future__ import annotations

import random
import threading
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple, TypeVar

from .activity import ActivityStore
from .catalog import BY_NAME, SPECS, EntitySpec, spec
from .config import EmulatorConfig
from .gen_config import STATIC_SIZES, team_memberships
from .generator import build, tags_for
from .jsonbody import dumps
from .links import linked_entities, links_for
from .ordering import (
    MASK,
    Orders,
    Selection,
    first_after,
    hash_selection,
    id_selection,
    select_excluding,
)
from .profiles import resolve_sizes
from .rand import DAY, fmt_ts, key, mix64
from .readahead import ReadAhead
from .rendercache import RenderCache, gzip_bytes
from .search_index import SearchIndex
from .tenants import shape as tenant_shape
from .vocab import JOB_TITLES, TAGS, USER_TIMEZONES
from .workers import MIN_SHARE, RenderPool, split

T = TypeVar("T")
WINDOW_DAYS = 3 * 365  # generated records were created during the 3 years before the anchor
BULK_UPDATE_DAYS = (700, 400, 200, 90, 30, 3)  # mass updates give many same-second timestamps
QUERY_CACHE_SIZE = 8
YIELD_S = 0.0005  # read-ahead pause while a request is being served
PAGE_CACHE_SIZE = 8  # whole pages kept until the next mutation
NOT_CREATABLE = frozenset(STATIC_SIZES) | {"TeamMembers"}
ARRAY_KEYS = ("CUSTOMFIELDS", "TAGS", "LINKS", "DATES", "EMAILDOMAINS", "TEAMMEMBERS", "ACTIVITIES")
PLAUSIBLE_FIELDS = (
    "TITLE", "BACKGROUND", "OPPORTUNITY_DETAILS", "PROJECT_DETAILS", "LEAD_DESCRIPTION",
    "DETAILS", "DESCRIPTION", "SUBJECT", "BODY", "Body", "MESSAGE", "RECORD_NAME", "NAME",
    "TEAM_NAME", "CATEGORY_NAME", "FOLDER_NAME", "FORUM_NAME", "PRODUCT_NAME",
    "QUOTATION_DESCRIPTION", "TEMPLATE_NAME", "PAGE_REFERRER",
)  # fmt: skip


class Page:
    """A served list page: JSON body, X-Total-Count, record count, gzip once made."""

    __slots__ = ("body", "count", "gzipped", "level", "total")

    def __init__(self, body: bytes, total: int, count: int) -> None:
        self.body = body
        self.total = total
        self.count = count
        self.gzipped: bytes | None = None
        self.level = 0

    def gzip(self, level: int) -> bytes:
        """The body gzipped at ``level`` (computed once per level)."""
        gzipped = self.gzipped
        if gzipped is None or self.level != level:
            gzipped = gzip_bytes(self.body, level)
            self.gzipped, self.level = gzipped, level
        return gzipped


class DriftEvent(NamedTuple):
    """One change made by the ``drift`` switch: op is "create", "update" or "delete"."""

    op: str
    entity: str
    id: int
    time: float  # time.time() of the change; an update's DATE_UPDATED_UTC is int(time)


@dataclass(frozen=True)
class Query:
    """What a list/search request asks for, hashable so results can be cached."""

    after: int | None = None  # strict '>' on the time column, epoch seconds
    time_column: str = "updated"  # "updated" | "created"
    field_name: str | None = None
    field_value: str | None = None
    tag: str | None = None
    exclude: tuple[str, Any] | None = None  # (field, value) to leave out
    fold_case: bool = False  # field_value matched case-insensitively (write switch)


class Table:
    """Arrays and overlay of one entity."""

    def __init__(
        self, entity: EntitySpec, ids: array, created: array, updated: array, salt: int
    ) -> None:
        self.spec = entity
        self.ids = ids
        self.created = created
        self.updated = updated
        self.n_base = len(ids)
        self.deleted: set[int] = set()
        self.base_updated: dict[int, int] = {}  # generated DATE_UPDATED_UTC of updated rows
        self.changes: dict[int, dict[str, Any]] = {}
        self.version = 0
        self.orders = Orders(updated, lambda i: mix64(ids[i] ^ salt))

    def index_of(self, record_id: int) -> int | None:
        pos = bisect_left(self.ids, record_id)
        if pos < len(self.ids) and self.ids[pos] == record_id and pos not in self.deleted:
            return pos
        return None


def to_epoch(value: datetime | None) -> int:
    """Seconds since the epoch in UTC; naive datetimes are taken as UTC."""
    if value is None:
        return int(time.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


class Tenant:
    """One emulated Insightly instance; also the ``Ctx`` the generator reads."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.anchor = to_epoch(config.anchor)
        self._lock = threading.RLock()
        self._memo: dict[str, Any] = {}
        self._cache: OrderedDict[tuple[Any, ...], Sequence[int]] = OrderedDict()
        self.shape = tenant_shape(config.tenant)  # what kind of instance (tenants.py)
        served = self.shape.specs()
        specs = SPECS + tuple(s for s in served if s not in SPECS)  # tables: catalog + extras
        sizes = resolve_sizes(config, {**STATIC_SIZES, "TeamMembers": 0}, specs)
        self.shape.adjust_sizes(sizes)
        sizes["TeamMembers"] = len(team_memberships(self.seed, sizes["Teams"], sizes["Users"]))
        self.sizes = sizes
        self._served = tuple(s.name for s in served)
        self._tables = {s.name: self._make_table(s, sizes[s.name]) for s in specs}
        self.rendered = RenderCache(int(config.cache_mb * 1024 * 1024))
        self._readahead = ReadAhead(self._warm)
        self.pool: RenderPool | None = None  # set by the emulator when render_workers > 0
        self._pages: OrderedDict[tuple[Any, ...], tuple[int, Page]] = OrderedDict()
        self._mutations = 0  # any change anywhere (a delete changes other tables' LINKS)
        self._foreground = 0  # callers serving a request right now (read-ahead yields)
        self._foreground_lock = threading.Lock()
        self.search_index = SearchIndex()
        self.activity = ActivityStore(self)  # comments and file attachments (activity.py)

    # ---------------------------------------------------------------- construction
    def _make_table(self, entity: EntitySpec, n: int) -> Table:
        """Fill ids/created/updated for n records with one sequential seeded stream.

        Ids ascend with random gaps (like a shared sequence); creation times ascend over
        the 3-year window (configuration tables: its first 60 days); about 45 % of records
        were never edited, 10 % were touched by a bulk update (same second for many
        records), the rest edited at a random later moment before the anchor.
        """
        rr = random.Random(key(self.seed, "arrays", entity.name)).random
        small = not entity.scales or entity.kind != "record"
        k = key(self.seed, "id-base", entity.name)
        # Lookup ids look like 7-digit user ids (2240727), record ids like 9-digit ones.
        id_base = (k % 8 + 1) * 1_000_000 if small else (k % 800 + 100) * 1_000_000
        start = self.anchor - WINDOW_DAYS * DAY
        span = 60 * DAY if small else WINDOW_DAYS * DAY - 3600
        bulk = sorted(
            self.anchor - d * DAY + key(self.seed, "bulk", d) % DAY for d in BULK_UPDATE_DAYS
        )
        last_second = self.anchor - 1
        ids, created, updated = array("q"), array("q"), array("q")
        current = id_base
        has_updated = entity.has_updated
        for i in range(n):
            current += 1 + int(rr() * 9)
            c = start + int((i + rr()) * span / n)
            u = c
            if has_updated:
                p = rr()
                if p < 0.45:
                    pass
                elif p < 0.55:
                    later = [b for b in bulk if b > c]
                    if later:
                        u = later[int(rr() * len(later))]
                else:
                    u = c + int(rr() * (last_second - c))
            ids.append(current)
            created.append(c)
            updated.append(u)
        return Table(entity, ids, created, updated, key(self.seed, "order", entity.name))

    # ---------------------------------------------------------------- Ctx protocol
    def n(self, entity: str) -> int:
        return self._tables[entity].n_base

    def id(self, entity: str, index: int) -> int:
        return self._tables[entity].ids[index]

    def created(self, entity: str, index: int) -> int:
        return self._tables[entity].created[index]

    def updated(self, entity: str, index: int) -> int:
        return self._tables[entity].updated[index]

    def base_updated(self, entity: str, index: int) -> int:
        t = self._tables[entity]
        return t.base_updated.get(index, t.updated[index])

    def is_deleted(self, entity: str, index: int) -> bool:
        return index in self._tables[entity].deleted

    def memo(self, name: str, factory: Callable[[], T]) -> T:
        if name not in self._memo:
            self._memo[name] = factory()
        return self._memo[name]

    # ---------------------------------------------------------------- reading
    def entities(self) -> list[str]:
        """API names of every collection this tenant serves (lists, lookups, static)."""
        return list(self._served)

    def serves(self, entity: str) -> bool:
        """False for a collection of the catalog this tenant doesn't have (a 404 path);
        True for the others and for endpoints that are no collection (Tags, ...)."""
        known = BY_NAME.get(entity)
        return known is None or known.name in self._served

    def table(self, entity: str) -> Table:
        return self._tables[spec(entity).name]

    def count(self, entity: str) -> int:
        """Number of live records (generated + created - deleted)."""
        with self._lock:
            t = self.table(entity)
            return len(t.ids) - len(t.deleted)

    def records(self, entity: str) -> list[dict[str, Any]]:
        """All live records exactly as ``GET /{entity}`` (brief=false) serves them, PK order."""
        with self._lock:
            t = self.table(entity)
            return [self._record(t, i) for i in range(len(t.ids)) if i not in t.deleted]

    def get(self, entity: str, record_id: int) -> dict[str, Any] | None:
        with self._lock:
            t = self.table(entity)
            i = t.index_of(record_id)
            return None if i is None else self._record(t, i)

    def get_bytes(self, entity: str, record_id: int) -> bytes | None:
        """``get`` serialised (from the render cache when possible)."""
        with self.serving(), self._lock:
            t = self.table(entity)
            i = t.index_of(record_id)
            return None if i is None else self._rendered(t, i, None)

    def select(
        self, entity: str, query: Query, order: str, skip: int, top: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching records and the total number of matches."""
        with self._lock:
            t = self.table(entity)
            indexes, total = self._page(t, query, order, skip, top)
            return [self._record(t, i) for i in indexes], total

    def select_page(
        self,
        entity: str,
        query: Query,
        order: str,
        skip: int,
        top: int | None,
        brief: str | None = None,
    ) -> Page:
        """``select`` as the JSON array body, with the total and the number of records.

        ``brief`` is None for full records, else the ``brief_arrays`` mode.  The last few
        pages are kept whole until the next mutation (read-ahead fills them, with their
        gzip), the records they are made of for longer (``rendered``).
        """
        with self.serving():
            return self._select_page(entity, query, order, skip, top, brief)

    def _select_page(
        self,
        entity: str,
        query: Query,
        order: str,
        skip: int,
        top: int | None,
        brief: str | None,
    ) -> Page:
        with self._lock:
            t = self.table(entity)
            page_key = (
                t.spec.name,
                query,
                order,
                skip,
                top,
                brief,
                self.config.unset_custom_fields,
            )
            hit = self._pages.get(page_key)
            if hit is not None and hit[0] == self._mutations:
                self._pages.move_to_end(page_key)
                return hit[1]
            indexes, total = self._page(t, query, order, skip, top)
            if self.pool is not None and self.pool.size:
                self._render_in_parallel(t, indexes, brief)
            parts = [self._rendered(t, i, brief) for i in indexes]
            page = Page(b"[" + b",".join(parts) + b"]", total, len(indexes))
            if self.rendered.budget > 0:
                self._pages[page_key] = (self._mutations, page)
                while len(self._pages) > PAGE_CACHE_SIZE:
                    self._pages.popitem(last=False)
            return page

    def render_records(self, entity: str, indexes: Sequence[int], brief: str | None) -> list[bytes]:
        """Serialised records, bypassing the caches (what a render worker computes)."""
        out = []
        with self._lock:
            t = self.table(entity)
            for i in indexes:
                record = self._record(t, i)
                out.append(dumps(record if brief is None else brief_record(record, brief)))
        return out

    def _render_in_parallel(self, t: Table, indexes: Sequence[int], brief: str | None) -> None:
        """Put the page's cold pristine records into the render cache, rendered by this
        process and the workers side by side."""
        pool = self.pool
        assert pool is not None
        name, cache = t.spec.name, self.rendered
        variant = f"full:{self.config.unset_custom_fields}" if brief is None else f"brief:{brief}"
        cold = [
            i for i in indexes
            if i < t.n_base and i not in t.changes and i not in t.base_updated
            and cache.peek(name, i, variant) is None
        ]  # fmt: skip
        if len(cold) < 2 * MIN_SHARE or cache.budget <= 0:
            return
        shares = split(cold, min(pool.size + 1, len(cold) // MIN_SHARE))
        deleted = {other: sorted(self._tables[other].deleted) for other in linked_entities(name)}
        mode = self.config.unset_custom_fields
        try:
            futures = [pool.submit(name, share, mode, brief, deleted) for share in shares[1:]]
        except Exception:  # a broken pool: render here
            return
        for i in shares[0]:
            self._rendered(t, i, brief)
        for share, future in zip(shares[1:], futures, strict=True):
            try:
                bodies = future.result()
            except Exception:
                continue  # rendered here when the page is assembled
            for i, body in zip(share, bodies, strict=True):
                cache.put(name, i, variant, body)
            pool.records += len(bodies)

    def read_ahead(
        self,
        entity: str,
        query: Query,
        order: str,
        skip: int,
        top: int,
        brief: str | None,
        pages: int,
    ) -> None:
        """Queue the ``pages`` pages after this one for rendering in the background."""
        if pages <= 0 or self.rendered.budget <= 0:
            return
        for k in range(1, pages + 1):
            self._readahead.schedule((entity, query, order, skip + k * top, top, brief))

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Mark a request being served: background read-ahead pauses meanwhile."""
        with self._foreground_lock:
            self._foreground += 1
        try:
            yield
        finally:
            with self._foreground_lock:
                self._foreground -= 1

    def _warm(
        self, entity: str, query: Query, order: str, skip: int, top: int, brief: str | None
    ) -> None:
        """Render one page's records into the cache, stepping aside for requests."""
        with self._lock:
            t = self.table(entity)
            indexes, _ = self._page(t, query, order, skip, top)
        pos = 0
        while pos < len(indexes):
            while self._foreground:
                time.sleep(YIELD_S)
            with self._lock:
                while pos < len(indexes) and not self._foreground:
                    if indexes[pos] < len(t.ids):
                        self._rendered(t, indexes[pos], brief)
                    pos += 1
        while self._foreground:
            time.sleep(YIELD_S)
        page = self._select_page(entity, query, order, skip, top, brief)
        level = self.config.gzip_level
        if level and page.level != level:
            page.gzip(level)  # zlib lets go of the GIL meanwhile

    def tag_names(self, entity: str) -> list[str]:
        """Distinct TAG_NAMEs used by live records of an entity, sorted."""
        with self._lock:
            t = self.table(entity)
            cache_key = ("tags", t.spec.name, t.version)
            cached = self._cache.get(cache_key)
            if cached is None:
                names: set[str] = set()
                vocab = set(TAGS.get(t.spec.name, ()))
                for i in range(len(t.ids)):
                    if i in t.deleted:
                        continue
                    names.update(self._tags(t, i))
                    if not (vocab - names) and not t.changes:
                        break  # every vocabulary tag seen; only overlays could add more
                cached = sorted(names, key=str.lower)  # type: ignore[assignment]
                self._remember(cache_key, cached)  # type: ignore[arg-type]
            return list(cached)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- internals
    def _remember(self, cache_key: tuple[Any, ...], value: Sequence[int]) -> None:
        self._cache[cache_key] = value
        self._cache.move_to_end(cache_key)
        while len(self._cache) > QUERY_CACHE_SIZE:
            self._cache.popitem(last=False)

    def _tags(self, t: Table, i: int) -> list[str]:
        changed = t.changes.get(i)
        if changed and "TAGS" in changed:
            return [tag["TAG_NAME"] for tag in changed["TAGS"]]
        return tags_for(self, t.spec.name, i) if i < t.n_base else []

    def _page(
        self, t: Table, q: Query, order: str, skip: int, top: int | None
    ) -> tuple[list[int], int]:
        """Record indexes of one page and the number of matches, without a full scan
        when only ``updated_after_utc`` filters (see ``ordering``)."""
        simple = q.field_name is None and q.tag is None and q.exclude is None
        if simple and (q.after is None or q.time_column == "updated"):
            o = t.orders
            if order == "updated":
                keys = o.by_updated(t.deleted)
                start = 0 if q.after is None else first_after(keys, q.after)
                stop = len(keys) if top is None else start + skip + top
                return [k & MASK for k in keys[start + skip : stop]], len(keys) - start
            sel = self._selection(t, order, q.after)
            positions = sel.positions(skip, top)
            if order == "unordered":
                _, perm = o.hash_order(t.deleted)
                positions = [perm[p] for p in positions]
            return positions, sel.total
        matching = self._matching(t, q, order)
        stop = len(matching) if top is None else skip + top
        return list(matching[skip:stop]), len(matching)

    def _selection(self, t: Table, order: str, after: int | None) -> Selection:
        if after is None:
            if order == "id":
                return id_selection(t.orders, len(t.ids), t.deleted, None)
            return hash_selection(t.orders, t.deleted, None)
        cache_key = (t.spec.name, t.version, "selection", order, after)
        cached = self._cache.get(cache_key)
        if cached is None:
            if order == "id":
                cached = id_selection(t.orders, len(t.ids), t.deleted, after)
            else:
                cached = hash_selection(t.orders, t.deleted, after)
            self._remember(cache_key, cached)  # type: ignore[arg-type]
        else:
            self._cache.move_to_end(cache_key)
        return cached  # type: ignore[return-value]

    def _matching(self, t: Table, q: Query, order: str) -> Sequence[int]:
        """Every matching index in order, by scanning (tag, field and created filters)."""
        cache_key = (t.spec.name, t.version, q, order)
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        deleted = t.deleted
        if q.after is not None:
            column = t.updated if q.time_column == "updated" else t.created
            after = q.after
            found = array(
                "q", (i for i in range(len(t.ids)) if column[i] > after and i not in deleted)
            )
        else:
            found = array("q", (i for i in range(len(t.ids)) if i not in deleted))
        if q.tag is not None:
            wanted = q.tag.lower()
            found = array(
                "q", (i for i in found if wanted in (x.lower() for x in self._tags(t, i)))
            )
        if q.field_name is not None:
            name, value = q.field_name, q.field_value or ""
            hits = self.search_index.matching(
                t.spec.name, name, value, q.fold_case, lambda: range(len(t.ids)),
                lambda i: field_value(self._record(t, i), name),
            )  # fmt: skip
            found = array("q", (i for i in found if i in hits))
        if q.exclude is not None:
            field, value = q.exclude
            found = array("q", (i for i in found if self._record(t, i).get(field) != value))
        if order == "updated":
            column = t.updated
            found = array("q", sorted(found, key=column.__getitem__))
        elif order == "unordered":
            ids, salt = t.ids, key(self.seed, "order", t.spec.name)
            found = array("q", sorted(found, key=lambda i: mix64(ids[i] ^ salt)))
        self._remember(cache_key, found)
        return found

    def _record(self, t: Table, i: int) -> dict[str, Any]:
        rec = build(self, t.spec, i)
        changed = t.changes.get(i)
        if changed:
            for name, value in changed.items():
                if name == "CUSTOMFIELDS" and isinstance(value, dict):
                    rec[name] = merge_custom_fields(rec.get(name) or [], value)
                else:
                    rec[name] = _copy(value)
        if self.config.unset_custom_fields == "omit" and rec.get("CUSTOMFIELDS"):
            rec["CUSTOMFIELDS"] = [c for c in rec["CUSTOMFIELDS"] if c["FIELD_VALUE"] is not None]
        return rec

    def _rendered(self, t: Table, i: int, brief: str | None) -> bytes:
        """Record i serialised, full (``brief`` None) or brief with that array mode."""
        variant = f"full:{self.config.unset_custom_fields}" if brief is None else f"brief:{brief}"
        name = t.spec.name
        cache = self.rendered
        body = cache.get(name, i, variant)
        if body is None:
            rec = self._record(t, i)
            body = dumps(rec if brief is None else brief_record(rec, brief))
            budget = int(self.config.cache_mb * 1024 * 1024)
            if cache.budget != budget:
                cache.resize(budget)
            if budget:
                body = memoryview(body).tobytes()  # orjson's bytes hold a 32 KB buffer
                cache.put(name, i, variant, body)
        return body

    def _touch(self, t: Table, index: int | None = None) -> None:
        """A mutation happened (to record ``index``): drop stale cached results."""
        t.version += 1
        self._mutations += 1
        self.search_index.touch(t.spec.name, index)
        if index is not None:
            self.rendered.drop(t.spec.name, index)
        for cache_key in [k for k in self._cache if k[0] in (t.spec.name, "tags")]:
            del self._cache[cache_key]

    # ---------------------------------------------------------------- mutations
    def create(self, entity: str, **overrides: Any) -> dict[str, Any]:
        """Append a new record (new highest id, created = updated = now) and return it."""
        with self._lock:
            t = self.table(entity)
            s = t.spec
            if s.name in NOT_CREATABLE or not s.numeric_pk:
                raise ValueError(f"{s.name} is a fixed lookup list; it cannot be mutated")
            if s.pk in overrides:
                raise ValueError(f"{s.pk} is assigned by the emulator")
            i = len(t.ids)
            gap = 1 + key(self.seed, "create", s.name, i) % 9
            now = to_epoch(None)
            t.ids.append((t.ids[-1] if len(t.ids) else 1_000_000) + gap)
            t.created.append(_parse_override(overrides.pop("DATE_CREATED_UTC", None), now))
            t.updated.append(_parse_override(overrides.pop("DATE_UPDATED_UTC", None), now))
            changes = _normalise_changes(s, overrides, self.config.new_fields)
            if changes:
                t.changes[i] = changes
            t.orders.on_create(i)
            self._touch(t, i)
            return self._record(t, i)

    def update(
        self,
        entity: str,
        record_id: int,
        changes: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Change fields of a record and bump DATE_UPDATED_UTC to ``at`` (UTC) or now.

        CUSTOMFIELDS given as a dict ``{FIELD_NAME: value}`` is merged by name; given as a
        list of ``{FIELD_NAME, FIELD_VALUE}`` items it replaces the whole array (``[]``
        empties it).  TAGS, LINKS and other arrays are always replaced.
        Without ``changes`` a plausible text field is edited.
        """
        with self._lock:
            t = self.table(entity)
            i = t.index_of(record_id)
            if i is None:
                raise KeyError(f"{t.spec.name} {record_id} does not exist")
            when = to_epoch(at)
            if changes is None:
                changes = _plausible_change(t.spec, self._record(t, i), when)
            normalised = _normalise_changes(t.spec, dict(changes), self.config.new_fields)
            merged = t.changes.setdefault(i, {})
            for name, value in normalised.items():
                before = merged.get(name)
                if name == "CUSTOMFIELDS" and isinstance(value, dict) and before is not None:
                    # a dict merges into earlier custom field changes, a list replaces them
                    if isinstance(before, dict):
                        value = {**before, **value}
                    else:
                        value = merge_custom_fields(before, value)
                merged[name] = value
            if t.spec.has_updated:
                self._stamp(t, i, when)
            self._touch(t, i)
            return self._record(t, i)

    def _stamp(self, t: Table, i: int, when: int) -> None:
        """Record i's DATE_UPDATED_UTC becomes ``when`` (epoch seconds)."""
        old = t.updated[i]
        t.base_updated.setdefault(i, old)
        t.updated[i] = when
        t.orders.on_update(i, old, when)
        self._touch(t, i)

    def drift(
        self, entity: str, step: int, creates: int, updates: int, deletes: int
    ) -> list[DriftEvent]:
        """Drift step ``step``: create, then update (DATE_UPDATED_UTC = now), then delete
        records; which ones follows from the seed and the step number."""
        events: list[DriftEvent] = []
        with self._lock:
            t = self.table(entity)
            pk = t.spec.pk
            for _ in range(creates):
                made = self.create(entity)
                events.append(DriftEvent("create", t.spec.name, made[pk], time.time()))
            for op, count in (("update", updates), ("delete", deletes)):
                for j in range(count):
                    live = len(t.ids) - len(t.deleted)
                    if live == 0:
                        break
                    rank = key(self.seed, "drift", op, step * 1_000_003 + j) % live
                    (i,) = select_excluding(t.orders.deleted_sorted, len(t.ids), rank, 1)
                    record_id = t.ids[i]
                    now = time.time()
                    if op == "update":
                        self.update(entity, record_id, at=datetime.fromtimestamp(now, timezone.utc))
                    else:
                        self.delete(entity, record_id)
                    events.append(DriftEvent(op, t.spec.name, record_id, now))
        return events

    def delete(self, entity: str, record_id: int) -> None:
        """Hard delete: later single GETs answer 404 and lists leave the record out."""
        with self._lock:
            t = self.table(entity)
            i = t.index_of(record_id)
            if i is None:
                raise KeyError(f"{t.spec.name} {record_id} does not exist")
            touched = self.config.deleted_links == "touched"
            for link in links_for(self, t.spec.name, i):  # they lose the link to this one
                other = self._tables[_LINK_ENTITY[link["LINK_OBJECT_NAME"]]]
                j = other.index_of(link["LINK_OBJECT_ID"])
                if j is not None:
                    self.rendered.drop(other.spec.name, j)
                    if touched and other.spec.has_updated:
                        self._stamp(other, j, to_epoch(None))
            t.orders.on_delete(i)
            t.deleted.add(i)
            self._touch(t, i)


_LINK_ENTITY = {s.link_name: s.name for s in SPECS if s.link_name}


def brief_record(record: dict[str, Any], mode: str) -> dict[str, Any]:
    """Top-level scalars only; arrays removed or emptied (UNCONFIRMED, a switch)."""
    if mode == "empty":
        return {k: ([] if isinstance(v, list) else v) for k, v in record.items()}
    return {k: v for k, v in record.items() if not isinstance(v, list)}


def field_value(rec: dict[str, Any], name: str) -> Any:
    """A standard field's value or a custom field's (by FIELD_NAME), for /Search, which
    matches it exactly (search_index.py)."""
    lowered = name.lower()
    for k, v in rec.items():
        if k.lower() == lowered and k not in ARRAY_KEYS:
            return v
    for item in rec.get("CUSTOMFIELDS") or ():
        if item["FIELD_NAME"].lower() == lowered:
            return item["FIELD_VALUE"]
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [dict(v) if isinstance(v, dict) else v for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def merge_custom_fields(
    current: list[dict[str, Any]], changes: dict[str, Any]
) -> list[dict[str, Any]]:
    """The record's custom field list with `changes` (FIELD_NAME -> value) applied, per
    field; a field the record lacks is appended (the store's updates and the write side)."""
    out = [dict(c) for c in current]
    by_name = {c["FIELD_NAME"]: c for c in out}
    for name, value in changes.items():
        if name in by_name:
            by_name[name]["FIELD_VALUE"] = value
        else:
            out.append({"FIELD_NAME": name, "FIELD_VALUE": value, "CUSTOM_FIELD_ID": name})
    return out


def _normalise_changes(
    s: EntitySpec, changes: dict[str, Any], new_fields: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in s.fields and not (new_fields and name.isupper()):
            raise ValueError(f"{s.name} has no field {name!r}")
        if name in (s.pk, "DATE_CREATED_UTC", "DATE_UPDATED_UTC"):
            raise ValueError(f"{name} is maintained by the emulator")
        if name == "CUSTOMFIELDS":
            if isinstance(value, dict):
                value = dict(value)
            else:
                value = [
                    {
                        "FIELD_NAME": item["FIELD_NAME"],
                        "FIELD_VALUE": item.get("FIELD_VALUE"),
                        "CUSTOM_FIELD_ID": item.get("CUSTOM_FIELD_ID", item["FIELD_NAME"]),
                    }
                    for item in value
                ]
        else:
            value = _copy(value)
        out[name] = value
    return out


def _parse_override(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, datetime):
        return to_epoch(value)
    return to_epoch(datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S"))


def _plausible_change(s: EntitySpec, rec: dict[str, Any], when: int) -> dict[str, Any]:
    """An edit a user might make: a new job title, or a note appended to a text field."""
    if s.name in ("Contacts", "Leads"):
        titles = [t for t in JOB_TITLES if t != rec.get("TITLE")]
        return {"TITLE": titles[when % len(titles)]}
    if s.name == "Users":
        zones = [z for z in USER_TIMEZONES if z != rec.get("TIMEZONE_ID")]
        return {"TIMEZONE_ID": zones[when % len(zones)]}
    stamp = fmt_ts(when)
    candidates = [*PLAUSIBLE_FIELDS, *(k for k, v in rec.items() if isinstance(v, str))]
    editable = [n for n in candidates if n in s.fields and n != s.pk]
    for name in editable:
        text_or_empty = rec.get(name) is None or isinstance(rec.get(name), str)
        if text_or_empty and not name.endswith(("_UTC", "DATE")):
            return {name: f"{rec.get(name) or ''} [edited {stamp}]".strip()}
    raise ValueError(f"no plausible field to change on {s.name}; pass changes explicitly")
