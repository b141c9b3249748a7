"""Dagster: the definitions load without a key or a request, every asset materializes
in-process against the emulator (one partition per account), and a quota stop is retried."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterEventType, build_schedule_context, materialize
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from insightly.dagster_defs import STATIC_TABLES, DagsterSettings, build_definitions
from tests.conftest import Warehouse
from tests.helpers import column, custom_object_tables, entity_paths

KEY_A = "brand-a-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
KEY_B = "brand-b-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4"


@contextmanager
def dlt_project(root: Path) -> Iterator[None]:
    """dlt reads `.dlt/` of `root` (as it would with the project as working directory)."""
    context = Container()[PluggableRunContext]
    cookie = context.push_context()
    context.reload(str(root))
    try:
        yield
    finally:
        context.pop_context(cookie)


@pytest.fixture
def two_accounts(tmp_path, emulator_factory, monkeypatch):
    tenant_a = emulator_factory(seed=7, api_key=KEY_A, scale=0.1)
    tenant_b = emulator_factory(seed=11, api_key=KEY_B, scale=0.1, daily_limit=3)
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        f"""
[accounts.brand_a]
api_key_env = "INSIGHTLY_KEY_BRAND_A"
base_url = "{tenant_a.base_url}"
duckdb_file = "{tmp_path / "brand_a.duckdb"}"

[accounts.brand_b]
api_key_env = "INSIGHTLY_KEY_BRAND_B"
base_url = "{tenant_b.base_url}"
duckdb_file = "{tmp_path / "brand_b.duckdb"}"
"""
    )
    monkeypatch.setenv("INSIGHTLY_KEY_BRAND_A", KEY_A)
    monkeypatch.setenv("INSIGHTLY_KEY_BRAND_B", KEY_B)
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    with dlt_project(tmp_path):
        yield tenant_a, tenant_b


def raw_tables(defs) -> set[str]:
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    return {k.path[-1] for k in keys if k.path[0] == "insightly_raw"}


def test_all_assets_materialize_per_account_and_a_quota_stop_is_retried(tmp_path, two_accounts):
    tenant_a, tenant_b = two_accounts
    settings = DagsterSettings(
        pipelines_dir=str(tmp_path / "pipelines"), quota_retries=1, quota_retry_seconds=0
    )
    defs = build_definitions(settings)
    # loading called no API; before a first sync the assets are the static catalogue
    assert tenant_a.requests == [] and tenant_b.requests == []
    assert raw_tables(defs) == set(STATIC_TABLES)
    job = defs.resolve_job_def("insightly_daily")
    assert job.partitions_def.get_partition_keys() == ["brand_a", "brand_b"]
    daily = defs.resolve_schedule_def("insightly_daily_schedule")
    assert daily.cron_schedule == "17 3 * * *" and daily.execution_timezone == "UTC"
    tick = build_schedule_context(
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime(2026, 12, 1, 3, 17),
    )
    requests = daily.evaluate_tick(tick).run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("brand_a", "brand_a-2026-12-01"),
        ("brand_b", "brand_b-2026-12-01"),
    ]

    assets = list(defs.assets)
    result = materialize(assets, partition_key="brand_a")
    assert result.success
    materialized = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert {f"insightly_raw/{t}" for t in STATIC_TABLES} <= set(materialized)
    models = {"insightly_stg/contacts", "insightly_stg/generated_views"}
    assert models | {"insightly_reporting/opportunity_pipeline"} <= set(materialized)

    warehouse = Warehouse(tmp_path, tenant_a.base_url)
    warehouse.path = tmp_path / "brand_a.duckdb"
    for table, (path, pk) in entity_paths(tenant_a).items():
        want = {tuple(r[k] for k in pk) for r in tenant_a.tenant.records(path)}
        cols = ", ".join(column(k) for k in pk)
        assert set(warehouse.query(f'select {cols} from "{table}"')) == want, table
    rows = materialized["insightly_raw/contacts"]["rows"].value
    assert rows == len(tenant_a.tenant.records("Contacts"))
    assert warehouse.query("select count(*) from insightly_stg.contacts")[0][0] == rows
    assert warehouse.query("select count(*) from insightly_reporting.lead_funnel")[0][0] > 0
    assert not (tmp_path / "brand_b.duckdb").exists()

    # reloaded, the definitions take the custom objects from the last loaded schema
    requests = len(tenant_a.requests)
    custom = set(custom_object_tables(tenant_a).values())
    assert custom and custom <= raw_tables(build_definitions(settings))
    assert len(tenant_a.requests) == requests

    # brand_b's daily quota (3 requests) stops its sync: retried once, then the step fails
    stopped = materialize(assets, partition_key="brand_b", raise_on_error=False)
    assert not stopped.success
    kinds = [e.event_type for e in stopped.all_events]
    assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 1
    assert kinds.count(DagsterEventType.STEP_FAILURE) == 1
    assert {e.api_key for e in tenant_b.requests} == {KEY_B}
    assert {e.api_key for e in tenant_a.requests} == {KEY_A}
    events = "\n".join(str(e) for e in result.all_events + stopped.all_events)
    assert KEY_A not in events and KEY_B not in events


def test_without_accounts_the_assets_are_unpartitioned(tmp_path):
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        f'[dagster]\ncron = "0 5 * * *"\npipelines_dir = "{tmp_path / "pipelines"}"\n'
    )
    with dlt_project(tmp_path):
        defs = build_definitions()  # settings from [dagster]
    assert defs.resolve_job_def("insightly_daily").partitions_def is None
    assert defs.resolve_schedule_def("insightly_daily_schedule").cron_schedule == "0 5 * * *"
    assert raw_tables(defs) == set(STATIC_TABLES)
