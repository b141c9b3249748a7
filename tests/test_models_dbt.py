"""dbt downstream: sources.yml generated from a synced warehouse, and the example project
in dbt/ built and tested on it by a real dbt (dbt-duckdb) in its own process."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import duckdb
import pytest
import yaml

from insightly.catalogue.fields import FIELDS
from insightly.cli import main as cli_main
from insightly.models import build_models
from insightly.models.dbt_sources import COLUMN_NOTES
from insightly.models.loaded_tables import decode_schema, describe_table

from .conftest import demo_tenant_synced

PROJECT = Path(__file__).resolve().parents[1] / "dbt"
DBT = Path(sys.executable).with_name("dbt")
GENERIC = "From the Insightly API field of the same name."


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """A warehouse synced from the emulator, and the sources.yml the CLI writes for it."""
    root = tmp_path_factory.mktemp("dbt")
    with demo_tenant_synced(root) as (_, wh):
        out = root / "sources.yml"
        args = ["dbt-sources", "--out", str(out), "--pipelines-dir", wh.pipelines_dir]
        assert cli_main(args) == 0
    yield wh, out


@pytest.fixture(scope="module")
def sources(synced) -> dict:
    _, out = synced
    document = yaml.safe_load(out.read_text())
    assert document["version"] == 2
    (source,) = document["sources"]
    return source


def tables_of(source: dict) -> dict[str, dict]:
    return {t["name"]: t for t in source["tables"]}


def test_the_committed_sources_list_the_tables_a_sync_loads(sources):
    """dbt/models/sources.yml (generated from `make demo`) is not stale: regenerate it with
    `make demo && DESTINATION__DUCKDB__CREDENTIALS=demo.duckdb make dbt-sources`."""
    committed = yaml.safe_load((PROJECT / "models" / "sources.yml").read_text())
    (source,) = committed["sources"]
    assert (source["name"], source["schema"]) == ("insightly", "insightly")
    # the demo runs the CLI, which also writes the run log; the fixture's sync is in-process
    run_log = {"_insightly_runs", "_insightly_run_tables"}
    assert run_log <= set(tables_of(source))
    assert set(tables_of(source)) - run_log == set(tables_of(sources))


def key_tests_on(table: dict, column: str) -> list:
    return next(c for c in table["columns"] if c["name"] == column).get("data_tests", [])


def test_sources_list_every_loaded_table_and_column(synced, sources):
    wh, _ = synced
    assert sources["name"] == "insightly" and sources["schema"] == "insightly"
    tables = tables_of(sources)
    loaded: dict[str, set[str]] = {}
    for table, column in wh.query(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'insightly' and not starts_with(table_name, '_dlt')"
    ):
        loaded.setdefault(table, set()).add(column)
    assert set(tables) == set(loaded)
    assert {"contacts", "contacts__tags", "contacts__customfields", "custom_fruit"} <= set(loaded)
    for name, table in tables.items():
        assert {c["name"] for c in table["columns"]} == loaded[name], name
        assert table["description"]
        assert all(c["description"] and c["data_type"] for c in table["columns"])


def test_keys_are_tested(sources):
    tables = tables_of(sources)
    assert key_tests_on(tables["contacts"], "contact_id") == ["unique", "not_null"]
    assert key_tests_on(tables["custom_fruit"], "record_id") == ["unique", "not_null"]
    # child tables: their natural key, and how they join their parent
    natural = {
        "contacts__tags": ("contact_id", "tag_name"),
        "contacts__links": ("contact_id", "link_id"),  # a link id is on both its records
        "custom_fruit__customfields": ("record_id", "field_name"),
        "teams__teammembers": ("team_id", "member_user_id"),
        "custom_fields__custom_field_options": ("field_for", "field_name", "option_id"),
        "team_members": ("team_id", "member_user_id"),
    }
    for name, key in natural.items():
        table = tables[name]
        assert all(key_tests_on(table, c) == ["not_null"] for c in key), name
        (unique,) = table["data_tests"]
        assert unique["test_name"] == "unique"
        assert all(f'"{c}"' in unique["arguments"]["column_name"] for c in key), name
    single = {
        "contacts__dates": "date_id",
        "organisations__emaildomains": "email_domain_id",
        "activity_sets__activities": "activity_id",
    }
    for name, key in single.items():
        assert key_tests_on(tables[name], key) == ["unique", "not_null"], name
        assert "data_tests" not in tables[name]
    described = tables["contacts__tags"]["description"]
    assert "join `contact_id` to `contacts.contact_id`" in described
    assert "`contacts._deleted_at`" in described  # soft-deleted parents keep their items
    assert "join `team_id` to `teams.team_id`" in tables["teams__teammembers"]["description"]
    assert "_deleted_at" not in tables["teams__teammembers"]["description"]  # replaced in full
    for table in tables.values():
        assert not {c["name"] for c in table["columns"]} & {"_dlt_id", "_dlt_parent_id"}


def test_known_columns_have_their_own_description(sources):
    tables = tables_of(sources)
    assert "DATE_UPDATED_UTC" in tables["contacts"]["description"]
    assert key_tests_on(tables["contacts"], "contact_id")
    arrays = ("CUSTOMFIELDS", "TAGS", "LINKS", "DATES", "EMAILDOMAINS")
    nested = {c.lower() for k, cols in FIELDS.items() if k.endswith(arrays) for c in cols}
    assert nested <= set(COLUMN_NOTES)
    described = {c["name"]: c["description"] for c in tables["contacts__links"]["columns"]}
    assert described["link_object_id"] != GENERIC
    assert "`contacts.contact_id`" in described["contact_id"]
    assert {"_position", "_tombstone", "_dlt_load_id"} <= set(described)
    assert all(described[c] == COLUMN_NOTES[c] for c in ("_position", "_tombstone"))
    described = {c["name"]: c["description"] for c in tables["contacts"]["columns"]}
    assert described["_deleted_at"] == COLUMN_NOTES["_deleted_at"]


def test_keys_and_parents_without_dlt_hints_come_from_the_catalogue():
    loaded = {
        "contacts",
        "contacts__tags",
        "team_members",
        "custom_fruit",
        "custom_fruit__customfields",
    }
    tags = [("contact_id", "BIGINT"), ("_position", "BIGINT"), ("tag_name", "VARCHAR")]
    child = describe_table("contacts__tags", tags, {}, loaded)
    assert (child.parent, child.parent_key) == ("contacts", ("contact_id",))
    assert child.primary_key == ("contact_id", "_position")
    assert child.natural_key == ("contact_id", "tag_name")
    fields = [("record_id", "BIGINT"), ("_position", "BIGINT"), ("field_name", "VARCHAR")]
    child = describe_table("custom_fruit__customfields", fields, {}, loaded)
    assert (child.parent, child.natural_key) == ("custom_fruit", ("record_id", "field_name"))
    # a parent that is not loaded: no child, whatever the name says
    assert describe_table("contacts__tags", tags, {}, {"contacts__tags"}).parent is None
    members = [("team_id", "BIGINT"), ("member_user_id", "BIGINT")]
    described = describe_table("team_members", members, {}, loaded)
    assert described.primary_key == described.natural_key == ("team_id", "member_user_id")
    assert described.parent is None
    fruit = [("record_id", "BIGINT"), ("record_name", "VARCHAR")]
    assert describe_table("custom_fruit", fruit, {}, loaded).primary_key == ("record_id",)


def test_a_compressed_stored_schema_is_read():
    schema = {"tables": {"contacts": {"columns": {"contact_id": {"primary_key": True}}}}}
    stored = base64.b64encode(zlib.compress(json.dumps(schema).encode())).decode()
    assert decode_schema(stored) == decode_schema(json.dumps(schema)) == schema


def run_dbt(project: Path, database: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        INSIGHTLY_DUCKDB=str(database), DO_NOT_TRACK="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false"
    )
    command = [str(DBT), "build", "--profiles-dir", ".", "--no-use-colors"]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def dbt_build(synced, tmp_path_factory):
    """`dbt build` of a copy of dbt/ with the generated sources.yml, after the SQL models
    were built (so the two can be compared)."""
    wh, out = synced
    with duckdb.connect(str(wh.path)) as con:
        build_models(con, "insightly", "duckdb")
    project = tmp_path_factory.mktemp("project") / "dbt"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy(out, project / "models" / "sources.yml")
    started = time.monotonic()
    result = run_dbt(project, wh.path)
    print(f"dbt build: {time.monotonic() - started:.1f}s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return wh, project


def test_dbt_build_runs_every_test_and_they_pass(dbt_build, sources):
    wh, project = dbt_build
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    statuses: dict[str, list[str]] = {}
    for r in results:
        statuses.setdefault(r["unique_id"].split(".")[0], []).append(r["status"])
    assert statuses["model"] == ["success"] * 3
    assert set(statuses["test"]) == {"pass"}
    source_tests = [r for r in results if r["unique_id"].split(".")[2].startswith("source_")]
    key_tests = sum(
        len(t.get("data_tests", [])) + sum(len(c.get("data_tests", [])) for c in t["columns"])
        for t in sources["tables"]
    )
    assert len(source_tests) == key_tests > 100
    assert len(statuses["test"]) > key_tests  # and the example models' own tests
    with duckdb.connect(str(wh.path), read_only=True) as con:
        (count,) = con.execute(
            "select count(*) from insightly_dbt.stg_insightly__contacts"
        ).fetchone()
    assert count == len(wh.query("select contact_id from contacts"))


def test_dbt_answers_match_the_sql_models(dbt_build):
    """The example project's pipeline-by-stage equals the runner's mart on the same data."""
    wh, _ = dbt_build
    with duckdb.connect(str(wh.path), read_only=True) as con:
        dbt_rows = con.execute(
            "select pipeline_name, stage_name, opportunity_count, total_value "
            "from insightly_dbt.opportunities_by_stage order by 1, 2"
        ).fetchall()
        mart_rows = con.execute(
            "select pipeline_name, stage_name, sum(opportunity_count), sum(total_value) "
            "from insightly_reporting.opportunity_pipeline "
            "where pipeline_id is not null and pipeline_stage_id is not null "
            "group by 1, 2 order by 1, 2"
        ).fetchall()
    assert dbt_rows and dbt_rows == mart_rows
