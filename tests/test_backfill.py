"""Backfills larger than the daily quota: a first load that takes several days progresses
every day, never fetches a page twice, and loses no record to the changes made meanwhile.

Each "day" is one sync after the emulator's quota is reset (`POST /_emulator/quota`);
between days contacts are created, updated and deleted. The read of the first load spans
days, then the id check it forces spans days too; after both, one more sync makes the
warehouse equal the emulator.

`make chaos` runs it with a bigger tenant (CHAOS_BACKFILL_CONTACTS, CHAOS_BACKFILL_LIMIT).
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import httpx
import pytest

from insightly.deletes.verdicts import REWIND_MIN
from insightly.read.walk import OVERLAP
from tests.conftest import API_KEY, Warehouse
from tests.helpers import differences
from tests.test_sync_cli import _start_cli, _wait_for, run_cli

CONTACTS = int(os.environ.get("CHAOS_BACKFILL_CONTACTS", "3000"))
DAILY_LIMIT = int(os.environ.get("CHAOS_BACKFILL_LIMIT", "6"))
CHANGES_PER_DAY = int(os.environ.get("CHAOS_BACKFILL_CHANGES", "6"))
MAX_DAYS = 60
SEARCH = "/v3.1/Contacts/Search"
LIST = "/v3.1/Contacts"
SINGLE = re.compile(r"^/v3\.1/Contacts/\d+$")


@dataclass
class Days:
    """What each day's sync asked of the emulator."""

    walk_pages: list[int] = field(default_factory=list)  # first-load pages per day
    id_pages: list[int] = field(default_factory=list)  # brief id pages per day
    gets: list[int] = field(default_factory=list)  # single-record GETs per day
    requests: list[int] = field(default_factory=list)  # every request per day
    changes: Counter[str] = field(default_factory=Counter)


def new_day(emu) -> None:
    """The quota resets (over HTTP, as a scheduler's emulator would be driven)."""
    assert httpx.post(emu.url + "/_emulator/quota").json()["used"] == 0


def change_contacts(emu, wh: Warehouse, rng: random.Random, n: int, deletes: bool) -> Counter[str]:
    """Create, update and (optionally) delete contacts between two days.

    Updates and deletes hit records the warehouse already holds: removing one of those
    shifts every later offset back, which is what makes a resumed read skip records.
    Changes are dated two seconds back, as if made well before the next sync (a change in
    the very second a read starts counts as drift during the read, see test_drift.py).
    """
    when = datetime.now(timezone.utc) - timedelta(seconds=2)
    loaded = {r[0] for r in wh.query("select contact_id from contacts")}
    records = [r for r in emu.tenant.records("Contacts") if r["CONTACT_ID"] in loaded]
    # a deleted record silently drops its links from the records at their other end, which
    # no read can see (test_crash.py): none of those may be a contact
    unlinked = [r for r in records if all(k["LINK_OBJECT_NAME"] != "Contact" for k in r["LINKS"])]
    made: Counter[str] = Counter()
    for _ in range(n):
        op = rng.choice(["create", "update", "delete"] if deletes else ["create", "update"])
        if op == "create":
            emu.tenant.create("Contacts", DATE_CREATED_UTC=when, DATE_UPDATED_UTC=when)
        elif op == "update":
            emu.tenant.update("Contacts", rng.choice(records)["CONTACT_ID"], at=when)
        else:
            gone = unlinked.pop(rng.randrange(len(unlinked)))
            records.remove(gone)
            emu.tenant.delete("Contacts", gone["CONTACT_ID"])
        made[op] += 1
    return made


def backfilling(wh: Warehouse) -> tuple[bool, bool]:
    """(the first load's read is unfinished, an id check is in progress)."""
    import dlt

    pipeline = dlt.attach("insightly", pipelines_dir=wh.pipelines_dir)
    walk = pipeline.state["sources"]["insightly"]["resources"]["contacts"].get("walk")
    checking = (Path(wh.pipelines_dir) / "insightly.idcheck" / "contacts.json").exists()
    return walk is not None, checking


def walk_requests(requests) -> list:
    """The first load's pages: /Search without updated_after_utc (not delete counts, top=1)."""
    return [
        r
        for r in requests
        if r.path == SEARCH and "updated_after_utc" not in r.params and r.params.get("top") != "1"
    ]


def kill_then_rerun(tmp_path, env: dict, emu, after_pages: int) -> tuple[int, Counter]:
    """SIGKILL a contacts sync once `after_pages` first-load pages were served, run it
    again to the end; the pages served when killed, and how often each offset was served."""
    args = ["--entities", "contacts", "--no-models"]
    process = _start_cli(tmp_path, env, *args)
    served = lambda: len([r for r in walk_requests(emu.requests) if r.status == 200])  # noqa: E731
    _wait_for(lambda: served() >= after_pages or process.poll() is not None)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    killed_at = served()
    final = run_cli(tmp_path, env, *args)
    assert final.returncode == 0, final.stderr
    served_pages = [r for r in walk_requests(emu.requests) if r.status == 200]
    return killed_at, Counter(r.params["skip"] for r in served_pages)


def report(name: str, trials: int, faults: int, compared: int, lost: int, duplicated: int):
    print(f"CHAOS|{name}|{trials}|{faults}|{compared}|{lost}|{duplicated}")


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
def test_backfill_over_days_loses_nothing(emulator_factory, tmp_path, monkeypatch, order):
    emu = emulator_factory(
        seed=23, sizes={"Contacts": CONTACTS}, order=order, daily_limit=DAILY_LIMIT
    )
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    rng = random.Random(order)
    days = Days()
    walking = True
    for _day in range(MAX_DAYS):
        new_day(emu)
        before = len(emu.requests)
        result = wh.sync(entities=["contacts"])
        today = emu.requests[before:]
        days.requests.append(len(today))
        days.walk_pages.append(len([r for r in walk_requests(today) if r.status == 200]))
        days.id_pages.append(len([r for r in today if r.path == LIST and r.status == 200]))
        days.gets.append(len([r for r in today if SINGLE.match(r.path)]))
        assert days.walk_pages[-1] + days.id_pages[-1] + days.gets[-1] > 0, "no progress"
        assert len(today) <= DAILY_LIMIT  # nothing sent into a spent quota
        walking, checking = backfilling(wh)
        if not walking and not checking:
            assert not result.stats.quota_stop
            break
        # deletes only while the read is unfinished; later ones are the delete cadence's
        days.changes += change_contacts(emu, wh, rng, CHANGES_PER_DAY, deletes=walking)
    else:
        pytest.fail(f"not finished in {MAX_DAYS} days")
    new_day(emu)
    wh.sync(entities=["contacts"])  # reads what changed since the first load began

    n = CONTACTS
    walk = walk_requests(emu.requests)
    offsets = Counter(r.params["skip"] for r in walk)
    assert [o for o, k in offsets.items() if k > 1] == []  # no page fetched twice
    runs = sum(1 for p in days.walk_pages if p)
    assert len(walk) <= math.ceil(n / 500) + runs
    brief = Counter(r.params["skip"] for r in emu.requests if r.path == LIST)
    assert [o for o, k in brief.items() if k > 1] == []

    records = emu.tenant.records("Contacts")
    stored = [r[0] for r in wh.query("select contact_id from contacts where _deleted_at is null")]
    lost = len({r["CONTACT_ID"] for r in records} - set(stored))
    duplicated = len(stored) - len(set(stored))
    print(
        f"order={order}: {len(days.requests)} days, requests/day {days.requests}, "
        f"walk pages/day {days.walk_pages} ({len(walk)} for a minimum of "
        f"{math.ceil(n / 500)}), id pages/day {days.id_pages}, GETs/day {days.gets}, "
        f"changes {dict(days.changes)}, lost {lost}, duplicated {duplicated}"
    )
    report(
        f"backfill over days, order={order}",
        len(days.requests),
        sum(days.changes.values()),
        len(records),
        lost,
        duplicated,
    )
    assert lost == 0 and duplicated == 0
    assert sum(days.gets) > 0  # the id read spanned days: delete candidates confirmed by GET
    assert sorted(stored) == sorted(r["CONTACT_ID"] for r in records)
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []


@pytest.mark.parametrize("beyond", [5, 30])
def test_records_moved_further_than_the_overlap_are_found_by_the_id_check(
    emulator_factory, tmp_path, monkeypatch, beyond
):
    emu = emulator_factory(seed=31, sizes={"Contacts": 2000}, daily_limit=4)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    first = wh.sync(entities=["contacts"])  # 3 of 4 pages
    assert first.stats.walks["contacts"] == (1500, 2000)
    # more deletes of records already read than the resume overlap absorbs
    loaded = {r[0] for r in wh.query("select contact_id from contacts")}
    unlinked = [
        r["CONTACT_ID"]
        for r in emu.tenant.records("Contacts")
        if r["CONTACT_ID"] in loaded and all(k["LINK_OBJECT_NAME"] != "Contact" for k in r["LINKS"])
    ]
    gone = unlinked[: OVERLAP + beyond]
    for record_id in gone:
        emu.tenant.delete("Contacts", record_id)
    emu.configure(daily_limit=100_000)  # the next day has quota for the read and its check
    second = wh.sync(entities=["contacts"])
    assert second.stats.walks_done == ["contacts"]
    assert second.stats.deleted == {"contacts": len(gone)}  # one undisturbed id read
    # the records the resumed read skipped: a few by one GET each; more by a re-read from
    # the oldest one's update time when that costs fewer requests
    fetched, rewound = second.stats.fetched, second.stats.rewound
    print(f"{beyond} skipped records repaired: fetched {fetched}, re-read from {rewound}")
    if beyond < REWIND_MIN:
        assert fetched == {"contacts": beyond} and rewound == {}
    else:
        assert fetched == {"contacts": beyond} or "contacts" in rewound
    third = wh.sync(entities=["contacts"])
    assert third.stats.fetched == {} and third.stats.rewound == {}
    records = emu.tenant.records("Contacts")
    stored = [r[0] for r in wh.query("select contact_id from contacts where _deleted_at is null")]
    assert sorted(stored) == sorted(r["CONTACT_ID"] for r in records)
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []


def test_a_large_read_loads_in_chunks_within_one_sync(emulator_factory, tmp_path, monkeypatch):
    emu = emulator_factory(seed=5, sizes={"Contacts": 1500})
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", "1")
    first = wh.sync(entities=["contacts"])
    # one page per pipeline run, each chunk of the sync continuing exactly where the one
    # before stopped (no overlap: the sync saw every page, see test_chunked.py)
    walk = walk_requests(emu.requests)
    assert [int(r.params["skip"]) for r in walk] == [0, 500, 1000]
    assert first.stats.chunks == 2
    assert len(first.load_info) == 3
    # verified over its chunks like a read done in one run: no id check
    assert first.stats.walks_done == []
    assert [r for r in emu.requests if r.path == LIST] == []
    records = emu.tenant.records("Contacts")
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []

    emu.clear_requests()
    again = wh.sync(entities=["contacts"])  # nothing changed: one page, one count, no id check
    assert again.stats.chunks == 0
    assert [r.path for r in emu.requests] == ["/v3.1/CustomObjects", SEARCH, SEARCH]


def test_a_kill_loses_at_most_one_chunk(emulator_factory, tmp_path):
    emu = emulator_factory(seed=9, sizes={"Contacts": 1500}, latency_ms=60)
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
        "SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN": "1",
    }
    killed_at, offsets = kill_then_rerun(tmp_path, env, emu, after_pages=2)
    fetched_twice = [o for o, k in offsets.items() if k > 1]
    print(f"killed after {killed_at} pages; fetched again: {fetched_twice}")
    assert len(fetched_twice) <= 1 and max(offsets.values()) <= 2
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as con:
        ids = [r[0] for r in con.execute("select contact_id from insightly.contacts").fetchall()]
    assert sorted(ids) == sorted(r["CONTACT_ID"] for r in emu.tenant.records("Contacts"))
