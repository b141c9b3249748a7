"""History: five syncs with changes between them; every version kept, change events exact.

The fourth sync is a full refresh (history is kept), two syncs are SIGKILLed part way
before the ones that follow them, and the last test drops the history (`--drop-history`).

The emulator's records are snapshotted after each sync (what that sync was served) and
every mutation the test makes is logged; the warehouse's `<table>_history` views must
hold exactly the served versions (the later read for a stamp read twice), with windows
that touch and never overlap, and `record_changes` must equal the log reduced to one event
per record per sync.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest

from insightly.cli import main
from insightly.models import build_models
from insightly.ops.changes import fetch_changes
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, Warehouse
from tests.helpers import as_api, column
from tests.test_sync_cli import _start_cli

ENTITIES = ["contacts", "opportunities", "custom_fields"]
TRACKED = {
    "contacts": ("Contacts", "CONTACT_ID"),
    "opportunities": ("Opportunities", "OPPORTUNITY_ID"),
}
SIZES = {"Contacts": 60, "Opportunities": 40}
STG = "insightly_stg"
MICRO, ZERO = timedelta(microseconds=1), timedelta(0)


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(seed=7, profile="tiny", api_key=API_KEY, sizes=SIZES)


@dataclass
class Story:
    """Five syncs of one tenant and what happened between them."""

    emulator: Emulator
    warehouse: Warehouse
    runs: list[str] = field(default_factory=list)  # run id of sync 1..5
    served: list[dict[tuple[str, int], dict]] = field(default_factory=list)  # after each sync
    log: list[tuple[int, str, int, str]] = field(default_factory=list)  # (sync, table, id, op)
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the first sync took
    kills: list[tuple[float, float, int]] = field(default_factory=list)  # (from, to, slot)
    killed: list[bool] = field(default_factory=list)  # each CLI run: killed part way

    def sync(self, **options: Any) -> None:
        # the API stamps to the second: a change after this sync must not share a second
        # with one before it (fast syncs did), or it is a same-second update of that version
        time.sleep(1.01 - time.time() % 1)
        started = time.monotonic()
        self.runs.append(self.warehouse.sync(entities=ENTITIES, **options).stats.sync)
        self.seconds = self.seconds or time.monotonic() - started
        self.served.append(
            {
                (table, r[pk]): r
                for table, (path, pk) in TRACKED.items()
                for r in self.emulator.tenant.records(path)
            }
        )

    def mutate(self, table: str, op: str, record_id: int | None = None, **kw: Any) -> int:
        """Change the tenant; logged against the next sync."""
        path, pk = TRACKED[table]
        tenant = self.emulator.tenant
        if op == "create":
            record_id = tenant.create(path, **(kw.get("changes") or {}))[pk]
        elif op == "update":
            tenant.update(path, record_id, kw.get("changes"), at=kw.get("at"))
        else:
            tenant.delete(path, record_id)
        self.log.append((len(self.runs) + 1, table, record_id, op))
        return record_id

    def kill_a_sync(self) -> None:
        """The next sync, as the CLI runs it, SIGKILLed part way (the sync after it reads
        what this one left); what it loaded counts for the next sync's slot."""
        wh, root = self.warehouse, self.warehouse.path.parent
        env = {
            "SOURCES__INSIGHTLY__API_KEY": API_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": self.emulator.base_url,
            "SOURCES__INSIGHTLY__DELETE_CHECK_HOURS": "0",
            "DESTINATION__DUCKDB__CREDENTIALS": str(wh.path),
        }
        started = time.time()
        # part way: once its first load package has loaded, before its versions and the id
        # checks (a sleep missed syncs that finish within the CLI's start-up time)
        watched = root / "pipelines" / "insightly" / "load" / "loaded"
        before = set(os.listdir(watched)) if watched.exists() else set()
        process = _start_cli(root, env, "--entities", ",".join(ENTITIES), "--no-models")
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if watched.exists() and set(os.listdir(watched)) - before:
                break
            time.sleep(0.002)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        killed = process.wait(timeout=60) == -signal.SIGKILL
        print(f"sync {len(self.runs) + 1}: {'killed' if killed else 'finished'} before it")
        self.kills.append((started, time.time(), len(self.runs) + 1))
        self.killed.append(killed)

    def records(self, table: str) -> list[dict]:
        return self.emulator.tenant.records(TRACKED[table][0])


def _stage_move(story: Story, opp: dict) -> dict:
    stages = [
        s
        for s in story.emulator.tenant.records("PipelineStages")
        if s["PIPELINE_ID"] == opp["PIPELINE_ID"] and s["STAGE_ID"] != opp["STAGE_ID"]
    ]
    return {"STAGE_ID": sorted(stages, key=lambda s: s["STAGE_ORDER"])[-1]["STAGE_ID"]}


def _text_field(record: dict) -> str:
    return next(
        f["FIELD_NAME"] for f in record["CUSTOMFIELDS"] if isinstance(f["FIELD_VALUE"], str)
    )


def _play(story: Story) -> None:
    """Five syncs: updates, stage moves, state changes, deletes, creates, and one record
    updated twice within one second (a sync reading it in between)."""
    story.sync()
    contacts, opps = story.records("contacts"), story.records("opportunities")
    open_opps = [o for o in opps if o["OPPORTUNITY_STATE"] == "OPEN" and o["PIPELINE_ID"]]
    story.notes.update(moved=open_opps[0], won=open_opps[1], twice=contacts[9])
    story.notes["field"] = _text_field(contacts[3])
    # -> sync 2
    for c in contacts[:4]:
        story.mutate("contacts", "update", c["CONTACT_ID"])
    custom = {"CUSTOMFIELDS": {story.notes["field"]: "changed twice"}}
    story.mutate("contacts", "update", contacts[3]["CONTACT_ID"], changes=custom)
    tags = {"TAGS": [{"TAG_NAME": "vip"}]}
    story.mutate("contacts", "update", contacts[5]["CONTACT_ID"], changes=tags)
    move = _stage_move(story, open_opps[0])
    story.mutate("opportunities", "update", open_opps[0]["OPPORTUNITY_ID"], changes=move)
    story.mutate("contacts", "delete", contacts[6]["CONTACT_ID"])
    story.notes["created"] = story.mutate("contacts", "create")
    second = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    twice = contacts[9]["CONTACT_ID"]
    story.mutate("contacts", "update", twice, changes={"TITLE": "First of two"}, at=second)
    story.sync()
    # -> sync 3: the same second again, other content
    story.mutate("contacts", "update", twice, changes={"TITLE": "Second of two"}, at=second)
    moved = story.notes["moved"]
    stage = {"STAGE_ID": moved["STAGE_ID"]}  # back where it was
    story.mutate("opportunities", "update", moved["OPPORTUNITY_ID"], changes=stage)
    won = {"OPPORTUNITY_STATE": "WON"}
    story.mutate("opportunities", "update", open_opps[1]["OPPORTUNITY_ID"], changes=won)
    story.mutate("opportunities", "delete", open_opps[2]["OPPORTUNITY_ID"])
    story.kill_a_sync()
    story.sync()
    # -> sync 4: one update, read by a full refresh (which keeps the history)
    story.mutate("contacts", "update", contacts[0]["CONTACT_ID"])
    story.sync(full_refresh=True)
    # -> sync 5: a record updated earlier is deleted, another updated again, one created
    story.mutate("contacts", "delete", contacts[1]["CONTACT_ID"])
    story.mutate("contacts", "update", contacts[2]["CONTACT_ID"])
    story.mutate("opportunities", "create")
    story.kill_a_sync()
    story.sync()


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    with Emulator(emulator_config()) as emu, pytest.MonkeyPatch.context() as mp:
        wh = Warehouse(root, emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        mp.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")  # deletes seen every sync
        story = Story(emu, wh)
        _play(story)
        with duckdb.connect(str(wh.path)) as con:
            build_models(con, "insightly", "duckdb")
        yield story


def _rows(story: Story, sql: str) -> list[dict]:
    with duckdb.connect(str(story.warehouse.path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def expected_versions(story: Story) -> dict[tuple[str, int], tuple[list[dict], bool]]:
    """Per record: the versions served at the sync times (a stamp read twice: the later
    read), and whether it was deleted."""
    out: dict[tuple[str, int], tuple[list[dict], bool]] = {}
    for snapshot in story.served:
        for key, record in snapshot.items():
            versions, _ = out.setdefault(key, ([], False))
            if versions and versions[-1]["DATE_UPDATED_UTC"] == record["DATE_UPDATED_UTC"]:
                versions[-1] = record
            else:
                versions.append(record)
    for key, (versions, _) in out.items():
        out[key] = (versions, key not in story.served[-1])
    return out


def same_content(row: dict, record: dict) -> list[str]:
    """Differences between a history row and the record the API served."""
    problems = []
    for k, v in record.items():
        if k == "CUSTOMFIELDS":
            want = {f["FIELD_NAME"]: f["FIELD_VALUE"] for f in v or []}
            if json.loads(row["customfields"]) != want:
                problems.append(k)
        elif k == "TAGS":
            if json.loads(row["tags"]) != sorted(t["TAG_NAME"] for t in v or []):
                problems.append(k)
        elif not isinstance(v, list) and as_api(row.get(column(k))) != v:
            problems.append(f"{k}: {row.get(column(k))!r} != {v!r}")
    return problems


def test_each_history_equals_the_versions_served(story):
    expected = expected_versions(story)
    checked = 0
    for table, (_, pk) in TRACKED.items():
        rows = _rows(story, f"select * from {STG}.{table}_history order by valid_from")
        got: dict[int, list[dict]] = defaultdict(list)
        for row in rows:
            got[row[column(pk)]].append(row)
        keys = {k for (t, k) in expected if t == table}
        assert set(got) == keys, table  # none lost, none invented
        for record_id, history in got.items():
            versions, deleted = expected[(table, record_id)]
            stamps = [as_api(r["valid_from"]) for r in history]
            assert stamps == [v["DATE_UPDATED_UTC"] for v in versions], (table, record_id)
            for row, record in zip(history, versions, strict=True):
                assert same_content(row, record) == [], (table, record_id)
            for earlier, later in itertools.pairwise(history):
                assert earlier["valid_to"] == later["valid_from"]  # contiguous, no overlap
                assert not earlier["is_current"]
            assert (history[-1]["valid_to"] is not None) == deleted, (table, record_id)
            assert history[-1]["is_current"] is not deleted
            checked += len(history)
    twice = story.notes["twice"]["CONTACT_ID"]
    versions = expected[("contacts", twice)][0]
    assert versions[-1]["TITLE"] == "Second of two"  # the later read of the same stamp
    assert checked > 100


def test_versions_are_unique_and_current_equals_the_last_version(story):
    for table, (_, pk) in TRACKED.items():
        key = column(pk)
        dupes = _rows(
            story,
            f"select {key}, date_updated_utc from insightly.{table}__versions "
            "group by all having count(*) > 1",
        )
        assert dupes == []
        disagree = _rows(
            story,
            f"select c.{key} from insightly.{table} c left join {STG}.{table}_history h "
            f"on h.{key} = c.{key} and h.valid_to is null "
            f"where c._deleted_at is null and (h.{key} is null or "
            "h.date_updated_utc <> c.date_updated_utc)",
        )
        assert disagree == [], table


def expected_events(story: Story) -> set[tuple[str, int, str, int]]:
    """The mutation log reduced to one event per record per sync (sync 1: all created)."""
    events = {(t, k, "created", 1) for (t, k) in story.served[0]}
    ops: dict[tuple[str, int, int], set[str]] = defaultdict(set)
    for sync, table, record_id, op in story.log:
        ops[(table, record_id, sync)].add(op)
    for (table, record_id, sync), kinds in ops.items():
        change = next(c for c in ("delete", "create", "update") if c in kinds)
        events.add((table, record_id, change.rstrip("e") + "ed", sync))
    return events


def test_record_changes_equal_the_mutation_log(story):
    sync_of = {run: i + 1 for i, run in enumerate(story.runs)}
    rows = _rows(story, f"select * from {STG}.record_changes")
    sync_of.update(killed_runs(story))
    got = {(r["entity"], r["record_id"], r["change"], sync_of[r["run_id"]]) for r in rows}
    assert len(got) == len(rows)  # one event per record per sync, a killed one included
    assert got == expected_events(story)
    assert any(story.killed), "no sync was killed part way"
    print(f"killed syncs that had loaded or closed versions: {len(killed_runs(story))}")
    twice = story.notes["twice"]["CONTACT_ID"]
    assert {(s, c) for (t, k, c, s) in got if k == twice and t == "contacts"} >= {
        (2, "updated"),
        (3, "updated"),
    }


def killed_runs(story: Story) -> dict[str, int]:
    """Run id of each killed sync that wrote anything -> the slot of the sync after it,
    told by when it loaded (a load id is a time) or closed a version."""
    out = {}
    for table in TRACKED:
        seen = _rows(
            story,
            f"select _run_id as run, cast(_dlt_load_id as double) as t "
            f"from insightly.{table}__versions union all "
            f"select _deleted_run_id, epoch(_deleted_at) from insightly.{table}__versions "
            "where _deleted_run_id is not null",
        )
        for row in seen:
            for began, ended, slot in story.kills:
                if row["run"] not in story.runs and began <= row["t"] <= ended:
                    out[row["run"]] = slot
    return out


def test_changed_fields_name_columns_and_custom_fields_by_label(story):
    rows = _rows(story, f"select * from {STG}.record_changes where change = 'updated'")
    by_record = {(r["entity"], r["record_id"]): r["changed_fields"] or "" for r in rows}
    label = _rows(
        story,
        "select field_label from insightly.custom_fields where object_table = 'contacts' "
        f"and field_name = '{story.notes['field']}'",
    )[0]["field_label"]
    changed = [
        r for r in rows if r["entity"] == "contacts" and label in (r["changed_fields"] or "")
    ]
    assert changed, f"custom field {label!r} not reported by label"
    moved = story.notes["moved"]["OPPORTUNITY_ID"]
    assert "stage_id" in by_record[("opportunities", moved)]
    won = story.notes["won"]["OPPORTUNITY_ID"]
    assert "opportunity_state" in by_record[("opportunities", won)]


def test_stage_history_follows_the_moves(story):
    moved = story.notes["moved"]
    rows = _rows(
        story,
        f"select * from {STG}.opportunity_stage_history "
        f"where opportunity_id = {moved['OPPORTUNITY_ID']} order by entered_at",
    )
    assert [r["stage_id"] for r in rows] == [
        moved["STAGE_ID"],
        _stage_move(story, moved)["STAGE_ID"],
        moved["STAGE_ID"],
    ]
    first = story.served[0][("opportunities", moved["OPPORTUNITY_ID"])]
    assert rows[0]["is_approximated"] == (first["DATE_CREATED_UTC"] < first["DATE_UPDATED_UTC"])
    assert not rows[1]["is_approximated"]
    assert rows[0]["left_at"] == rows[1]["entered_at"] and rows[-1]["left_at"] is None
    won = story.notes["won"]["OPPORTUNITY_ID"]
    stays = _rows(
        story, f"select * from {STG}.opportunity_stage_history where opportunity_id = {won}"
    )
    assert len(stays) == 1 and stays[0]["left_at"] is not None  # the stay ended when it was won
    velocity = _rows(story, "select * from insightly_reporting.pipeline_velocity")
    assert sum(r["entered_count"] for r in velocity) == len(
        _rows(story, f"select 1 from {STG}.opportunity_stage_history")
    )


def test_changes_command_prints_the_events_as_json_lines(story, capsys, monkeypatch):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(story.warehouse.path))
    since = "2000-01-01"
    args = ["changes", "--since", since, "--entity", "contacts", "--json"]
    assert main([*args, "--pipelines-dir", story.warehouse.pipelines_dir]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows = _rows(story, f"select * from {STG}.record_changes where entity = 'contacts'")
    assert len(printed) == len(rows) > 60
    assert {(e["record_id"], e["change"], e["run_id"]) for e in printed} == {
        (r["record_id"], r["change"], r["run_id"]) for r in rows
    }
    assert main(["changes", "--since", "yesterday"]) == 2
    assert "--since must be an ISO time" in capsys.readouterr().err


def test_changes_after_a_time_are_the_views_events_after_it(story, monkeypatch):
    """`insightly changes` reads only the records changed after the time; its events are
    still the view's, every column, just before and at the time of each sync's events."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(story.warehouse.path))
    pipeline = make_pipeline(SyncOptions(pipelines_dir=story.warehouse.pipelines_dir))
    rows = _rows(story, f"select * from {STG}.record_changes")
    later = sorted({r["changed_at"] for r in rows if r["run_id"] != story.runs[0]})
    times = [min(r["changed_at"] for r in rows) - timedelta(seconds=1)]
    times += [t - delta for t in later[:: max(1, len(later) // 6)] for delta in (MICRO, ZERO)]
    compared = 0
    for since, entity in itertools.product(times, [None, "opportunities"]):
        want = [
            (r["changed_at"], r["entity"], r["record_id"], r["change"], r["changed_fields"])
            for r in rows
            if r["changed_at"] > since and entity in (None, r["entity"])
        ]
        got = [
            (e["changed_at"], e["entity"], e["record_id"], e["change"], e["changed_fields"])
            for e in fetch_changes(pipeline, "insightly", since, entity)
        ]
        assert [g[:3] for g in got] == sorted(g[:3] for g in got)  # oldest first
        got = [(*g[:4], ", ".join(g[4]) or None) for g in got]
        assert sorted(got, key=repr) == sorted(want, key=repr), (since, entity)
        compared += len(got)
    assert len(times) > 8 and compared > len(rows)


def test_drop_history_starts_again_from_the_current_versions(story):
    """Last: it changes the story's warehouse."""
    run = story.warehouse.sync(entities=ENTITIES, drop_history=True).stats.sync
    for table, (_, pk) in TRACKED.items():
        rows = _rows(story, f"select {column(pk)} as id, _run_id from insightly.{table}__versions")
        assert {r["_run_id"] for r in rows} == {run}
        assert sorted(r["id"] for r in rows) == sorted(r[pk] for r in story.records(table))


def test_a_record_changed_in_the_second_it_was_created_is_created_once(
    emulator_factory, tmp_path, monkeypatch
):
    """Three deals created; a sync SIGKILLed right after its first load package; the deals
    changed again within the second they were created (same DATE_UPDATED_UTC); the rerun
    re-reads that second and replaces the versions' content. The killed sync created them;
    the rerun updated them. (Every sync that had read a replaced first version reported
    `created`: twice for such a record.)"""
    emu = emulator_factory(profile="tiny", sizes={"Opportunities": 30})
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    wh.sync(entities=["opportunities"])
    second = datetime.now(timezone.utc).replace(microsecond=0)  # the look-back re-reads it
    stamps = {"DATE_CREATED_UTC": second, "DATE_UPDATED_UTC": second}
    made = [emu.tenant.create("Opportunities", **stamps) for _ in range(3)]
    loaded = tmp_path / "pipelines" / "insightly" / "load" / "loaded"
    before = set(os.listdir(loaded))
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
        "DESTINATION__DUCKDB__CREDENTIALS": str(wh.path),
    }
    process = _start_cli(tmp_path, env, "--entities", "opportunities", "--no-models")
    while process.poll() is None and not set(os.listdir(loaded)) - before:
        time.sleep(0.005)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL  # after its load, before its end
    for deal in made:
        renamed = {"OPPORTUNITY_NAME": "Same second"}
        emu.tenant.update("Opportunities", deal["OPPORTUNITY_ID"], renamed, at=second)
    rerun = wh.sync(entities=["opportunities"]).stats.sync
    with duckdb.connect(str(wh.path)) as con:
        build_models(con, "insightly", "duckdb")
    ids = ", ".join(str(d["OPPORTUNITY_ID"]) for d in made)
    replaced = wh.query(
        "select _first_run_id, _run_id from opportunities__versions "
        f"where opportunity_id in ({ids})"
    )
    assert len(replaced) == 3 and all(first != run == rerun for first, run in replaced)
    events = wh.query(
        "select record_id, change, run_id, changed_fields from insightly_stg.record_changes "
        f"where record_id in ({ids}) order by record_id, change"
    )
    killed = replaced[0][0]
    assert events == [
        (d["OPPORTUNITY_ID"], change, run, None)
        for d in made
        for change, run in (("created", killed), ("updated", rerun))
    ]
