"""`insightly plan`: what a full load and an incremental sync cost in requests, and how often
a sync fits in each plan's daily quota.

Counting costs one request per entity (`top=1&brief=true&count_total=true` reads only
X-Total-Count), a fraction of a full load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from insightly.api.client import InsightlyClient
from insightly.api.paging import page_count
from insightly.catalogue.entities import (
    ENTITIES,
    TAG_RECORD_TYPES,
    Entity,
    Load,
    Paging,
    custom_object_entities,
)
from insightly.config import Settings, load_settings
from insightly.deletes.count import count_cost
from insightly.errors import EntityUnavailable
from insightly.read.activity import ActivityCost, activity_cost
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
    plan = Plan()
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
            if entity.table == STATE_SOURCE:  # read/opportunity_states.py: its one-time backfill
                plan.state_history = n
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
        f"state history:    {plan.state_history} requests once (backfill, one per opportunity, "
        "in the full load),",
        "                  then one per opportunity whose state changed since the last sync",
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
    """What comments and file attachments cost, for the plan's text."""
    if cost is None or not cost.enabled:
        return ["activity:         off (activity = false)"]
    tables = ", ".join(f"{t} {n}" for t, n in cost.backfill.items())
    return [
        f"activity backfill: {cost.total} requests, one per parent record ({tables}),",
        f"                  at most {cost.per_sync} per table per sync: {cost.syncs} syncs; "
        f"again as the full pass every {cost.full_pass_hours:g} h",
        "activity per sync: 1 request per changed record per activity table it has "
        "(emails: per new email)",
    ]
