"""`insightly plan` predicts what syncs really cost."""

from __future__ import annotations

import math
import subprocess
import sys

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection
from insightly.api.pacing import Pacer
from insightly.catalogue.entities import ENTITIES
from insightly.sync.cost import Plan, backfill_days, estimate, render
from tests.conftest import API_KEY
from tests.helpers import entity_paths


def test_plan_matches_the_requests_real_syncs_make(emulator, warehouse):
    with InsightlyClient(Connection(API_KEY, emulator.base_url), pacer=Pacer(500, 4)) as client:
        plan = estimate(client)
    for table, (path, _) in entity_paths(emulator).items():
        assert plan.counts[table] == len(emulator.tenant.records(path)), table
    singles = sum(e.single for e in ENTITIES)  # Instance, Permissions: one row, not counted
    assert plan.counting == len(plan.counts) + 1 - singles  # one per entity, plus discovery

    # the activity backfill (comments, file attachments) reads at most its budget per sync
    first = warehouse.sync()
    assert first.stats.total_requests == plan.full_load + plan.activity.in_sync(0)
    second = warehouse.sync()
    assert second.stats.total_requests == plan.incremental + plan.activity.in_sync(1)

    text = render(plan, rate_per_s=4, reserve=0.1, cadence_hours=24)
    free = next(line for line in text.splitlines() if line.startswith("Free"))
    usable = 900
    # the weekly activity full pass, spread over the week, counts against the day's quota
    spare = usable - plan.lookups - plan.deletes - plan.activity.per_day
    syncs = max(0, math.floor(spare / plan.incremental))
    pages = sum(
        -(-len(emulator.tenant.records(p)) // 500)
        for t, (p, _) in entity_paths(emulator).items()
        if t in first.stats.incremental
    )
    assert plan.deletes == pages
    assert free.split() == ["Free", "1000", "900", "yes", str(syncs)]


def test_plan_reports_entities_outside_the_plan(emulator, monkeypatch):
    emulator.configure(forbidden={"Ticket": 403, "Product": 404})
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
        "SOURCES__INSIGHTLY__RATE_PER_S": "500",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "insightly.cli", "plan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert next(x for x in lines if x.startswith("tickets ")).split()[1:] == ["not", "in", "plan"]
    assert next(x for x in lines if x.startswith("products ")).split()[1:] == ["not", "in", "plan"]
    assert any(x.startswith("Enterprise") and x.endswith("<- yours") for x in lines)
    assert API_KEY not in result.stdout + result.stderr


def test_a_first_load_over_several_days_counts_its_id_check():
    plan = Plan(full_load=2_010, deletes=2_000, incremental=30)
    # 1M contacts on the Free plan: 2,000 pages read over 3 days, then 2,000 id pages
    assert backfill_days(plan, 900) == 5
    assert backfill_days(plan, 54_000) == 1
    # read in chunks of one sync (2,010 pages > backfill_pages_per_run): no id check
    assert backfill_days(plan, 3_000) == 1
    line = next(x for x in render(plan, 4, 0.1, 24).splitlines() if x.startswith("Free"))
    assert line.split()[3:6] == ["in", "5", "days"]
