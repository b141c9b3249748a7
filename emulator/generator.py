"""Deterministic, on-demand record generation.

``build(ctx, spec, i)`` returns record *i* of an entity as the API serves it with
``brief=false``.  It depends only on (seed, entity, i) and on the compact per-entity arrays
the store keeps (ids, created/updated epochs), never on other generated records, so a
tenant with a million contacts needs no record in memory.  Cross references (an
opportunity's pricebook, a contact's employer) are pure functions that both ends can
compute.

The per-entity builders live in the ``gen_*`` modules and register themselves here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .catalog import EntitySpec
from .rand import Rand, fmt_day, fmt_ts, key, rand
from .vocab import TAGS

T = TypeVar("T")


class Ctx(Protocol):
    """What a builder may know about the tenant (implemented by ``store.Tenant``)."""

    seed: int
    anchor: int  # epoch seconds; generated data lies before it
    shape: Any  # the tenant profile (tenants.Shape): custom field table, reshape, ...

    def n(self, entity: str) -> int:
        """Number of *generated* (base) records; created records are not counted."""
        ...

    def id(self, entity: str, index: int) -> int: ...

    def created(self, entity: str, index: int) -> int: ...

    def updated(self, entity: str, index: int) -> int:
        """Current DATE_UPDATED_UTC epoch (moves when the record is updated)."""
        ...

    def base_updated(self, entity: str, index: int) -> int:
        """DATE_UPDATED_UTC as generated; other fields derive from it, so an update
        changes only the fields it names (plus DATE_UPDATED_UTC)."""
        ...

    def is_deleted(self, entity: str, index: int) -> bool: ...

    def memo(self, name: str, factory: Callable[[], T]) -> T:
        """Small per-tenant cache for derived lookup structures (never records)."""
        ...


class Gen:
    """Per-record helper handed to builders: its own Rand plus reference pickers."""

    def __init__(self, ctx: Ctx, entity: str, index: int) -> None:
        self.ctx = ctx
        self.entity = entity
        self.i = index
        self.r: Rand = rand(ctx.seed, entity, index)
        self.created = ctx.created(entity, index)
        self.updated = ctx.base_updated(entity, index)
        self.anchor = ctx.anchor

    # -- references ------------------------------------------------------------------------
    def ref_index(self, entity: str) -> int | None:
        n = self.ctx.n(entity)
        return int(self.r.random() * n) if n else None

    def ref(self, entity: str, p: float = 1.0) -> int | None:
        """Id of a random base record of ``entity`` (None with probability 1-p)."""
        if p < 1.0 and self.r.random() >= p:
            return None
        idx = self.ref_index(entity)
        return None if idx is None else self.ctx.id(entity, idx)

    def id_of(self, entity: str, index: int | None) -> int | None:
        """Id of base record ``index`` of ``entity``; None stays None."""
        return None if index is None else self.ctx.id(entity, index)

    def user(self) -> int:
        return self.ref("Users")  # type: ignore[return-value]

    # -- time ------------------------------------------------------------------------------
    def ts(self, epoch: int | None) -> str | None:
        return fmt_ts(epoch)

    def day(self, epoch: int | None) -> str | None:
        return fmt_day(epoch)

    def between(self, lo: int, hi: int) -> int:
        """Epoch uniformly in [lo, hi]; always draws once so later draws stay aligned."""
        x = self.r.random()
        return lo if hi <= lo else lo + int(x * (hi - lo))

    def after_created(self, max_days: float = 60.0) -> int:
        """A moment after creation, never after the anchor (activity dates etc.)."""
        hi = min(self.anchor - 1, self.created + int(max_days * 86400))
        return self.between(self.created, hi)

    def visibility(self) -> tuple[str, int | None]:
        """(VISIBLE_TO, VISIBLE_TEAM_ID) with mostly EVERYONE, like real instances."""
        p = self.r.random()
        if p < 0.85:
            return "EVERYONE", None
        if p < 0.9:
            return "OWNER", None
        return "TEAM", self.ref("Teams")


def hashed_index(ctx: Ctx, entity: str, salt: str, i: int) -> int | None:
    n = ctx.n(entity)
    return key(ctx.seed, salt, i) % n if n else None


Builder = Callable[[Gen], dict[str, Any]]
BUILDERS: dict[str, Builder] = {}


def builder(*names: str) -> Callable[[Builder], Builder]:
    """Register a builder for one or more entity names."""

    def register(fn: Builder) -> Builder:
        for name in names:
            BUILDERS[name] = fn
        return fn

    return register


def tags_for(ctx: Ctx, entity: str, i: int) -> list[str]:
    """Tags of a generated record; cheap (one hash) so /Tags can scan many records."""
    vocab = TAGS.get(entity)
    if not vocab or ctx.shape.bare:
        return []
    h = key(ctx.seed, "tags", entity, i)
    p = (h & 0xFFFF) / 65536.0
    count = 0 if p < 0.55 else 1 if p < 0.85 else 2 if p < 0.95 else 3
    out: list[str] = []
    for j in range(count):
        tag = vocab[(h >> (16 + 12 * j)) % len(vocab)]
        if tag not in out:
            out.append(tag)
    return out


def build(ctx: Ctx, spec: EntitySpec, i: int) -> dict[str, Any]:
    """Record ``i`` of ``spec`` with every key of the spec, in order, null when empty."""
    plan = _PLANS.get(spec.name)
    if plan is None:
        plan = _PLANS[spec.name] = _Plan(spec)
    g = Gen(ctx, spec.name, i)
    values = plan.builder(g)
    if spec.numeric_pk:
        values[spec.pk] = ctx.id(spec.name, i)
    if plan.created and "DATE_CREATED_UTC" not in values:
        values["DATE_CREATED_UTC"] = fmt_ts(g.created)
    if plan.updated:
        values["DATE_UPDATED_UTC"] = fmt_ts(ctx.updated(spec.name, i))
    if plan.custom:
        values["CUSTOMFIELDS"] = _customfields.values_for(ctx, spec, i)
    if plan.tags:
        values["TAGS"] = [{"TAG_NAME": t} for t in tags_for(ctx, spec.name, i)]
    if plan.links:
        values["LINKS"] = _links.links_for(ctx, spec.name, i)
    for name in plan.arrays:
        if values.get(name) is None:
            values[name] = []
    if not values.keys() <= plan.field_set:
        extra = set(values) - plan.field_set
        raise AssertionError(f"{spec.name} builder produced unknown keys {sorted(extra)}")
    record = dict.fromkeys(plan.fields)
    record.update(values)  # keys already present keep the spec's order
    reshape = ctx.shape.reshape  # the tenant's profile (tenants.py)
    return record if reshape is None else reshape(ctx, spec, i, record)


class _Plan:
    """What ``build`` needs to know about an entity, worked out once."""

    def __init__(self, spec: EntitySpec) -> None:
        self.builder = BUILDERS[spec.name]
        self.fields = spec.fields
        self.field_set = frozenset(spec.fields)
        self.created = spec.has_created and "DATE_CREATED_UTC" in spec.fields
        self.updated = spec.has_updated
        self.custom = bool(spec.custom_for)
        self.tags = "TAGS" in spec.fields
        self.links = "LINKS" in spec.fields
        self.arrays = tuple(
            n for n in ("DATES", "EMAILDOMAINS", "TEAMMEMBERS", "ACTIVITIES") if n in spec.fields
        )


_PLANS: dict[str, _Plan] = {}


def _load_builders() -> None:
    """Import the builder modules so they register (kept in one place for clarity)."""
    from . import gen_activity, gen_config, gen_crm, gen_custom, gen_sales, gen_service  # noqa: F401


_load_builders()
from . import customfields as _customfields  # noqa: E402  (they import Gen from here)
from . import links as _links  # noqa: E402
