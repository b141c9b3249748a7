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

import math

import duckdb
import pytest

from insightly.models.static import SQL_DIR

from .tenant_steps import Steps, incremental_tables, list_minimum, per_record


def every_step(tenant, emulator_factory, tmp_path, monkeypatch, capsys) -> None:
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


@pytest.mark.parametrize("tenant", ("empty", "bare", "minimal-plan"))
def test_every_step_on_a_tenant_unlike_the_demo(
    tenant, emulator_factory, tmp_path, monkeypatch, capsys
):
    every_step(tenant, emulator_factory, tmp_path, monkeypatch, capsys)
