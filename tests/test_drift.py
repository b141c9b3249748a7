"""Records changing between the pages of one read, under every plausible result order, and
a mix of failing requests (5xx, resets, timeouts, truncated bodies): after at most one
more sync the warehouse equals the emulator.

`make chaos` repeats this with more seeds (CHAOS_DRIFT_SEEDS).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import Warehouse
from tests.helpers import differences

SEEDS = range(int(os.environ.get("CHAOS_DRIFT_SEEDS", "1")))
DRIFT = {"entity": "Contacts", "every_n_pages": 1, "creates": 2, "updates": 3, "deletes": 2}


def active_keys(wh: Warehouse) -> list[int]:
    return [r[0] for r in wh.query("select contact_id from contacts where _deleted_at is null")]


def report(name: str, trials: int, faults: int, compared: int, lost: int, duplicated: int):
    print(f"CHAOS|{name}|{trials}|{faults}|{compared}|{lost}|{duplicated}")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
def test_drift_is_repaired_by_the_next_sync(emulator_factory, tmp_path, monkeypatch, order, seed):
    emu = emulator_factory(seed=seed + 11, sizes={"Contacts": 3000}, order=order, drift=DRIFT)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    first = wh.sync(entities=["contacts"])
    assert first.stats.drift["contacts"] >= 1  # the read noticed the ground moving
    emu.configure(drift={})
    # Deletes are only concluded for records not updated within a second of the id read
    # (DATE_UPDATED_UTC has one-second precision); syncs are minutes apart in real life.
    time.sleep(2)
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    second = wh.sync(entities=["contacts"])
    assert second.stats.drift["contacts"] == 0
    records = emu.tenant.records("Contacts")
    keys = active_keys(wh)
    lost = len({r["CONTACT_ID"] for r in records} - set(keys))
    duplicated = len(keys) - len(set(keys))
    report(f"drift order={order}", 2, len(emu.drift_log), len(records), lost, duplicated)
    assert lost == 0 and duplicated == 0
    assert sorted(keys) == sorted(r["CONTACT_ID"] for r in records)
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []


def test_failing_requests_are_retried_to_an_exact_copy(emulator_factory, tmp_path, monkeypatch):
    emu = emulator_factory(sizes={"Contacts": 5000}, fault_rate=0.2, timeout_hold_s=3.0, seed=5)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    from tests.conftest import FAST_RETRIES

    monkeypatch.setitem(FAST_RETRIES, "timeout", 1.0)
    monkeypatch.setitem(FAST_RETRIES, "max_attempts", 8)
    wh.sync(entities=["contacts", "leads", "organisations", "opportunities", "tasks"])
    faults = sum(1 for r in emu.requests if r.status in (0, 500, 502, 503) or r.status >= 900)
    compared = 0
    for table, path, pk in (
        ("contacts", "Contacts", ("CONTACT_ID",)),
        ("leads", "Leads", ("LEAD_ID",)),
        ("organisations", "Organisations", ("ORGANISATION_ID",)),
    ):
        records = emu.tenant.records(path)
        stored = wh.query(f"select count(*), count(distinct {pk[0].lower()}) from {table}")[0]
        assert stored == (len(records), len(records)), table
        assert differences(wh, table, pk, records) == []
        compared += len(records)
    report("faults 20%", 1, faults, compared, 0, 0)
    assert faults > 0
