"""SQL models on a real DuckDB warehouse synced from the emulator."""

from __future__ import annotations

import math
import shutil
from datetime import datetime

import duckdb
import pytest
import sqlglot

from insightly.models import build_models
from insightly.models.build import build
from insightly.models.custom_fields import CustomField, plan_columns
from insightly.models.raw import executor, introspect
from insightly.models.static import SQL_DIR
from insightly_emulator import customfields

from .conftest import demo_tenant_synced

STG, REP = "insightly_stg", "insightly_reporting"
MARTS = {
    "opportunity_pipeline",
    "pipeline_velocity",
    "stage_conversion",
    "opportunity_age_in_stage",
    "opportunities_won_lost_by_month",
    "lead_funnel",
    "contact_activity",
    "organisation_activity",
    "overdue_tasks_by_owner",
    "projects_by_status",
    "sales_headlines",
}


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    with demo_tenant_synced(tmp_path_factory.mktemp("models")) as (emu, wh):
        with duckdb.connect(str(wh.path)) as con:
            report = build_models(con, "insightly", "duckdb")
        yield emu, wh, report


@pytest.fixture(scope="module")
def con(synced):
    _, wh, _ = synced
    with duckdb.connect(str(wh.path), read_only=True) as c:
        yield c


def q(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def types_of(con, schema, view):
    rows = q(
        con,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        schema,
        view,
    )
    return dict(rows)


def test_every_layer_is_built(synced, con):
    _, _, report = synced
    assert set(report.reporting) == MARTS
    assert {"contacts", "leads", "opportunities", "record_tags", "record_links"} <= set(
        report.staging
    )
    assert {"contacts_custom_fields", "custom_fruit", "custom_project_site"} <= set(
        report.custom_fields
    )
    for view in report.staging:
        q(con, f'select count(*) from {STG}."{view}"')
    for view in report.reporting:
        q(con, f'select count(*) from {REP}."{view}"')


def test_staging_is_typed_and_renamed(con):
    t = types_of(con, STG, "opportunities")
    assert t["opportunity_id"] == "BIGINT"
    assert t["forecast_close_date"] == "DATE"
    assert t["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert t["is_open"] == "BOOLEAN"
    assert t["opportunity_value"] == "DOUBLE"
    raw = q(con, "select count(*) from insightly.opportunities")[0][0]
    assert q(con, f"select count(*) from {STG}.opportunities")[0][0] == raw
    t = types_of(con, STG, "tasks")
    assert t["due_date"] == "DATE" and t["is_completed"] == "BOOLEAN"
    # a generic staging view for an entity without a hand-written model
    t = types_of(con, STG, "tickets")
    assert "ticket_id" in t and "created_at" in t and "_dlt_id" not in t


EXPECTED_TYPES = {
    "TEXT": "VARCHAR",
    "MULTILINETEXT": "VARCHAR",
    "DROPDOWN": "VARCHAR",
    "MULTISELECT": "VARCHAR[]",
    "BIT": "BOOLEAN",
    "NUMERIC": "DOUBLE",
    "PERCENT": "DOUBLE",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "AUTONUMBER": "VARCHAR",
    "URL": "VARCHAR",
    "LOOKUP": "VARCHAR",
}


def _expected(field_type, value):
    if value is None:
        return None
    if field_type == "MULTISELECT":
        return value.split(";")
    if field_type == "DATE":
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").date()
    if field_type == "DATETIME":
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    if field_type in ("NUMERIC", "PERCENT"):
        return float(value)
    if field_type == "BIT":
        return bool(value)
    return str(value)


def test_custom_fields_are_typed_columns_with_the_emulators_values(synced, con):
    emu, _, _ = synced
    meta = {f["FIELD_NAME"]: f for f in customfields.metadata("CONTACT")}
    assert set(EXPECTED_TYPES) <= {f["FIELD_TYPE"] for f in meta.values()}
    types = types_of(con, STG, "contacts_custom_fields")
    for f in meta.values():
        assert types[f["FIELD_LABEL"]] == EXPECTED_TYPES[f["FIELD_TYPE"]], f
    assert types["Interests (text)"] == "VARCHAR"
    # names with spaces, quotes and unicode are columns as users typed them
    assert 'Kundenzufriedenheit "NPS" ✓' in types
    assert 'Customer\'s "Tier" (A–C)' in types
    assert "Last Review (UTC)" in types

    records = {r["CONTACT_ID"]: r for r in emu.tenant.records("Contacts")}
    labels = [meta[n]["FIELD_LABEL"] for n in meta]
    select = ", ".join('"' + label.replace('"', '""') + '"' for label in labels)
    rows = q(con, f"select contact_id, {select} from {STG}.contacts_custom_fields")
    assert len(rows) == len(records)
    checked = 0
    for row in rows:
        values = {c["FIELD_NAME"]: c["FIELD_VALUE"] for c in records[row[0]]["CUSTOMFIELDS"]}
        for name, got in zip(meta, row[1:], strict=True):
            want = _expected(meta[name]["FIELD_TYPE"], values.get(name))
            if isinstance(want, float):
                assert math.isclose(got, want), (row[0], name)
            else:
                assert got == want, (row[0], name, got, want)
            checked += want is not None
    assert checked > len(rows) * 10


def test_custom_object_view_has_typed_fields(synced, con):
    emu, _, _ = synced
    t = types_of(con, STG, "custom_fruit")
    assert t["custom_fruit_id"] == "BIGINT"
    assert t["Weight"] == "DOUBLE" and t["Ripe"] == "BOOLEAN" and t["Color"] == "VARCHAR"
    assert t["created_at"] == "TIMESTAMP WITH TIME ZONE"
    n = q(con, f"select count(*) from {STG}.custom_fruit")[0][0]
    assert n == len(emu.tenant.records("Fruit__c"))
    t = types_of(con, STG, "custom_project_site")
    assert t["Go-Live Date"] == "DATE" and t["Budget"] == "DOUBLE"


def test_column_names_resolve_collisions_deterministically():
    fields = [
        CustomField("x", "B__c", "Budget", "NUMERIC", 2),
        CustomField("x", "A__c", "budget", "TEXT", 1),
        CustomField("x", "C__c", "contact_id", "TEXT", 3),
        CustomField("x", "D__c", "Tags", "MULTISELECT", 4),
        CustomField("x", "E__c", "Tags (text)", "TEXT", 5),
        CustomField("x", "F__c", "é" * 40, "TEXT", 6),
        CustomField("x", "G__c", "é" * 40 + "x", "TEXT", 7),
        CustomField("x", "H__c", "  ", "TEXT", 8),
    ]
    names = [c.name for c in plan_columns(fields, reserved=["contact_id"])]
    assert names == [c.name for c in plan_columns(list(reversed(fields)), ["contact_id"])]
    assert names[:3] == ["budget (A__c)", "Budget (B__c)", "contact_id (C__c)"]
    assert names[3:6] == ["Tags", "Tags (text)", "Tags (text) #2"]
    assert all(len(n.encode()) <= 63 for n in names)
    assert len({n.lower() for n in names}) == len(names)
    assert names[-1] == "H__c"


def test_record_tags_cover_every_tagged_entity(con):
    raw = 0
    for (table,) in q(
        con,
        "select table_name from information_schema.tables "
        "where table_schema = 'insightly' and table_name like '%\\_\\_tags' escape '\\'",
    ):
        raw += q(con, f"select count(*) from insightly.{table}")[0][0]
    assert q(con, f"select count(*) from {STG}.record_tags")[0][0] == raw > 0
    contact = q(
        con,
        "select c.contact_id, t.tag_name from insightly.contacts c "
        "join insightly.contacts__tags t on t.contact_id = c.contact_id limit 1",
    )[0]
    assert q(
        con,
        f"select count(*) from {STG}.record_tags where record_type = 'contacts' "
        "and record_id = ? and tag_name = ?",
        *contact,
    ) == [(1,)]


def test_record_links_hold_each_relationship_once(con):
    tables = [
        r[0]
        for r in q(
            con,
            "select table_name from information_schema.tables where table_schema = 'insightly' "
            "and table_name like '%\\_\\_links' escape '\\'",
        )
    ]
    union = " union all ".join(f"select link_id from insightly.{t}" for t in tables)
    distinct = q(con, f"select count(distinct link_id) from ({union})")[0][0]
    total = q(con, f"select count(*) from ({union})")[0][0]
    assert total > distinct  # both ends of most links were loaded
    assert q(con, f"select count(*), count(distinct link_id) from {STG}.record_links") == [
        (distinct, distinct)
    ]
    # contact <-> contact links carry relationship names, in forward orientation
    rows = q(
        con,
        f"select relationship_name, reverse_relationship_name from {STG}.record_links "
        "where object_type = 'Contact' and linked_object_type = 'Contact' "
        "and relationship_id is not null",
    )
    assert rows and all(r[0] for r in rows)
    # the forward copy wins: ends match the row with is_forward = true
    fwd = q(
        con,
        "select link_id, object_name, object_id, link_object_name, link_object_id "
        "from insightly.contacts__links where is_forward limit 20",
    )
    for link_id, *ends in fwd:
        got = q(
            con,
            f"select object_type, object_id, linked_object_type, linked_object_id "
            f"from {STG}.record_links where link_id = ?",
            link_id,
        )
        assert got == [tuple(ends)]


def test_opportunity_pipeline_counts_match_raw(con):
    got = q(
        con,
        f"select pipeline_id, pipeline_stage_id, sum(opportunity_count), sum(total_value) "
        f"from {REP}.opportunity_pipeline group by 1, 2 order by 1, 2",
    )
    want = q(
        con,
        "select pipeline_id, stage_id, count(*), sum(opportunity_value) from "
        "insightly.opportunities where opportunity_state = 'OPEN' group by 1, 2 order by 1, 2",
    )
    assert [(a, b, c, float(d)) for a, b, c, d in got] == [
        (a, b, c, float(d or 0)) for a, b, c, d in want
    ]
    assert q(
        con, f"select count(*) from {REP}.opportunity_pipeline where weighted_value > total_value"
    ) == [(0,)]


def test_won_lost_and_funnel_and_projects_match_raw(con):
    closed = q(
        con,
        "select opportunity_state, count(*) from insightly.opportunities "
        "where opportunity_state <> 'OPEN' and actual_close_date is not null group by 1",
    )
    got = q(
        con,
        f"select opportunity_state, sum(opportunity_count) from "
        f"{REP}.opportunities_won_lost_by_month group by 1",
    )
    assert sorted(got) == sorted(closed)
    leads = q(con, "select count(*), count(*) filter (where converted) from insightly.leads")[0]
    assert q(con, f"select sum(lead_count), sum(converted_count) from {REP}.lead_funnel") == [leads]
    rates = q(con, f"select conversion_rate from {REP}.lead_funnel")
    assert all(0 <= r[0] <= 1 for r in rates)
    projects = q(con, "select status, count(*) from insightly.projects group by 1")
    assert sorted(q(con, f"select status, project_count from {REP}.projects_by_status")) == sorted(
        projects
    )


def test_activity_and_overdue_marts(con):
    assert q(con, f"select count(*) from {REP}.contact_activity") == q(
        con, "select count(*) from insightly.contacts"
    )
    emails = q(
        con,
        f"select sum(email_count) from {REP}.contact_activity",
    )[0][0]
    linked = q(
        con,
        f"select count(*) from {STG}.record_links where "
        "(object_type = 'Email' and linked_object_type = 'Contact') or "
        "(object_type = 'Contact' and linked_object_type = 'Email')",
    )[0][0]
    assert emails == linked > 0
    overdue = q(
        con,
        "select count(*) from insightly.tasks where not completed "
        "and cast(due_date as timestamp) < current_date",
    )[0][0]
    got = q(con, f"select sum(overdue_task_count) from {REP}.overdue_tasks_by_owner")[0][0]
    assert got == overdue


def test_sales_headlines_match_raw(con):
    """One row as of today: open pipeline, the 90-day win rate, this month's new leads and
    the overdue tasks, each counted here from the raw tables."""
    (row,) = con.execute(f"select * from {REP}.sales_headlines").fetchall()
    names = [d[0] for d in con.description]
    got = dict(zip(names, row, strict=True))
    opportunities = "insightly.opportunities"
    open_count, open_value = q(
        con,
        f"select count(*), sum(opportunity_value) from {opportunities} "
        "where opportunity_state = 'OPEN'",
    )[0]
    recent = (
        "cast(actual_close_date as timestamp) > current_date - interval 90 day "
        "and cast(actual_close_date as timestamp) <= current_date"
    )
    won, lost = q(
        con,
        f"select count(*) filter (where opportunity_state = 'WON' and {recent}), "
        f"count(*) filter (where opportunity_state = 'LOST' and {recent}) from {opportunities}",
    )[0]
    leads = q(
        con,
        "select count(*) from insightly.leads "
        "where date_created_utc >= date_trunc('month', current_date)",
    )[0][0]
    open_tasks, overdue = q(
        con,
        "select count(*), count(*) filter (where cast(due_date as timestamp) < current_date) "
        "from insightly.tasks where not completed",
    )[0]
    assert got["as_of_date"] == q(con, "select current_date")[0][0]
    assert (got["open_opportunities"], float(got["open_pipeline_value"])) == (
        open_count,
        pytest.approx(float(open_value)),
    )
    assert open_count > 0 and overdue > 0
    assert (got["won_last_90_days"], got["lost_last_90_days"]) == (won, lost)
    rate = got["win_rate_last_90_days"]
    assert rate is None if won + lost == 0 else float(rate) == round(won / (won + lost), 4)
    assert got["new_leads_this_month"] == leads
    assert (got["open_tasks"], got["overdue_tasks"]) == (open_tasks, overdue)


def test_models_degrade_when_tables_and_columns_are_missing(synced, tmp_path):
    _, wh, _ = synced
    path = tmp_path / "partial.duckdb"
    shutil.copy(wh.path, path)
    with duckdb.connect(str(path)) as c:
        for t in ("leads__tags", "leads__links", "leads__customfields", "leads", "relationships"):
            c.execute(f"drop table insightly.{t} cascade")
        c.execute("alter table insightly.opportunities drop column probability")
        c.execute("alter table insightly.contacts add column if not exists _deleted_at timestamptz")
        c.execute(
            "update insightly.contacts set _deleted_at = now() where contact_id in "
            "(select contact_id from insightly.contacts order by contact_id limit 5)"
        )
        report = build_models(c, "insightly", "duckdb")
        assert "leads_custom_fields" in report.skipped
        assert "probability" in report.degraded["opportunities"]
        assert c.execute(f"select count(*) from {STG}.leads").fetchall() == [(0,)]
        assert c.execute(f"select count(*) from {REP}.lead_funnel").fetchall() == [(0,)]
        n = c.execute("select count(*) from insightly.contacts").fetchall()[0][0]
        for view in ("contacts", "contacts_custom_fields", "contact_activity"):
            schema = REP if view == "contact_activity" else STG
            assert c.execute(f"select count(*) from {schema}.{view}").fetchall() == [(n - 5,)]
        assert c.execute(
            f"select sum(weighted_value) from {REP}.opportunity_pipeline"
        ).fetchall() == [(0,)]


def test_models_transpile_to_bigquery_and_snowflake(synced):
    _, wh, _ = synced
    with duckdb.connect(str(wh.path), read_only=True) as c:
        raw = introspect(lambda s: c.execute(s).fetchall(), "insightly", "duckdb")
        meta = c.execute(
            "select object_table, field_name, field_label, field_type, field_order "
            "from insightly.custom_fields"
        ).fetchall()
    for dialect in ("bigquery", "snowflake"):
        emitted: list[str] = []

        def fake(sql: str, emitted: list[str] = emitted) -> list[tuple]:
            emitted.append(sql)
            if "information_schema" in sql:
                return [(t, col) for t, cols in raw.tables.items() for col in cols]
            if "custom_fields" in sql and sql.lstrip().upper().startswith("SELECT"):
                return meta
            return []

        report = build(fake, "insightly", dialect)
        views = [s for s in emitted if s.startswith("CREATE VIEW")]
        built = set(report.staging) | set(report.custom_fields)
        assert len(views) == len(built) + len(report.reporting)
        for sql in views:
            sqlglot.parse_one(sql, read=dialect)  # valid in the target dialect
        assert not any("STRING_SPLIT" in s.upper() for s in views)


def test_a_custom_field_added_in_insightly_appears_after_the_next_sync(
    emulator, warehouse, monkeypatch
):
    warehouse.sync()
    added = customfields.FieldDef(
        "Lieblingsfarbe__c", 'Lieblings-"Farbe" 🎨', "DROPDOWN", options=("Grün", "Blau")
    )
    monkeypatch.setitem(customfields.FIELDS, "CONTACT", (*customfields.FIELDS["CONTACT"], added))
    contact_id = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    emulator.tenant.update("Contacts", contact_id, {"CUSTOMFIELDS": {added.name: "Grün"}})
    monkeypatch.setenv("SOURCES__INSIGHTLY__LOOKUP_REFRESH_HOURS", "0")
    warehouse.sync()
    with duckdb.connect(str(warehouse.path)) as c:
        build_models(c, "insightly", "duckdb")
        rows = c.execute(
            f'select contact_id, "Lieblings-""Farbe"" 🎨" from {STG}.contacts_custom_fields '
            f'where "Lieblings-""Farbe"" 🎨" is not null'
        ).fetchall()
    # the updated contact has its value; contacts re-read by the sync carry theirs too
    assert (contact_id, "Grün") in rows
    assert {v for _, v in rows} <= {"Grün", "Blau"}


def test_a_soft_deleted_contacts_tags_and_custom_fields_are_left_out(
    emulator, warehouse, monkeypatch
):
    """A soft delete keeps the child rows (read/entity_rows.py); the views drop them via the
    parent."""
    tables = ["contacts", "custom_fields"]
    warehouse.sync(entities=tables)
    records = emulator.tenant.records("Contacts")
    gone = [r["CONTACT_ID"] for r in records if r.get("TAGS") and r.get("CUSTOMFIELDS")][:3]
    assert len(gone) == 3
    for record_id in gone:
        emulator.tenant.delete("Contacts", record_id)
    monkeypatch.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
    assert warehouse.sync(entities=tables).stats.deleted["contacts"] == 3
    ids = ", ".join(str(i) for i in gone)
    for child in ("contacts__tags", "contacts__customfields"):
        kept = f"select count(distinct contact_id) from {child} where contact_id in ({ids})"
        assert warehouse.query(kept) == [(3,)], child  # still in the raw tables
    with duckdb.connect(str(warehouse.path)) as c:
        build_models(c, "insightly", "duckdb")
        tagged = q(
            c, f"select distinct record_id from {STG}.record_tags where record_type = 'contacts'"
        )
        fields = q(c, f"select contact_id from {STG}.contacts_custom_fields")
    live = {r["CONTACT_ID"] for r in emulator.tenant.records("Contacts")}
    assert {r[0] for r in fields} == live
    assert {r[0] for r in tagged} == {
        r["CONTACT_ID"] for r in emulator.tenant.records("Contacts") if r.get("TAGS")
    }
    assert not {r[0] for r in tagged} & set(gone)


def test_one_broken_model_takes_down_only_itself(synced, tmp_path):
    """A mart that can't be built (a column no table has) is named with its error; every
    other view, marts included, is built, and the report says the build failed."""
    _, wh, _ = synced
    copy = tmp_path / "copy.duckdb"  # the module's warehouse stays open read-only
    shutil.copy(wh.path, copy)
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "reporting" / "broken_mart.sql").write_text(
        "select no_such_column from stg.contacts"
    )
    with duckdb.connect(str(copy)) as con:
        report = build(executor(con), "insightly", "duckdb", sql_dir=sql_dir)
        built = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'insightly_reporting'"
            ).fetchall()
        }
    assert list(report.failed) == ["insightly_reporting.broken_mart"]
    assert "no_such_column" in report.failed["insightly_reporting.broken_mart"]
    assert "FAILED insightly_reporting.broken_mart" in report.summary()
    assert "broken_mart" in (report.failure() or "")
    expected = {p.stem for p in (SQL_DIR / "reporting").glob("*.sql")}
    assert built == expected == set(report.reporting)
    assert {"record_tags", "record_links", "contacts"} <= set(report.staging)
