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

from insightly.catalogue import NESTED_COLUMNS
from insightly.cli import main as cli_main
from insightly.models import build_models
from insightly.models.dbt_sources import COLUMN_NOTES, decode_schema, describe_table

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
    assert set(tables_of(source)) == set(tables_of(sources))


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
    for child in ("contacts__tags", "custom_fruit__customfields", "teams__teammembers"):
        assert key_tests_on(tables[child], "_dlt_id") == ["unique", "not_null"], child
        assert "_dlt_parent_id" in tables[child]["description"]
    team_members = tables["team_members"]
    assert key_tests_on(team_members, "team_id") == key_tests_on(team_members, "member_user_id")
    assert key_tests_on(team_members, "team_id") == ["not_null"]
    (unique,) = team_members["data_tests"]
    assert unique["test_name"] == "unique"
    assert "member_user_id" in unique["arguments"]["column_name"]


def test_known_columns_have_their_own_description(sources):
    tables = tables_of(sources)
    assert "DATE_UPDATED_UTC" in tables["contacts"]["description"]
    assert key_tests_on(tables["contacts"], "contact_id")
    nested = {c.lower() for columns in NESTED_COLUMNS.values() for c in columns}
    assert nested <= set(COLUMN_NOTES)
    described = {c["name"]: c["description"] for c in tables["contacts__links"]["columns"]}
    assert described["link_object_id"] != GENERIC


def test_keys_and_parents_without_dlt_hints_come_from_the_catalogue():
    text = [("tag_name", "VARCHAR"), ("_dlt_parent_id", "VARCHAR"), ("_dlt_id", "VARCHAR")]
    child = describe_table("contacts__tags", text, {})
    assert (child.parent, child.primary_key) == ("contacts", ())
    members = [("team_id", "BIGINT"), ("member_user_id", "BIGINT"), ("_dlt_id", "VARCHAR")]
    assert describe_table("team_members", members, {}).primary_key == ("team_id", "member_user_id")
    fruit = [("record_id", "BIGINT"), ("_dlt_id", "VARCHAR")]
    assert describe_table("custom_fruit", fruit, {}).primary_key == ("record_id",)


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
