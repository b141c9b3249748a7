"""Pacing, retries and the daily quota, measured at the emulator."""

from __future__ import annotations

import pytest

from insightly.errors import QuotaExhausted, QuotaReserveReached
from insightly.incremental import CURSOR_STATE
from tests.conftest import Warehouse
from tests.helpers import column, entity_paths

PAGES = 16  # contacts pages in these tests: 8,000 records


def starts(emulator) -> list[float]:
    return sorted(r.started for r in emulator.requests)


def max_per_window(times: list[float], window: float = 1.0) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def max_overlap(emulator) -> int:
    events = sorted(
        [(r.started, 1) for r in emulator.requests] + [(r.finished, -1) for r in emulator.requests]
    )
    level = best = 0
    for _, step in events:
        level += step
        best = max(best, level)
    return best


@pytest.fixture
def big(emulator_factory, tmp_path, monkeypatch):
    emu = emulator_factory(sizes={"Contacts": 500 * PAGES}, latency_ms=40)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    return emu, wh


def test_rate_and_in_flight_cap_are_respected(big, monkeypatch):
    emu, wh = big
    emu.configure(latency_ms=250)  # slower than the 0.1 s spacing, so requests must overlap
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "10")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "2")
    result = wh.sync(entities=["contacts", "leads", "organisations"])
    assert result.stats.rows["contacts"] == 500 * PAGES
    times = starts(emu)
    assert len(times) >= PAGES + 3
    assert max_per_window(times) <= 11  # 10/s, plus one for clock edges
    assert max_per_window(times, 3.0) <= 31
    assert max_overlap(emu) <= 2
    span = times[-1] - times[0]
    assert span >= (len(times) - 1) / 10 * 0.9  # paced, not bursting
    assert max_overlap(emu) == 2  # and it does use the concurrency it was given


def test_429s_slow_every_worker_and_the_sync_completes(big, monkeypatch):
    emu, wh = big
    emu.configure(rate_limit_per_s=3, retry_after=True)
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "40")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "4")
    result = wh.sync(entities=["contacts", "leads", "organisations"])
    rejected = [r for r in emu.requests if r.status == 429]
    assert rejected, "the emulator allows 3/s; the pacer was set to 40/s"
    assert result.stats.statuses[429] == len(rejected)
    assert result.stats.rows["contacts"] == 500 * PAGES
    n = wh.query("select count(*), count(distinct contact_id) from contacts")[0]
    assert n == (500 * PAGES, 500 * PAGES)
    # Retry-After (1 s here) is honoured by everyone: after the first 429 nothing starts
    # for most of a second. A request the pacer let go just before the 429 may start up to
    # 0.2 s later on a loaded machine (64 ms seen); a pacer ignoring Retry-After at 40/s
    # would start several between 0.2 and 0.9 s.
    first = min(r.started for r in rejected)
    after = [r.started for r in emu.requests if r.started > first + 0.2]
    assert after and min(after) >= first + 0.9


def test_5xx_and_truncated_bodies_are_retried(emulator, warehouse):
    emulator.configure(fail_next={"Contacts": [500, 502], "Leads": [503, 504], "Notes": [500]})
    result = warehouse.sync(entities=["contacts", "leads", "notes"])
    assert result.stats.statuses[500] == 2 and result.stats.statuses[503] == 1
    n = len(emulator.tenant.records("Contacts"))
    assert warehouse.query("select count(*) from contacts")[0][0] == n
    assert result.stats.requests["contacts"] == 3 + 2


def test_client_errors_are_never_retried(emulator, warehouse):
    emulator.configure(forbidden={"Leads": 403})
    result = warehouse.sync(entities=["leads"])
    assert [r.status for r in emulator.requests if "leads" in r.path.lower()] == [403]
    assert result.stats.skipped == {"leads": "no access (403)"}


def test_quota_stop_loads_what_was_read_and_keeps_cursors(emulator, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    paths = entity_paths(emulator)
    warehouse.sync(entities=["contacts", "leads"])  # a first load, so cursors exist
    for record in emulator.tenant.records("Contacts")[:700]:
        emulator.tenant.update("Contacts", record["CONTACT_ID"])
    emulator.configure(daily_limit=3)  # a new day with 3 requests
    result = warehouse.sync(entities=["contacts", "leads", "organisations"])
    assert result.stats.quota_stop and "quota" in result.stats.quota_stop
    assert set(result.stats.unfinished) >= {"organisations"}
    from insightly.cli import _user_error  # noqa: F401  (exit code is checked via the CLI test)

    state = _states(warehouse)
    assert "organisations" not in state or CURSOR_STATE not in state["organisations"]
    emulator.configure(daily_limit=100_000)  # the next day
    warehouse.sync(entities=["contacts", "leads", "organisations"])
    for table in ("contacts", "leads", "organisations"):
        path, pk = paths[table]
        cols = ", ".join(column(k) for k in pk)
        stored = warehouse.query(f"select {cols} from {table}")
        assert len(stored) == len(set(stored)) == len(emulator.tenant.records(path)), table
    updated = {r["CONTACT_ID"]: r["DATE_UPDATED_UTC"] for r in emulator.tenant.records("Contacts")}
    rows = warehouse.query(
        "select contact_id, strftime(date_updated_utc, '%Y-%m-%d %H:%M:%S') from contacts"
    )
    assert {k: v for k, v in rows} == updated


def test_reserve_is_never_crossed(emulator, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0.25")
    emulator.configure(daily_limit=40)
    with pytest.raises(Exception) as info:
        warehouse.sync()  # the lookups alone need more than the 30 requests allowed
    from insightly.cli import _user_error

    assert isinstance(_user_error(info.value), QuotaReserveReached)
    assert len(emulator.requests) <= 30  # 25% of 40 kept for other integrations

    emulator.clear_requests()
    emulator.configure(daily_limit=8)  # a new day; incremental tables stop gracefully
    result = warehouse.sync(entities=["contacts", "organisations", "leads", "opportunities"])
    assert result.stats.quota_stop is not None  # they needed 8 requests
    assert len(emulator.requests) <= 6  # ceil(25% of 8) = 2 kept
    assert result.stats.rate_remaining >= 2


def test_quota_stop_in_full_tables_loads_nothing_partial(emulator, warehouse, monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    emulator.configure(daily_limit=2)
    with pytest.raises(Exception) as info:
        warehouse.sync(entities=["emails", "countries", "tags"])
    from insightly.cli import _user_error

    assert isinstance(_user_error(info.value), QuotaExhausted)
    assert not warehouse.path.exists() or "emails" not in warehouse.tables()


def _states(warehouse) -> dict:
    import dlt

    pipeline = dlt.attach("insightly", pipelines_dir=warehouse.pipelines_dir)
    return pipeline.state.get("sources", {}).get("insightly", {}).get("resources", {})
