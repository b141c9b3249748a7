"""`insightly changes` at any size: the events after a time are the view's, exactly, and a
long history doesn't run it out of memory.

A user's `insightly changes --since 10m` ran out of DuckDB's 512 MiB over 14,285 contact
versions: the events were computed for every version, every column, and only then
filtered by time. Here two real syncs (one contact renamed between them) get a long past
added in SQL, the way syncs would have written it: more contacts, each with ten older
versions from ten older syncs, a few found deleted. The command then runs under a memory
limit far below what the old query needed, and its answers equal the `record_changes`
view's (built over the same raw tables, run with the default limit) at several times.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from insightly.cli import main
from insightly.models import build_models
from insightly.ops.changes import fetch_changes
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, Warehouse

ENTITIES = ["contacts", "custom_fields"]
COPIES = 100  # contacts made of each synced one
OLDER = 10  # older versions (syncs) of each made contact
LIMIT = '{"memory_limit": "48MiB"}'  # DuckDB's, for the command


def _add_a_long_past(path, now: datetime) -> int:
    """Contacts copied under new ids, each with OLDER versions a week apart from OLDER
    syncs (a custom field and the title change every time); one in 50 found deleted by the
    last of them, 2 days ago. Returns the versions rows."""
    runs = "[" + ", ".join(f"'older-sync-{j}'" for j in range(OLDER)) + "]"
    new_id = f"contact_id + c.copy * {10**7}"
    gone = f"({new_id}) % 50 = 3 and v.j = {OLDER - 1}"
    with duckdb.connect(str(path)) as con:
        con.execute("set search_path = 'insightly'")
        (field,) = con.execute(
            "select field_name from custom_fields where object_table = 'contacts' "
            "and field_type = 'TEXT' order by field_name limit 1"
        ).fetchone()
        con.execute(
            f"""
            insert into contacts__versions by name
            select one.* replace (
                {new_id} as contact_id,
                $now - interval 100 day + v.j * interval 7 day as date_updated_utc,
                coalesce(title, '') || ' ' || v.j as title,
                json_merge_patch(customfields, json_object($field, 'v' || v.j))
                    as customfields,
                {runs}[v.j + 1] as _run_id, {runs}[v.j + 1] as _first_run_id,
                md5(_version_hash || c.copy || v.j) as _version_hash,
                case when {gone} then $now - interval 2 day end as _deleted_at,
                case when {gone} then {runs}[{OLDER}] end as _deleted_run_id
            )
            from contacts__versions as one, range(1, {COPIES + 1}) as c(copy),
                range({OLDER}) as v(j)
            order by v.j
            """,
            {"now": now, "field": field},
        )
        con.execute(
            f"""
            insert into contacts by name
            select one.* replace ({new_id} as contact_id)
            from contacts as one, range(1, {COPIES + 1}) as c(copy)
            where ({new_id}) % 50 <> 3
            """
        )
        return con.execute("select count(*) from contacts__versions").fetchone()[0]


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    """Two syncs, one contact renamed between them, then the long past; models built."""
    root = tmp_path_factory.mktemp("long-history")
    config = EmulatorConfig(seed=7, profile="tiny", api_key=API_KEY, sizes={"Contacts": 60})
    with Emulator(config) as emu, pytest.MonkeyPatch.context() as mp:
        wh = Warehouse(root, emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        wh.sync(entities=ENTITIES)
        renamed = emu.tenant.records("Contacts")[0]["CONTACT_ID"]
        emu.tenant.update("Contacts", renamed, {"TITLE": "Renamed, lately"})
        wh.sync(entities=ENTITIES)
    rows = _add_a_long_past(wh.path, datetime.now(timezone.utc))
    with duckdb.connect(str(wh.path)) as con:
        build_models(con, "insightly", "duckdb")
    return wh, renamed, rows


def test_changes_since_minutes_ago_fits_a_small_memory_limit(long_history, capsys, monkeypatch):
    wh, renamed, rows = long_history
    assert rows > 60 * COPIES * OLDER
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", LIMIT)
    args = ["changes", "--since", "10m", "--json", "--pipelines-dir", wh.pipelines_dir]
    assert main(args) == 0, capsys.readouterr().err
    said = capsys.readouterr()
    events = [json.loads(line) for line in said.out.splitlines()]
    assert [(e["record_id"], e["change"], e["changed_fields"]) for e in events] == [
        (renamed, "updated", ["title"])
    ], said.err


def _view(wh: Warehouse, since: datetime, entity: str | None = None) -> list[tuple]:
    where = "and entity = ?" if entity else ""
    return wh.query(
        "select changed_at, entity, record_id, change, changed_fields, run_id "
        f"from insightly_stg.record_changes where changed_at > ? {where}",
        since,
        *([entity] if entity else []),
    )


def test_changes_after_any_time_are_the_views_events(long_history, monkeypatch):
    wh, _, _ = long_history
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    pipeline = make_pipeline(SyncOptions(pipelines_dir=wh.pipelines_dir))
    now = datetime.now(timezone.utc)
    compared = 0
    for days in (0.01, 3, 60, 3000):
        since = now - timedelta(days=days)
        want = _view(wh, since)
        events = list(fetch_changes(pipeline, "insightly", since, None))
        got = [
            (e["changed_at"], e["entity"], e["record_id"], e["change"], e["changed_fields"])
            for e in events
        ]
        assert got == sorted(got, key=lambda e: (e[0], e[1], e[2]))  # oldest first
        assert sorted(got, key=repr) == sorted(
            ((r[0], r[1], r[2], r[3], (r[4] or "").split(", ") if r[4] else []) for r in want),
            key=repr,
        ), days
        assert len({e["run_id"] for e in events}) == len({r[5] for r in want})
        compared += len(events)
    changes = {e[3] for e in got}
    assert changes == {"created", "updated", "deleted"}
    assert compared > 3 * 60 * COPIES
