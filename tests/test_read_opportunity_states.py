"""Opportunity state history: a one-time backfill, then one StateHistory request per
opportunity whose state changed; the won/lost mart takes its reasons from it."""

from __future__ import annotations

import duckdb

from insightly.models import build_models
from insightly_emulator.opportunity_states import change_state, progress_many, state_history

TABLES = ["opportunities"]


def _history_requests(emulator) -> list[str]:
    return [r.path for r in emulator.requests if r.path.lower().endswith("/statehistory")]


def _served(emulator) -> set[tuple]:
    rows = set()
    for opp in emulator.tenant.records("Opportunities"):
        for row in state_history(emulator.tenant, opp["OPPORTUNITY_ID"]) or []:
            rows.add(tuple(row.values()))
    return rows


def _stored(warehouse) -> set[tuple]:
    return set(
        warehouse.query(
            "select opportunity_id, strftime(date_changed_utc at time zone 'UTC', "
            "'%Y-%m-%d %H:%M:%S'), for_opportunity_state, state_reason_id, state_reason "
            "from opportunity_state_history"
        )
    )


def test_backfill_then_only_opportunities_whose_state_changed(emulator, warehouse):
    n = len(emulator.tenant.records("Opportunities"))
    first = warehouse.sync(entities=TABLES)
    assert (
        len(_history_requests(emulator)) == n == first.stats.requests["opportunity_state_history"]
    )
    assert _stored(warehouse) == _served(emulator)

    moved = progress_many(emulator.tenant, 12, step=1)  # stage moves, wins, losses
    closed = [m["id"] for m in moved if m["change"] in ("WON", "LOST")]
    stage_only = [m["id"] for m in moved if m["change"] == "stage"]
    assert closed and stage_only
    reopened = next(
        r["OPPORTUNITY_ID"]
        for r in emulator.tenant.records("Opportunities")
        if r["OPPORTUNITY_STATE"] == "SUSPENDED"
    )
    change_state(emulator.tenant, reopened, "OPEN")
    emulator.clear_requests()
    second = warehouse.sync(entities=TABLES)
    asked = {int(p.split("/")[-2]) for p in _history_requests(emulator)}
    assert asked == {*closed, reopened}
    assert second.stats.requests["opportunity_state_history"] == len(closed) + 1
    assert _stored(warehouse) == _served(emulator)

    with duckdb.connect(str(warehouse.path)) as con:
        build_models(con, "insightly", "duckdb")
        reasons = con.execute(
            "select opportunity_state, state_reason, sum(opportunity_count) from "
            "insightly_reporting.opportunities_won_lost_by_month group by 1, 2"
        ).fetchall()
    # every closed opportunity entered its state with a reason of that state
    valid = {("LOST", "Price too high"), ("LOST", "Chose a competitor"), ("WON", "Best value")}
    valid |= {("WON", "Existing relationship"), ("WON", "Product fit")}
    valid |= {("ABANDONED", "No budget"), ("ABANDONED", "Project cancelled")}
    assert reasons and all((state, reason) in valid for state, reason, _ in reasons)


def test_the_backfill_resumes_on_the_next_day(emulator, warehouse, monkeypatch):
    # the whole quota for per-record reads: the quota stop, not the daily share, cuts them
    monkeypatch.setenv("SOURCES__INSIGHTLY__PER_RECORD_QUOTA_SHARE", "1")
    n = len(emulator.tenant.records("Opportunities"))
    emulator.configure(daily_limit=200)  # 180 usable with the 10% reserve
    first = warehouse.sync(entities=TABLES)
    read_first = len(_history_requests(emulator))
    assert 0 < read_first < n and first.stats.quota_stop
    emulator.reset_quota()  # a new day
    emulator.clear_requests()
    warehouse.sync(entities=TABLES)
    assert read_first + len(_history_requests(emulator)) == n  # none read twice, none left
    assert _stored(warehouse) == _served(emulator)


def test_the_backfill_spreads_over_syncs_at_its_budget(emulator, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__STATE_HISTORY_REQUESTS_PER_SYNC", "120")
    n = len(emulator.tenant.records("Opportunities"))
    syncs = 0
    while len(_history_requests(emulator)) < n:
        before = len(_history_requests(emulator))
        warehouse.sync(entities=TABLES)
        syncs += 1
        assert len(_history_requests(emulator)) - before == min(120, n - before)
    assert syncs == -(-n // 120)
    asked = [int(p.split("/")[-2]) for p in _history_requests(emulator)]
    assert len(asked) == len(set(asked)) == n  # none read twice
    assert _stored(warehouse) == _served(emulator)
    warehouse.sync(entities=TABLES)  # done: nothing changed, nothing read
    assert len(_history_requests(emulator)) == n


def test_per_record_reads_of_a_day_keep_to_their_share_of_the_quota(emulator, warehouse):
    """Besides the reserve, StateHistory (and every per-record read) of one day uses at most
    per_record_quota_share (25%) of the daily quota, however many syncs run."""
    n = len(emulator.tenant.records("Opportunities"))
    emulator.configure(daily_limit=400)  # a share of 100 requests a day
    assert n > 100
    for _ in range(3):
        warehouse.sync(entities=TABLES)
    assert len(_history_requests(emulator)) == 100
    emulator.reset_quota()  # the quota resets; our day (UTC) has not changed: still none
    warehouse.sync(entities=TABLES)
    assert len(_history_requests(emulator)) == 100
