"""A warehouse written by the version before the parent-keyed layout (tests/fixtures/
old_layout, exported at 661a0d3) is moved on the first sync of this one, in the warehouse,
without an API request, and soft-deleted records keep their child rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly.warehouse.migrate import migrate_child_tables
from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, Warehouse
from tests.fixtures.make_old_layout import SIZES
from tests.helpers import differences

FIXTURE = Path(__file__).parent / "fixtures" / "old_layout"
CHILDREN = ("contacts__customfields", "contacts__tags", "contacts__links", "contacts__dates")


def _import_old_warehouse(path: Path, workdir: Path) -> None:
    """IMPORT DATABASE with the export's absolute paths pointed at this checkout."""
    copy = workdir / "old_layout"
    shutil.copytree(FIXTURE, copy)
    load = (copy / "load.sql").read_text()
    exported_at = load.split("FROM '", 1)[1].split("/insightly_", 1)[0]
    (copy / "load.sql").write_text(load.replace(exported_at, str(copy)))
    with duckdb.connect(str(path)) as con:
        con.execute(f"IMPORT DATABASE '{copy}'")


def _old_children(path: Path) -> dict[str, list[tuple]]:
    """The old child rows re-keyed by hand: (contact_id, list index, item columns...)."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for child in CHILDREN:
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_schema = "
                    "'insightly' and table_name = ? order by ordinal_position",
                    [child],
                ).fetchall()
                if not r[0].startswith("_dlt")
            ]
            items = ", ".join(f"c.{c}" for c in cols)
            out[child] = con.execute(
                f"select p.contact_id, c._dlt_list_idx, {items} from insightly.{child} c "
                "join insightly.contacts p on p._dlt_id = c._dlt_parent_id order by 1, 2"
            ).fetchall()
    return out


# custom fields the emulator's contacts gained after the fixture was exported, with no change
# to their DATE_UPDATED_UTC: only contacts read again since hold them (a sync used to re-read
# every contact of a warehouse without history, which hid this; versions now start from the
# rows the warehouse holds)
ADDED_AFTER_EXPORT = {"Lead_Score__c"}


def _as_exported(record: dict) -> dict:
    fields = [f for f in record["CUSTOMFIELDS"] if f["FIELD_NAME"] not in ADDED_AFTER_EXPORT]
    return {**record, "CUSTOMFIELDS": fields}


@pytest.fixture
def old(tmp_path, monkeypatch):
    config = EmulatorConfig(seed=11, profile="test", api_key=API_KEY, sizes=SIZES)
    with Emulator(config) as emu:
        deleted = int((FIXTURE / "DELETED_CONTACT").read_text())
        emu.tenant.delete("Contacts", deleted)
        wh = Warehouse(tmp_path, emu.base_url)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
        monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        _import_old_warehouse(wh.path, tmp_path)
        yield emu, wh, deleted


def test_old_layout_moves_in_the_warehouse_without_a_request(old):
    emu, wh, _ = old
    expected = _old_children(wh.path)
    assert all(expected.values())
    emu.clear_requests()
    # a new pipelines directory: state and schema come back from the warehouse
    pipeline = make_pipeline(SyncOptions(pipelines_dir=wh.pipelines_dir))
    pipeline.sync_destination()
    moved = migrate_child_tables(pipeline)
    assert set(CHILDREN) <= set(moved)
    assert emu.requests == []
    for child, rows in expected.items():
        cols = [c for c in wh.columns(child) if not c.startswith("_dlt")]
        assert cols[:2] == ["contact_id", "_position"]
        got = wh.query(f"select {', '.join(cols)} from {child} order by 1, 2")
        assert got == rows, child
        assert "_dlt_load_id" in wh.columns(child)
    assert "_dlt_id" not in wh.columns("contacts")
    assert migrate_child_tables(pipeline) == []  # done once


def test_first_sync_after_the_move_is_exact(old):
    emu, wh, deleted = old
    kept = wh.query(
        "select count(*) from insightly.contacts__customfields c join insightly.contacts p "
        "on p._dlt_id = c._dlt_parent_id where p.contact_id = ?",
        deleted,
    )[0][0]
    assert kept > 0
    exported = wh.query("select max(load_id) from _dlt_loads")[0][0]
    wh.sync()
    reread = {
        r[0] for r in wh.query("select contact_id from contacts where _dlt_load_id > ?", exported)
    }
    records = [
        r if r["CONTACT_ID"] in reread else _as_exported(r) for r in emu.tenant.records("Contacts")
    ]
    # The emulator drops links to the deleted contact from the records linked to it without
    # bumping their DATE_UPDATED_UTC, so no incremental read can see that: those stay.
    problems = differences(wh, "contacts", ("CONTACT_ID",), records)
    assert [p for p in problems if f"'link_object_id': {deleted}" not in p] == []
    # the soft-deleted contact survived the move, marked, with its child rows
    assert wh.query("select count(*) from contacts where _deleted_at is not null") == [(1,)]
    left = wh.query("select count(*) from contacts__customfields where contact_id = ?", deleted)
    assert left == [(kept,)]
    for child in CHILDREN:
        dupes = wh.query(
            f"select contact_id, _position from {child} group by all having count(*) > 1"
        )
        assert dupes == [], child
    for table in ("organisations", "leads", "opportunities", "tasks"):
        assert "_dlt_id" not in wh.columns(table)
    wh.sync()  # and the next one still works
