"""Every step a user takes, on tenants unlike the demo (the emulator's `tenant` profiles):
empty, bare, minimal plan, custom-heavy, odd data.

Each tenant goes through a sync, a second sync with nothing changed, the models, `changes`,
`status`, `report` and a `push --dry-run` of a small model, through the CLI's own `main`.
Every step exits 0 (a skipped object or endpoint is not an error), the models build with
`record_tags`, `record_links` and every mart, and the requests stay within what the API
requires: a first load at most the list minimum (Σ ceil(n/500)) plus one per collection,
plus the StateHistory reads, plus three probes per unavailable per-record endpoint; a sync
with nothing changed at most two per incremental table plus the emails read.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import duckdb
import pytest

from insightly.catalogue.entities import ENTITIES, PER_RECORD, Load
from insightly.cli import main
from insightly.models.static import SQL_DIR

from .conftest import API_KEY

TENANTS = ("empty", "bare", "minimal-plan", "custom-heavy", "odd")
PER_RECORD_PATHS = ("/comments", "/fileattachments", "/statehistory")


def api_requests(emu) -> list:
    return [r for r in emu.requests if not r.path.startswith("/_emulator")]


def per_record(requests) -> list:
    return [r for r in requests if r.path.lower().endswith(PER_RECORD_PATHS)]


class Steps:
    """The CLI against one emulator and one warehouse file, as a user runs it."""

    def __init__(self, emu, root: Path, monkeypatch, capsys) -> None:
        self.emu, self.root, self.capsys = emu, root, capsys
        self.database = root / "insightly_crm.duckdb"
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCES__INSIGHTLY__API_KEY", API_KEY)
        monkeypatch.setenv("SOURCES__INSIGHTLY__BASE_URL", emu.base_url)
        monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(self.database))
        self.pipelines = ["--pipelines-dir", str(root / "pipelines")]

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        # each command's logging.basicConfig writes to this command's captured stderr
        for handler in logging.root.handlers[:]:
            logging.root.removeHandler(handler)
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def sync(self) -> tuple[int, list]:
        self.emu.clear_requests()
        code, out, err = self.run("sync", *self.pipelines, "--progress", "off")
        assert code == 0, out + err
        return code, api_requests(self.emu)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql).fetchall()


def list_minimum(emu) -> int:
    """Σ ceil(n/500) over every collection the tenant serves: a page even when empty."""
    return sum(max(1, math.ceil(emu.tenant.count(e) / 500)) for e in emu.tenant.entities())


def incremental_tables(steps: Steps) -> int:
    custom = steps.query(
        "select count(*) from information_schema.tables where table_schema = 'insightly' "
        "and table_name like 'custom\\_%' escape '\\' and table_name not like '%\\_\\_%' "
        "escape '\\' and table_name not in ('custom_fields', 'custom_objects')"
    )[0][0]
    return sum(e.load is Load.INCREMENTAL for e in ENTITIES) + custom


@pytest.mark.parametrize("tenant", TENANTS)
def test_every_step_on_a_tenant_unlike_the_demo(
    tenant, emulator_factory, tmp_path, monkeypatch, capsys
):
    emu = emulator_factory(profile="tiny", tenant=tenant)
    steps = Steps(emu, tmp_path, monkeypatch, capsys)

    _, first = steps.sync()
    opportunities = emu.tenant.count("Opportunities") if tenant != "minimal-plan" else 0
    probes = {r.path.rsplit("/", 1)[-1] for r in per_record(first) if r.status in (403, 404)}
    bound = list_minimum(emu) + len(emu.tenant.entities()) + opportunities + 3 * len(probes)
    assert len(first) <= bound
    assert len([r for r in per_record(first) if r.status == 404]) <= 3 * len(probes)

    _, second = steps.sync()
    emails = max(1, math.ceil(emu.tenant.count("Emails") / 500))
    assert len(second) <= 2 * incremental_tables(steps) + emails + 1  # + custom objects
    assert per_record(second) == [] or tenant != "minimal-plan"
    with capsys.disabled():  # the figures, for the record (pytest -s)
        print(f"\n{tenant}: first load {len(first)} requests (bound {bound}), "
              f"no change {len(second)}")  # fmt: skip

    staging = {
        r[0]
        for r in steps.query(
            "select table_name from information_schema.tables where table_schema = 'insightly_stg'"
        )
    }
    assert {"record_tags", "record_links", "contacts", "opportunities"} <= staging
    marts = steps.query(
        "select count(*) from information_schema.tables where table_schema = 'insightly_reporting'"
    )[0][0]
    assert marts == len(list((SQL_DIR / "reporting").glob("*.sql")))

    assert steps.run("models", *steps.pipelines)[0] == 0
    assert steps.run("changes", "--since", "1d", *steps.pipelines)[0] == 0
    code, out, _ = steps.run("status", *steps.pipelines)
    assert code == 0 and "Unavailable endpoints" in out
    assert steps.run("report", *steps.pipelines, "--out", str(tmp_path / "r.html"))[0] == 0
    with duckdb.connect(str(steps.database)) as con:
        con.execute("create schema analytics")
        con.execute(
            "create view analytics.titles as select contact_id, 'Analyst' as title "
            "from insightly.contacts order by contact_id limit 3"
        )
    code, out, err = steps.run(
        "push", "--object", "contacts", "--from", "analytics.titles", "--mode", "update",
        "--dry-run", *steps.pipelines,
    )  # fmt: skip
    assert code == 0, out + err


def test_a_tenant_without_tags_links_or_custom_fields_builds_every_model(
    emulator_factory, tmp_path, monkeypatch, capsys
):
    """No record of any entity has tags, links or custom fields (array keys absent on some
    entities, empty on others): the child tables exist with their columns, the models
    build, and `record_tags` and `record_links` exist, empty."""
    emu = emulator_factory(profile="tiny", tenant="bare")
    steps = Steps(emu, tmp_path, monkeypatch, capsys)
    steps.sync()
    for table, column in (("tickets__tags", "tag_name"), ("contacts__links", "link_id")):
        columns = {
            r[0]
            for r in steps.query(
                "select column_name from information_schema.columns "
                f"where table_schema = 'insightly' and table_name = '{table}'"
            )
        }
        assert column in columns, (table, columns)
    assert steps.query("select count(*) from insightly_stg.record_tags") == [(0,)]
    assert steps.query("select count(*) from insightly_stg.record_links") == [(0,)]
    tickets = steps.query("select count(*) from insightly_stg.tickets")[0][0]
    assert tickets == emu.tenant.count("Ticket") > 0


def test_per_record_endpoints_that_answer_404_are_probed_three_times_then_left(
    emulator_factory, tmp_path, monkeypatch, capsys
):
    """Every per-record table opted in, on a tenant where each answers 404: the first sync
    probes each (parent, list) at most three times, the second asks none, and the summary
    and `insightly status` name them."""
    emu = emulator_factory(profile="tiny", tenant="minimal-plan")
    steps = Steps(emu, tmp_path, monkeypatch, capsys)
    monkeypatch.setenv("SOURCES__INSIGHTLY__PER_RECORD_TABLES", ",".join(
        ["opportunity_state_history", *(p.table for p in PER_RECORD)]
    ))  # fmt: skip
    emu.clear_requests()
    code, out, _ = steps.run("sync", *steps.pipelines, "--progress", "off")
    assert code == 0
    asked: dict[tuple[str, str], int] = {}
    for r in per_record(api_requests(emu)):
        parts = r.path.strip("/").split("/")
        key = (parts[-3].lower(), parts[-1].lower())
        asked[key] = asked.get(key, 0) + 1
    assert asked, "the endpoints were probed"
    assert max(asked.values()) <= 3 and set(asked.values()) <= {1, 2, 3}
    assert "statehistory" in {k[1] for k in asked}
    assert "StateHistory answers 404" in out and "Comments answers 404" in out

    _, second = steps.sync()
    assert per_record(second) == []
    code, out, _ = steps.run("status", *steps.pipelines)
    assert "per-record opportunities/StateHistory" in out
    assert "per-record contacts/FileAttachments" in out
    assert "list projects" in out  # outside the plan: the last sync skipped it
