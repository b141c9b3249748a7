"""Build the SQL models (staging, typed custom fields, tags, links, marts) on a warehouse.

The runner introspects the raw dataset (information_schema, raw.py), so models degrade
instead of failing when a table or column is missing: a column dlt never created (all
values null) becomes NULL, a table outside the plan becomes an empty view, and generated
views are skipped. Everything is rendered for the destination's dialect with sqlglot.

Layers (schemas next to the raw dataset, e.g. `insightly`):
- `<raw>_stg`: one view per raw entity (hand-written in `sql/staging/`, static.py, or a
  generic clean-up for entities without one), `<entity>_custom_fields` views, custom object
  views, `record_tags` and `record_links` (views.py);
- `<raw>_reporting`: the marts in `sql/reporting/`, built on staging only.
(dlt itself uses `<raw>_staging` for merge loads, hence `_stg`.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from insightly.config import DEFAULT_USER_MODELS_SCHEMA, load_settings
from insightly.errors import QueryFailed
from insightly.models import custom_fields as cf
from insightly.models.dialects import ident, render, table
from insightly.models.history_views import build_history_views
from insightly.models.raw import (
    CUSTOM_PREFIX,
    PRIMARY_KEYS,
    Execute,
    RawSchema,
    executor,
    introspect,
)
from insightly.models.static import RAW, REPORTING, SQL_DIR, STG, model_files, resolve
from insightly.models.user import build_user_models
from insightly.models.views import (
    custom_fields_view,
    custom_object_view,
    generic_staging,
    load_custom_fields,
    record_links,
    record_tags,
)

__all__ = ["ModelReport", "RawSchema", "build", "build_models", "introspect"]


@dataclass
class ModelReport:
    """What a build made, per layer, and what it skipped (with the reason)."""

    raw_dataset: str
    staging_schema: str
    reporting_schema: str
    staging: list[str] = field(default_factory=list)
    custom_fields: list[str] = field(default_factory=list)
    reporting: list[str] = field(default_factory=list)
    user_schema: str | None = None  # where the user's models went (user.py), if any
    user: list[str] = field(default_factory=list)
    degraded: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # schema.view -> the error, one line
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"models built in {self.seconds:.1f}s on {self.raw_dataset}:",
            f"  {self.staging_schema}: {len(self.staging)} staging views, "
            f"{len(self.custom_fields)} custom field views",
            f"  {self.reporting_schema}: {len(self.reporting)} marts",
        ]
        if self.user_schema:
            lines.append(f"  {self.user_schema}: {len(self.user)} user models")
        for name, missing in sorted(self.degraded.items()):
            lines.append(f"  {name}: missing in raw data, NULL: {', '.join(missing)}")
        for name, why in sorted(self.skipped.items()):
            lines.append(f"  skipped {name}: {why}")
        for name, error in sorted(self.failed.items()):
            lines.append(f"  FAILED {name}: {error}")
        return "\n".join(lines)

    def failure(self) -> str | None:
        """One line naming the views that could not be built, or None."""
        if not self.failed:
            return None
        names = ", ".join(sorted(self.failed))
        return (
            f"{len(self.failed)} SQL model(s) could not be built: {names} (the others were; "
            "see the lines above), fix them and run `insightly models`"
        )


# ----------------------------------------------------------------- DDL
def _create_view(schema: str, name: str, select: exp.Expression, destination: str) -> str:
    return render(exp.Create(this=table(schema, name), kind="VIEW", expression=select), destination)


def _drop_schema(schema: str, destination: str) -> str:
    drop = exp.Drop(tables=[exp.Table(db=ident(schema))], kind="SCHEMA", exists=True, cascade=True)
    return render(drop, destination)


def _create_schema(schema: str, destination: str) -> str:
    return render(
        exp.Create(this=exp.Table(this=ident(schema)), kind="SCHEMA", exists=True), destination
    )


# ----------------------------------------------------------------- the build
def build(
    execute: Execute,
    raw_dataset: str,
    destination: str,
    staging_schema: str | None = None,
    reporting_schema: str | None = None,
    sql_dir: Path = SQL_DIR,
    user_models_dir: str | Path | None = None,
    user_models_schema: str = DEFAULT_USER_MODELS_SCHEMA,
) -> ModelReport:
    """Our layers, then the user's models (user.py) when a folder is given."""
    started = time.monotonic()
    stg = staging_schema or f"{raw_dataset}_stg"
    rep = reporting_schema or f"{raw_dataset}_reporting"
    report = ModelReport(raw_dataset, stg, rep)
    raw = introspect(execute, raw_dataset, destination)
    if not raw.tables:
        # exit 2 and one line, on any destination (DuckDB is checked before it is opened)
        raise QueryFailed(f"dataset {raw_dataset!r} has no tables: run `insightly sync` first")
    for schema in (rep, stg):
        execute(_drop_schema(schema, destination))
    for schema in (stg, rep):
        execute(_create_schema(schema, destination))

    def create(schema: str, name: str, select: exp.Expression | Callable[[], Any]) -> bool:
        """Create one view; a failure is recorded and the build goes on, so one broken
        view never takes down those that don't depend on it (a view that does fails on
        its own, and is named too)."""
        try:
            tree = select() if callable(select) else select
            execute(_create_view(schema, name, tree, destination))
        except Exception as exc:
            report.failed[f"{schema}.{name}"] = " ".join(str(exc).split())[:300]
            return False
        return True

    schemas = {STG: stg, REPORTING: rep, RAW: raw_dataset}
    static = _static_staging(create, raw, schemas, sql_dir)
    report.staging += [name for name in static if f"{stg}.{name}" not in report.failed]
    for name, missing in static.items():
        if missing:
            report.degraded[name] = missing

    by_table: dict[str, list[cf.CustomField]] = {}
    for f in load_custom_fields(execute, raw, destination):
        by_table.setdefault(f.object_table, []).append(f)

    for name in sorted(raw.tables):
        if name.startswith("_dlt") or "__" in name or name in static:
            continue
        if name.startswith(CUSTOM_PREFIX) and "record_id" in raw.columns(name):
            fields = by_table.get(name, [])
            if create(stg, name, lambda n=name, f=fields: custom_object_view(raw, n, f)):
                report.staging.append(name)
                report.custom_fields.append(name)
        elif name in PRIMARY_KEYS and create(stg, name, lambda n=name: generic_staging(raw, n)):
            report.staging.append(name)

    for object_table, object_fields in sorted(by_table.items()):
        if object_table.startswith(CUSTOM_PREFIX):
            if not raw.has(object_table):
                report.skipped[object_table] = "custom object table not loaded"
            continue
        pk = PRIMARY_KEYS.get(object_table)
        if pk is None or not raw.has(object_table) or pk not in raw.columns(object_table):
            report.skipped[f"{object_table}_custom_fields"] = "table not loaded"
            continue
        view = f"{object_table}_custom_fields"
        if create(stg, view, lambda t=object_table, f=object_fields: custom_fields_view(raw, t, f)):
            report.custom_fields.append(view)

    if create(stg, "record_tags", lambda: record_tags(raw)):
        report.staging.append("record_tags")
    if create(stg, "record_links", lambda: record_links(raw, stg)):
        report.staging.append("record_links")
    report.staging += build_history_views(create, raw, stg, by_table, destination)

    for path in model_files(sql_dir, "reporting"):
        if create(rep, path.stem, lambda p=path: resolve(p.read_text(), raw, schemas)[0]):
            report.reporting.append(path.stem)
    if user_models_dir is not None:
        report.user_schema = user_models_schema
        report.user = build_user_models(
            execute, user_models_dir, user_models_schema, schemas, destination, report.failed
        )
    report.seconds = time.monotonic() - started
    return report


# Columns a staging view reads that a raw table often lacks, not worth a line per sync:
# `_deleted_at` until a deletion was seen; `state_reason_id`, which v3.1's opportunity record
# does not document (a closed deal's reason comes from opportunity_state_history; the column
# stays for a tenant whose records carry it).
EXPECTED_MISSING = frozenset({"_deleted_at", "state_reason_id"})


def _static_staging(
    create: Callable[[str, str, Any], bool],
    raw: RawSchema,
    schemas: dict[str, str],
    sql_dir: Path,
) -> dict[str, list[str]]:
    """The hand-written staging views, each with what it lacks (columns made NULL, or the
    whole table), leaving out the EXPECTED_MISSING."""
    built: dict[str, list[str]] = {}
    for path in model_files(sql_dir, "staging"):
        missing: list[str] = []

        def bound(text: str = path.read_text(), out: list[str] = missing) -> exp.Expression:
            tree, lacking = resolve(text, raw, schemas)
            out += lacking
            return tree

        if not create(schemas[STG], path.stem, bound):
            continue
        if not raw.has(path.stem):
            built[path.stem] = ["(table absent: empty view)"]
        else:
            built[path.stem] = [m for m in missing if m not in EXPECTED_MISSING]
    return built


# ----------------------------------------------------------------- entry points
def build_models(
    target: Any,
    raw_dataset: str = "insightly",
    destination: str | None = None,
    **options: Any,
) -> ModelReport:
    """Build every model on a dlt pipeline's destination (or a sql client / connection).

    target: a `dlt.Pipeline` (its `sql_client()` is used), a dlt sql client, or a DB-API
    connection (duckdb, psycopg2). destination: the dlt destination name; taken from the
    pipeline when omitted. The user's models (`user_models_dir`, `user_models_schema`) come
    from the settings unless given.
    """
    if "user_models_dir" not in options:
        settings = load_settings()
        options = {
            **options,
            "user_models_dir": settings.user_models_dir,
            "user_models_schema": settings.user_models_schema,
        }
    if hasattr(target, "sql_client") and hasattr(target, "destination"):
        destination = destination or target.destination.destination_name
        with target.sql_client() as client:
            return build_models(client, raw_dataset, destination, **options)
    return build(executor(target), raw_dataset, destination or "duckdb", **options)
