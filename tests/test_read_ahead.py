"""Reads overlap loads (api/ahead.py): with a page budget of AHEAD_MIN_PAGES or more, a large
read is loaded in chunks of a tenth of it while the next pages are read, so requests are
served while the chunk before is normalized and loaded. The read is still one read of the
sync (each page once, verified over its chunks, no id check), and a kill loses nothing:
the walk state records only the pages loaded, and what was read ahead is read again.
"""

from __future__ import annotations

import math
from collections import Counter

import duckdb
import pytest

from insightly.api.ahead import AHEAD_MIN_PAGES, CHUNK_SHARE
from tests.conftest import API_KEY, Warehouse
from tests.helpers import differences
from tests.test_backfill import kill_then_rerun
from tests.test_chunked import contact_state, first_load_pages, id_pages

BUDGET = AHEAD_MIN_PAGES  # backfill_pages_per_run: the smallest that reads ahead
CHUNK = BUDGET // CHUNK_SHARE  # pages a chunk (pipeline run)
CONTACTS = 12_000  # 24 pages: 6 chunks


def load_windows(result) -> list[tuple[float, float]]:
    """(start, end) of each load package's load step, epoch seconds."""
    return [
        (step["started_at"].timestamp(), step["finished_at"].timestamp())
        for info in result.load_info
        for steps in info.metrics.values()
        for step in steps
    ]


def test_pages_are_read_while_the_chunk_before_is_loaded(emulator_factory, tmp_path, monkeypatch):
    emu = emulator_factory(seed=23, sizes={"Contacts": CONTACTS}, latency_ms=40)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "10")
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", str(BUDGET))
    first = wh.sync(entities=["contacts"])

    pages = first_load_pages(emu)
    minimum = math.ceil(CONTACTS / 500)
    # one read: every page once, at the minimum, in chunks of CHUNK pages or more
    assert sorted(int(r.params["skip"]) for r in pages) == list(range(0, CONTACTS, 500))
    assert first.stats.requests["contacts"] == minimum
    assert 2 <= first.stats.chunks + 1 <= math.ceil(minimum / CHUNK)
    windows = load_windows(first)
    assert len(windows) == len(first.load_info) >= 2
    # the overlap: pages served while a chunk was loaded, and more pages read before the
    # first load ended than its chunk held
    during = [r for r in pages if any(start < r.finished < end for start, end in windows)]
    before_first = [r for r in pages if r.finished < windows[0][1]]
    print(
        f"{len(pages)} pages in {first.stats.chunks + 1} chunks; {len(during)} served during a "
        f"load; {len(before_first)} before the first load ended"
    )
    assert during
    assert len(before_first) > CHUNK
    # verified over its chunks like a read done in one run: no id check, the cursor moved
    assert id_pages(emu) == []
    assert first.stats.walks_done == [] and first.stats.drift["contacts"] == 0
    state = contact_state(wh)
    assert "walk" not in state and "id_check_after" not in state
    records = emu.tenant.records("Contacts")
    assert state["last_date_updated_utc"] == max(r["DATE_UPDATED_UTC"] for r in records)
    assert differences(wh, "contacts", ("CONTACT_ID",), records) == []


def test_a_read_ahead_that_moved_is_not_trusted(emulator_factory, tmp_path, monkeypatch):
    drift = {"entity": "Contacts", "every_n_pages": 3, "deletes": 1}
    emu = emulator_factory(seed=29, sizes={"Contacts": CONTACTS}, drift=drift)
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN", str(BUDGET))
    first = wh.sync(entities=["contacts"])
    assert emu.drift_log and first.stats.drift["contacts"] >= 1
    offsets = Counter(int(r.params["skip"]) for r in first_load_pages(emu))
    assert [o for o, k in offsets.items() if k > 1] == []  # still no page twice
    assert len(id_pages(emu)) >= math.ceil(CONTACTS / 500)  # its ids checked at once
    assert "id_check_after" in contact_state(wh)


@pytest.mark.parametrize("after_pages", [6, 14])
def test_a_kill_while_reading_ahead_loses_nothing(emulator_factory, tmp_path, after_pages):
    emu = emulator_factory(seed=31, sizes={"Contacts": CONTACTS}, latency_ms=60)
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
        "SOURCES__INSIGHTLY__RATE_PER_S": "10",
        "SOURCES__INSIGHTLY__BACKFILL_PAGES_PER_RUN": str(BUDGET),
    }
    killed_at, offsets = kill_then_rerun(tmp_path, env, emu, after_pages)
    again = [o for o, k in offsets.items() if k > 1]
    print(f"killed after {killed_at} pages; {len(again)} pages read again")
    # what a kill can cost stays within the page budget: the chunk in progress and what
    # was read ahead of it
    assert len(again) <= BUDGET and max(offsets.values()) <= 2
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as con:
        ids = [r[0] for r in con.execute("select contact_id from insightly.contacts").fetchall()]
    assert len(ids) == len(set(ids))  # nothing twice
    assert sorted(ids) == sorted(r["CONTACT_ID"] for r in emu.tenant.records("Contacts"))
