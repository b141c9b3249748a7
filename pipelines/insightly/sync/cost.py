"""`insightly plan`: what a full load and an incremental sync cost in requests, and how often
a sync fits in each plan's daily quota.

Counting costs one request per entity (`top=1&brief=true&count_total=true` reads only
X-Total-Count), a fraction of a full load.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from insightly.api.client import InsightlyClient
from insightly.api.paging import page_count
from insightly.catalogue.entities import (
    ENTITIES,
    PER_RECORD,
    TAG_RECORD_TYPES,
    Entity,
    Load,
    Paging,
    custom_object_entities,
)
from insightly.config import STATE_HISTORY, ActivitySettings, Settings, load_settings
from insightly.deletes.count import count_cost
from insightly.errors import EntityUnavailable
from insightly.read.full_reads import discover_custom_objects
from insightly.read.opportunity_states import SOURCE_TABLE as STATE_SOURCE

# Daily request quotas per plan (docs/api.md §6).
PLANS: dict[str, int] = {
    "Free": 1_000,
    "Legacy": 20_000,
    "Plus": 40_000,
    "Professional": 60_000,
    "Enterprise": 100_000,
}


@dataclass
class Plan:
    """Counted records and the requests they cost."""

    counts: dict[str, int | None] = field(default_factory=dict)  # None: not in this plan
    full_load: int = 0  # requests for a first load
    incremental: int = 0  # requests per sync when little changed (lookups held)
    lookups: int = 0  # requests per lookup refresh
    deletes: int = 0  # requests per delete check (brief id pages of incremental tables)
    delete_counts: int = 0  # requests per sync counting deletes (in `incremental`)
    largest: tuple[str, int] = ("", 0)  # the largest incremental table, to price deletes
    state_history: int = 0  # StateHistory backfill: one request per opportunity (in full_load)
    state_history_read: bool = True  # per_record_tables names it (the default)
    counting: int = 0  # requests this estimate itself made
    daily_limit: int | None = None
    activity: ActivityCost | None = None  # comments and file attachments (read/activity.py)


def _count(client: InsightlyClient, entity: Entity) -> int | None:
    """Records of an entity from X-Total-Count, None when the plan lacks it."""
    path = entity.list_path if entity.load is Load.INCREMENTAL else entity.path
    if entity.single:
        return 1
    if entity.paging is Paging.NONE:
        try:
            return len(client.get_list(path, table=entity.table))
        except EntityUnavailable:
            return None
    params: dict[str, str] = dict(entity.params)
    if entity.brief_param:
        params["brief"] = "true"
    try:
        return client.total(path, params, table=entity.table)
    except EntityUnavailable:
        return None


def estimate(client: InsightlyClient, settings: Settings | None = None) -> Plan:
    """Count every entity and price a full load and an incremental sync.

    A table of more than backfill_pages_per_run pages is read in several pipeline runs of
    one sync, verified as one read: it costs its pages and no id check, unless the daily
    quota makes it span syncs (see `backfill_days`).
    """
    settings = settings or load_settings()
    plan = Plan(state_history_read=settings.activity.reads(STATE_HISTORY))
    definitions = discover_custom_objects(client)
    customs = custom_object_entities(definitions)
    for entity in (*ENTITIES, *customs):
        n = _count(client, entity)
        plan.counts[entity.table] = n
        if n is None:
            continue
        pages = page_count(n) if entity.paging is Paging.PAGED else 1
        plan.full_load += pages
        if entity.lookup:
            plan.lookups += pages
        elif entity.load is Load.FULL:
            plan.incremental += pages  # emails are re-read every run
        else:
            plan.incremental += 1
            plan.deletes += pages
            plan.delete_counts += settings.delete_count
            if entity.table == STATE_SOURCE and plan.state_history_read:
                plan.state_history = n  # read/opportunity_states.py: its one-time backfill
                plan.full_load += n
            if n > plan.largest[1]:
                plan.largest = (entity.table, n)
    metadata = len(TAG_RECORD_TYPES) + sum(e.custom_fields for e in (*ENTITIES, *customs))
    plan.lookups += metadata + 1  # tags, custom field metadata, custom objects
    plan.full_load += metadata + 1
    plan.incremental += 1 + plan.delete_counts  # custom object discovery, delete counting
    plan.activity = activity_cost(plan.counts, [e.table for e in customs], settings.activity)
    plan.counting = client.stats.total_requests
    plan.daily_limit = client.stats.rate_limit
    return plan


def render(
    plan: Plan,
    rate_per_s: float,
    reserve: float,
    cadence_hours: float,
    delete_check_hours: float = 24.0,
) -> str:
    """The plan as text: counts, costs, and syncs per day for each Insightly plan."""
    lines = ["table                          records"]
    for table, n in plan.counts.items():
        lines.append(f"{table:<30} {'not in plan' if n is None else n:>8}")
    lookups_per_day = plan.lookups * (24 / cadence_hours if cadence_hours > 0 else 0)
    lookups_per_day += plan.deletes * (24 / delete_check_hours if delete_check_hours > 0 else 0)
    lookups_per_day += plan.activity.per_day if plan.activity else 0
    lines += [
        "",
        f"full load:        {plan.full_load} requests "
        f"(~{plan.full_load / rate_per_s / 60:.1f} min at {rate_per_s:g} req/s)",
        f"incremental sync: {plan.incremental} requests when little changed "
        f"(+{plan.lookups} for the lookup refresh every {cadence_hours:g} h)",
        f"delete check:     {plan.deletes} requests (brief id pages) every "
        f"{delete_check_hours:g} h",
        *_counting_lines(plan),
        *_state_history_lines(plan),
        f"this estimate:    {plan.counting} requests",
        "backfill:         a first load spanning days is followed by one id check of it;",
        "                  'full load fits' counts that",
        *activity_lines(plan.activity),
        "",
        f"plan          daily quota  usable ({reserve:.0%} reserve)  full load fits  "
        "incremental syncs/day",
    ]
    plans = dict(PLANS)
    if plan.daily_limit and plan.daily_limit not in plans.values():
        plans["this tenant"] = plan.daily_limit
    for name, limit in plans.items():
        usable = math.floor(limit * (1 - reserve))
        days = backfill_days(plan, usable)
        fits = "yes" if days <= 1 else f"in {days} days"
        syncs = max(0, math.floor((usable - lookups_per_day) / max(plan.incremental, 1)))
        marker = " <- yours" if plan.daily_limit == limit else ""
        lines.append(f"{name:<13} {limit:>11}  {usable:>21}  {fits:>14}  {syncs:>21}{marker}")
    return "\n".join(lines)


def _state_history_lines(plan: Plan) -> list[str]:
    if not plan.state_history_read:
        return [f"{STATE_HISTORY}: off (opt in: per_record_tables)"]
    return [
        f"state history:    {plan.state_history} requests once (backfill, one per opportunity, "
        "in the full load),",
        "                  then one per opportunity whose state changed since the last sync",
    ]


def _counting_lines(plan: Plan) -> list[str]:
    """What delete counting adds to a sync (deletes/count.py), with an example."""
    if not plan.delete_counts:
        return ["delete counting: off (deletes wait for the id check)"]
    table, n = plan.largest
    d = min(10, n)
    return [
        f"delete counting:  +{plan.delete_counts} requests per sync (one count per incremental "
        "table, in the sync above);",
        "                  d deletes among n records cost about d*ceil(log2(n/d)) + 2d more"
        + (f" ({d} among {n} {table}: {count_cost(n, d) - 1})" if d else ""),
    ]


def backfill_days(plan: Plan, usable: int) -> float:
    """Days a first load takes with `usable` requests a day, its id checks included: a
    read that stops at the daily quota continues the next day, and a read spanning syncs
    is followed by one id check (as many requests as its pages, in brief). A load that fits
    in one day's quota needs none, however many chunks its tables are read in."""
    if usable <= 0:
        return math.inf
    if plan.full_load <= usable:
        return 1
    return math.ceil((plan.full_load + plan.deletes) / usable)


def activity_lines(cost: ActivityCost | None) -> list[str]:
    """What each per-record table costs, read or not (per_record_tables opts in)."""
    if cost is None:
        return []
    lines = []
    for table, backfill in cost.backfill.items():
        state = "read" if table in cost.reading else "off (opt in: per_record_tables)"
        lines.append(
            f"{table + ':':<18}{state}; backfill {backfill} requests (one per parent record, "
            f"at most {cost.per_sync} a sync), then 1 per changed parent"
        )
    if cost.enabled and cost.full_pass_hours is not None:
        lines.append(
            f"activity full pass: every {cost.full_pass_hours:g} h ({cost.total} requests)"
        )
    return lines


@dataclass
class ActivityCost:
    """What the activity tables (comments, ticket comments, file attachments) cost
    (`insightly plan`): one request per parent record for the one-time backfill and for each
    periodic full pass, at most `per_sync` requests a table per sync; between passes, one
    request per changed parent (per new email). Only the tables `per_record_tables` names
    are read; the others are priced too, as what opting in would cost."""

    backfill: dict[str, int]  # activity table -> requests of its backfill (its parents)
    per_sync: int  # activity_requests_per_table
    full_pass_hours: float | None  # None: no periodic full pass
    reading: frozenset[str] = frozenset()  # the tables the settings read

    @property
    def enabled(self) -> bool:
        return bool(self.reading & set(self.backfill))

    @property
    def total(self) -> int:
        return sum(b for t, b in self.backfill.items() if t in self.reading)

    def in_sync(self, n: int) -> int:
        """Backfill requests of the n-th sync (from 0) of a new warehouse, nothing changing."""
        return sum(
            max(0, min(self.per_sync, b - n * self.per_sync))
            for t, b in self.backfill.items()
            if t in self.reading
        )

    @property
    def syncs(self) -> int:
        """Syncs the backfill takes."""
        read = [b for t, b in self.backfill.items() if t in self.reading]
        return max((math.ceil(b / self.per_sync) for b in read), default=0)

    @property
    def per_day(self) -> float:
        """The full pass's requests spread over the days between two passes (0 hours, a
        full pass whenever one ends, is priced as one a day; None, the default, none)."""
        if self.full_pass_hours is None:
            return 0.0
        hours = self.full_pass_hours if self.full_pass_hours > 0 else 24.0
        return self.total * 24 / hours


def activity_cost(
    counts: dict[str, int | None], custom_tables: Iterable[str], settings: ActivitySettings
) -> ActivityCost:
    """Price the activity tables from the counted records of their parents."""
    custom = list(custom_tables)
    backfill = {}
    for kind in PER_RECORD:
        parents = [*kind.parents, *(custom if kind.custom_objects else [])]
        backfill[kind.table] = sum(counts.get(p) or 0 for p in parents)
    return ActivityCost(
        backfill, settings.requests_per_table, settings.full_pass_hours, settings.tables
    )
