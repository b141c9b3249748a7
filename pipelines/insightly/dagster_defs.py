"""Dagster definitions: one asset per dlt resource, the SQL models downstream, a daily
schedule, retries after a quota stop, and one partition per account.

    dagster dev -m insightly.dagster_defs

Loading the definitions calls no API and needs no key: the raw assets are the resources of
each account's last loaded schema (custom objects included), or the static catalogue before
the first sync. Asset specs come from dagster-dlt (`dlt_assets` and its translator); the
body runs our own `run_sync`, not `DagsterDltResource.run`, because a sync is more than one
`pipeline.run`: the lock, the full-read phase, chunked backfills, the quota stop and the id
checks live there. Settings: `[dagster]` in .dlt/config.toml (see `DagsterSettings`).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Definitions,
    Failure,
    MaterializeResult,
    RetryRequested,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    define_asset_job,
    definitions,
    schedule,
)
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.pipeline import SupportsPipeline

from insightly.catalogue.entities import CUSTOM_FIELDS, CUSTOM_OBJECTS, ENTITIES, TAGS
from insightly.dagster_models import RAW_GROUP, model_assets
from insightly.errors import QuotaExhausted, SyncAlreadyRunning, find_user_error
from insightly.sync.accounts import AccountRun, account_runs, configured_accounts
from insightly.sync.pipeline import PIPELINE_NAME, SyncOptions, make_pipeline
from insightly.sync.run import run_sync

STATIC_TABLES = tuple(e.table for e in (*ENTITIES, TAGS, CUSTOM_OBJECTS, CUSTOM_FIELDS))
BUSY_RETRY_SECONDS = 300  # another sync of the same account holds the lock


@dataclass(frozen=True)
class DagsterSettings:
    """`[dagster]` in .dlt/config.toml (or DAGSTER__PIPELINES_DIR, ... in the environment)."""

    pipelines_dir: str | None = None  # where dlt keeps state (dlt's default when unset)
    destination: str = "duckdb"
    cron: str = "17 3 * * *"  # the daily schedule, UTC
    quota_retries: int = 1  # retries of a step stopped by the daily quota
    quota_retry_seconds: float | None = None  # None: until 00:10 UTC, after the reset

    @classmethod
    def from_config(cls) -> "DagsterSettings":
        values = {}
        for name in cls.__dataclass_fields__:
            value = dlt.config.get(f"dagster.{name}")
            if value is not None:
                values[name] = value
        settings = cls(**values)
        return replace(settings, quota_retries=int(settings.quota_retries))

    def quota_wait(self, now: datetime | None = None) -> float:
        if self.quota_retry_seconds is not None:
            return float(self.quota_retry_seconds)
        now = now or datetime.now(timezone.utc)
        reset = (now + timedelta(days=1)).replace(hour=0, minute=10, second=0, microsecond=0)
        return (reset - now).total_seconds()


# ----------------------------------------------------------------- what the assets are
def loaded_resources(pipeline_name: str, pipelines_dir: str | None) -> list[str] | None:
    """The resources of the pipeline's last loaded schema; None before its first sync.
    Reads the local working directory only (no destination, no API)."""
    try:
        kwargs = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
        pipeline = dlt.attach(pipeline_name, **kwargs)
        schema = pipeline.default_schema if pipeline.default_schema_name else None
    except Exception:  # never synced here: no working directory
        return None
    if schema is None:
        return None
    names = {t.get("resource") for t in schema.data_tables()}
    return sorted(n for n in names if n and not n.startswith("_"))


def asset_tables(pipeline_names: Sequence[str], pipelines_dir: str | None) -> list[str]:
    """One raw asset per table any account has (an account never synced counts as the
    static catalogue), so every partition shares one asset graph."""
    tables: set[str] = set()
    for name in pipeline_names:
        tables |= set(loaded_resources(name, pipelines_dir) or STATIC_TABLES)
    return sorted(tables)


def catalogue_source(tables: Sequence[str]) -> Any:
    """A dlt source with the real source's name and resource names but no reads, for
    dagster-dlt to derive asset specs from without calling the API."""

    @dlt.source(name="insightly")
    def insightly() -> list[Any]:
        return [dlt.resource([], name=table) for table in tables]

    return insightly()


class InsightlyTranslator(DagsterDltTranslator):
    """Asset keys `insightly_raw/<table>`, grouped, with no upstream source assets."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> Any:
        table = data.resource.name
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=AssetKey([RAW_GROUP, table]),
                deps=[],
                group_name=RAW_GROUP,
                description=f"Insightly's {table}, loaded by `insightly sync`",
            )
        )


# ----------------------------------------------------------------- running a partition
def account_run(context: AssetExecutionContext, settings: DagsterSettings) -> AccountRun:
    """The account of the run's partition (the default account when unpartitioned)."""
    name = context.partition_key if context.has_partition_key else None
    base = SyncOptions(destination=settings.destination, pipelines_dir=settings.pipelines_dir)
    run = account_runs([name] if name else None, False, base)[0]
    if run.problem is not None:
        raise Failure(str(run.problem), metadata={"exit_code": run.problem.exit_code})
    return run


def as_dagster_error(exc: Exception, settings: DagsterSettings) -> Exception:
    """Our errors as Dagster understands them: a quota stop or a busy lock is retried
    later, anything else fails the step at once with its exit code (a bug stays as is)."""
    error = find_user_error(exc)
    if error is None:
        return exc
    if isinstance(error, QuotaExhausted):
        return RetryRequested(settings.quota_retries, settings.quota_wait())
    if isinstance(error, SyncAlreadyRunning):
        return RetryRequested(settings.quota_retries, BUSY_RETRY_SECONDS)
    return Failure(str(error), metadata={"exit_code": error.exit_code}, allow_retries=False)


def sync_partition(
    context: AssetExecutionContext, settings: DagsterSettings, all_tables: int
) -> Iterator[MaterializeResult]:
    """Sync the selected tables of the partition's account, then one materialization per
    table; a quota stop materializes what finished and asks for a retry after the reset."""
    run = account_run(context, settings)
    keys = sorted(context.selected_asset_keys, key=lambda k: k.path)
    tables = [k.path[-1] for k in keys]
    entities = None if len(tables) == all_tables else tables
    try:
        result = run_sync(replace(run.options, entities=entities))
    except Exception as exc:
        raise as_dagster_error(exc, settings) from exc
    stats = result.stats
    for key, table in zip(keys, tables, strict=True):
        if stats.quota_stop and table in stats.unfinished:
            continue
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "account": run.label,
                "run_id": stats.sync,
                "rows": int(stats.rows.get(table, 0)),
                "requests": int(stats.requests.get(table, 0)),
                "in_account": table in result.tables,
            },
        )
    if stats.quota_stop:
        context.log.warning(f"{run.label}: quota stop (exit 75): {stats.quota_stop}")
        raise RetryRequested(settings.quota_retries, settings.quota_wait())


def raw_assets(
    tables: Sequence[str],
    pipeline: SupportsPipeline,
    partitions: StaticPartitionsDefinition | None,
    settings: DagsterSettings,
) -> AssetsDefinition:
    @dlt_assets(
        dlt_source=catalogue_source(tables),
        dlt_pipeline=pipeline,  # type: ignore[arg-type]
        name="insightly_sync",
        dagster_dlt_translator=InsightlyTranslator(),
        partitions_def=partitions,
    )
    def insightly_sync(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        yield from sync_partition(context, settings, len(tables))

    return insightly_sync


# ----------------------------------------------------------------- the definitions
def build_definitions(settings: DagsterSettings | None = None) -> Definitions:
    """Assets, job and schedule for every configured account (or the default one)."""
    settings = settings or DagsterSettings.from_config()
    accounts = configured_accounts()
    partitions = StaticPartitionsDefinition(sorted(accounts)) if accounts else None
    names = [a.pipeline_name for a in accounts.values()] or [PIPELINE_NAME]
    tables = asset_tables(names, settings.pipelines_dir)
    base = SyncOptions(
        destination=settings.destination,
        pipelines_dir=settings.pipelines_dir,
        pipeline_name=names[0],
    )
    raw = raw_assets(tables, make_pipeline(base), partitions, settings)
    models = model_assets(
        list(raw.keys), partitions, lambda context: account_run(context, settings)
    )
    job = define_asset_job("insightly_daily", selection=AssetSelection.assets(raw, models))
    return Definitions(
        assets=[raw, models], jobs=[job], schedules=[daily_schedule(job, partitions, settings)]
    )


def daily_schedule(
    job: Any, partitions: StaticPartitionsDefinition | None, settings: DagsterSettings
) -> ScheduleDefinition:
    """Every day at `cron` (UTC): one run per account partition."""
    if partitions is None:
        return ScheduleDefinition(
            name="insightly_daily_schedule",
            job=job,
            cron_schedule=settings.cron,
            execution_timezone="UTC",
        )

    @schedule(
        name="insightly_daily_schedule",
        job=job,
        cron_schedule=settings.cron,
        execution_timezone="UTC",
    )
    def insightly_daily_schedule(context: ScheduleEvaluationContext) -> list[RunRequest]:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return [
            RunRequest(run_key=f"{name}-{day}", partition_key=name)
            for name in partitions.get_partition_keys()
        ]

    return insightly_daily_schedule


@definitions
def defs() -> Definitions:
    """What `dagster dev -m insightly.dagster_defs` loads, built when Dagster asks."""
    return build_definitions()
