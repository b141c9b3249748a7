"""SIGKILL at random moments of a sync; after a clean run the warehouse equals the emulator.

`make test` kills a few times; `make chaos` sets CHAOS_KILLS=20.
"""

from __future__ import annotations

import os
import random
import signal
import time

import duckdb

from tests.helpers import column, differences, entity_paths
from tests.test_sync_cli import _start_cli, run_cli

KILLS = int(os.environ.get("CHAOS_KILLS", "3"))
TABLES = "contacts,organisations,leads,opportunities,notes,emails,pipelines,countries,tags"


def test_random_kills_lose_and_duplicate_nothing(tmp_path, emulator_factory):
    emulator = emulator_factory(latency_ms=15)
    env = {
        "SOURCES__INSIGHTLY__API_KEY": "test-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
        "SOURCES__INSIGHTLY__LOOKUP_REFRESH_HOURS": "0",
    }
    args = ["--entities", TABLES, "--no-models"]
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "1")))
    timing_dir = tmp_path / "timing"
    timing_dir.mkdir()
    started = time.monotonic()
    assert run_cli(timing_dir, env, *args).returncode == 0  # how long a first load takes
    duration = time.monotonic() - started
    paths = entity_paths(emulator)
    killed = 0
    for trial in range(KILLS):
        contacts = emulator.tenant.records("Contacts")
        for record in rng.sample(contacts, 300):
            emulator.tenant.update("Contacts", record["CONTACT_ID"])
        emulator.tenant.create("Leads")
        # (no deletes here: deleting a record silently drops its links from other records,
        # which no incremental read can see; deletes have their own tests)
        emulator.tenant.update("Notes", rng.choice(emulator.tenant.records("Notes"))["NOTE_ID"])
        process = _start_cli(tmp_path, env, *args)
        time.sleep(rng.uniform(0.1, 1.0) * duration)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
        print(f"trial {trial}: {'killed' if process.returncode < 0 else 'finished'}")
    final = run_cli(tmp_path, env, *args)
    assert final.returncode == 0, final.stderr
    assert killed >= KILLS // 2, "most trials should have been killed mid-run"

    class Wh:  # the helpers' interface, over the CLI's warehouse file
        path = tmp_path / "cli.duckdb"

        def query(self, sql, *params):
            with duckdb.connect(str(self.path), read_only=True) as con:
                con.execute("SET search_path = 'insightly'")
                return con.execute(sql, list(params)).fetchall()

        def columns(self, table):
            rows = self.query(
                "select column_name from information_schema.columns where table_schema = "
                "'insightly' and table_name = ? order by ordinal_position",
                table,
            )
            return [r[0] for r in rows]

        def tables(self):
            rows = self.query(
                "select table_name from information_schema.tables where table_schema = 'insightly'"
            )
            return {r[0] for r in rows}

    wh = Wh()
    compared = 0
    for table in TABLES.split(","):
        if table not in paths:
            continue
        path, pk = paths[table]
        records = emulator.tenant.records(path)
        cols = ", ".join(column(k) for k in pk)
        where = " where _deleted_at is null" if "_deleted_at" in wh.columns(table) else ""
        stored = wh.query(f"select {cols} from {table}{where}")
        assert len(stored) == len(set(stored)), f"{table}: duplicates"
        expected = {tuple(r[k] for k in pk) for r in records}
        assert expected == set(stored), f"{table}: rows lost or extra"
        assert differences(wh, table, pk, records) == []
        compared += len(records)
    print(f"kills: {killed} of {KILLS} trials; rows compared: {compared}; lost 0; duplicated 0")
    print(f"CHAOS|SIGKILL during sync|{KILLS}|{killed}|{compared}|0|0")
