"""The SQL models (`insightly models`) as Dagster assets downstream of the raw tables.

Each hand-written model in `sql/` is one asset whose dependencies are read from its SQL
(`raw.<table>`, `stg.<view>`); the views generated from the loaded schema (custom fields,
custom objects, tags, links, generic staging) are one asset over every raw table. One step
builds them all, as `insightly models` does, since the build replaces both schemas.
"""

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    PartitionsDefinition,
    multi_asset,
)
from sqlglot import exp

from insightly.models import build_models
from insightly.models.dialects import parse
from insightly.models.static import RAW, SQL_DIR, STG, model_files
from insightly.sync.accounts import AccountRun
from insightly.sync.pipeline import make_pipeline

RAW_GROUP = "insightly_raw"
STG_GROUP = "insightly_stg"
REPORTING_GROUP = "insightly_reporting"
GENERATED = AssetKey([STG_GROUP, "generated_views"])


def _references(path: Path, schema: str) -> set[str]:
    """Tables a model reads from one of the placeholder schemas (raw, stg)."""
    return {t.name for t in parse(path.read_text()).find_all(exp.Table) if t.db == schema}


def _description(path: Path) -> str:
    """The model's leading comment, which says what one record is."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines) or f"sql/{path.parent.name}/{path.name}"


def model_specs(raw_keys: Sequence[AssetKey], sql_dir: Path = SQL_DIR) -> list[AssetSpec]:
    raw = {key.path[-1]: key for key in raw_keys}
    staging = {p.stem: p for p in model_files(sql_dir, "staging")}
    specs = [
        AssetSpec(
            GENERATED,
            deps=list(raw_keys),
            group_name=STG_GROUP,
            description="views generated from the loaded schema: custom fields, custom "
            "objects, record_tags, record_links, staging of tables without a hand-written view",
        )
    ]
    for name, path in staging.items():
        deps = [raw[t] for t in sorted(_references(path, RAW)) if t in raw]
        specs.append(
            AssetSpec(
                AssetKey([STG_GROUP, name]),
                deps=deps,
                group_name=STG_GROUP,
                description=_description(path),
            )
        )
    for path in model_files(sql_dir, "reporting"):
        views = _references(path, STG)
        deps = {AssetKey([STG_GROUP, v]) if v in staging else GENERATED for v in views}
        specs.append(
            AssetSpec(
                AssetKey([REPORTING_GROUP, path.stem]),
                deps=sorted(deps, key=lambda k: k.path),
                group_name=REPORTING_GROUP,
                description=_description(path),
            )
        )
    return specs


def model_assets(
    raw_keys: Sequence[AssetKey],
    partitions: PartitionsDefinition | None,
    account_of: Callable[[AssetExecutionContext], AccountRun],
) -> AssetsDefinition:
    specs = model_specs(raw_keys)

    @multi_asset(specs=specs, name="insightly_models", partitions_def=partitions)
    def insightly_models(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        run = account_of(context)
        options = run.options
        try:
            report = build_models(make_pipeline(options), options.dataset, options.destination)
        except Exception as exc:
            raise Failure(
                f"{run.label}: building the SQL models failed: {exc}", metadata={"exit_code": 6}
            ) from exc
        context.log.info(report.summary())
        if report.failure():
            raise Failure(f"{run.label}: {report.failure()}", metadata={"exit_code": 6})
        built = {
            STG_GROUP: set(report.staging) | set(report.custom_fields),
            REPORTING_GROUP: set(report.reporting),
        }
        for spec in specs:
            group, name = spec.key.path
            yield MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "account": run.label,
                    "schema": report.staging_schema
                    if group == STG_GROUP
                    else report.reporting_schema,
                    "built": name in built[group] or spec.key == GENERATED,
                    "degraded": ", ".join(report.degraded.get(name, [])),
                },
            )

    return insightly_models
