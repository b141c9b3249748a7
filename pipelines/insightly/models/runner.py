"""Build the SQL models (staging, typed custom fields, tags, links, marts) on a warehouse.

The runner introspects the raw dataset (information_schema), so models degrade instead of
failing when a table or column is missing: a column dlt never created (all values null)
becomes NULL, a table outside the plan becomes an empty view, and generated views are
skipped. Everything is rendered for the destination's dialect with sqlglot.

Layers (schemas next to the raw dataset, e.g. `insightly`):
- `<raw>_stg`: one view per raw entity (hand-written in `sql/staging/`, or a generic
  clean-up for entities without one), `<entity>_custom_fields` views, custom object views,
  `record_tags` and `record_links`;
- `<raw>_reporting`: the marts in `sql/reporting/`, built on staging only.
(dlt itself uses `<raw>_staging` for merge loads, hence `_stg`.)
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from ..catalogue import ENTITIES
from . import custom_fields as cf
from .dialects import column, ident, literal, parse, render, table

Execute = Callable[[str], list[tuple]]

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"
RAW, STG, REPORTING = "raw", "stg", "reporting"  # schema placeholders in sql/*.sql
PRIMARY_KEYS = {e.table: e.primary_key[0].lower() for e in ENTITIES}
CUSTOM_PREFIX = "custom_"


@dataclass
class ModelReport:
    """What a build made, per layer, and what it skipped (with the reason)."""

    raw_dataset: str
    staging_schema: str
    reporting_schema: str
    staging: list[str] = field(default_factory=list)
    custom_fields: list[str] = field(default_factory=list)
    reporting: list[str] = field(default_factory=list)
    degraded: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"models built in {self.seconds:.1f}s on {self.raw_dataset}:",
            f"  {self.staging_schema}: {len(self.staging)} staging views, "
            f"{len(self.custom_fields)} custom field views",
            f"  {self.reporting_schema}: {len(self.reporting)} marts",
        ]
        for name, missing in sorted(self.degraded.items()):
            lines.append(f"  {name}: missing in raw data, NULL: {', '.join(missing)}")
        for name, why in sorted(self.skipped.items()):
            lines.append(f"  skipped {name}: {why}")
        return "\n".join(lines)


@dataclass
class RawSchema:
    """Tables and columns of the raw dataset, from information_schema."""

    name: str
    tables: dict[str, set[str]]

    def has(self, name: str) -> bool:
        return name in self.tables

    def columns(self, name: str) -> set[str]:
        return self.tables.get(name, set())


def introspect(execute: Execute, schema: str, destination: str) -> RawSchema:
    query = (
        exp.select("table_name", "column_name")
        .distinct()
        .from_("information_schema.columns")
        .where(exp.EQ(this=exp.column("table_schema"), expression=literal(schema)))
    )
    tables: dict[str, set[str]] = {}
    for table_name, column_name in execute(render(query, destination)):
        tables.setdefault(table_name, set()).add(column_name)
    return RawSchema(schema, tables)


# ----------------------------------------------------------------- static SQL models
def _empty_source(alias: str) -> exp.Subquery:
    empty = exp.select(exp.Literal.number(1).as_("_empty")).where(
        exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    )
    return exp.Subquery(this=empty, alias=exp.TableAlias(this=ident(alias)))


def resolve(sql: str, raw: RawSchema, schemas: dict[str, str]) -> tuple[exp.Expression, list[str]]:
    """A model from sql/ bound to the real schemas; missing raw columns become NULL.

    Models name their sources `raw.<table>`, `stg.<view>`, `reporting.<view>`. Staging
    models read one raw table, so an unqualified column they use that the table lacks is
    replaced by NULL (every staging column is CAST, which keeps its type).
    """
    tree = parse(sql)
    raw_tables = [t for t in tree.find_all(exp.Table) if t.db == RAW]
    missing: list[str] = []
    if raw_tables:
        names = {t.name for t in raw_tables}
        if len(names) != 1:
            raise ValueError(f"a staging model reads one raw table, not {sorted(names)}")
        source = raw_tables[0].name
        available = raw.columns(source)
        for col in list(tree.find_all(exp.Column)):
            if col.table or col.name in available:
                continue
            missing.append(col.name)
            col.replace(exp.null())
    for t in list(tree.find_all(exp.Table)):
        if t.db == RAW and not raw.has(t.name):
            t.replace(_empty_source(t.alias_or_name))
        elif t.db in schemas:
            t.set("db", ident(schemas[t.db]))
            t.set("this", ident(t.name))
    return tree, sorted(set(missing))


def model_files(sql_dir: Path, layer: str) -> list[Path]:
    return sorted((sql_dir / layer).glob("*.sql"))


# ----------------------------------------------------------------- generated models
def clean_name(raw_column: str) -> str:
    """Readable staging name: `date_created_utc` -> `created_at`, `x_date_utc` -> `x_at`."""
    if raw_column.endswith("_utc"):
        stem = raw_column[: -len("_utc")]
        stem = re.sub(r"^date_", "", stem)
        stem = re.sub(r"_date$", "", stem)
        return f"{stem}_at"
    return raw_column


def generic_staging(raw: RawSchema, name: str) -> exp.Select:
    """Clean-up of an entity table without a hand-written model: readable timestamps, no
    dlt bookkeeping, deleted records left out."""
    cols = sorted(c for c in raw.columns(name) if not c.startswith("_"))
    pk = PRIMARY_KEYS.get(name)
    cols.sort(key=lambda c: (c != pk, c))
    select = exp.select(*[column(c).as_(ident(clean_name(c))) for c in cols])
    select = select.from_(table(raw.name, name))
    if "_deleted_at" in raw.columns(name):
        select = select.where(exp.Is(this=column("_deleted_at"), expression=exp.null()))
    return select


def custom_object_key(name: str) -> str:
    return f"{name}_id"


def _not_deleted(raw: RawSchema, name: str, alias: str) -> exp.Expression | None:
    if "_deleted_at" in raw.columns(name):
        return exp.Is(this=column("_deleted_at", alias), expression=exp.null())
    return None


def _or_null(raw_columns: set[str], name: str, alias: str, sql_type: str) -> exp.Expression:
    if name in raw_columns:
        return exp.cast(column(name, alias), sql_type)
    return exp.cast(exp.null(), sql_type)


def _union(selects: list[exp.Select], empty: exp.Select) -> exp.Expression:
    if not selects:
        return empty
    out: exp.Expression = selects[0]
    for s in selects[1:]:
        out = exp.union(out, s, distinct=False)
    return out


def _of_live_parents(select: exp.Select, raw: RawSchema, parent: str, child: str) -> exp.Select:
    """`select` over child table rows (alias c) joined to their parent rows (alias p),
    leaving out the children of records marked deleted."""
    s = select.from_(table(raw.name, child, "c")).join(
        table(raw.name, parent, "p"),
        on=exp.EQ(this=column("_dlt_parent_id", "c"), expression=column("_dlt_id", "p")),
    )
    cond = _not_deleted(raw, parent, "p")
    return s if cond is None else s.where(cond)


def record_tags(raw: RawSchema) -> exp.Expression:
    """Each record represents one tag on one record of any entity."""
    selects = []
    for parent, pk in sorted(PRIMARY_KEYS.items()):
        child = f"{parent}__tags"
        if not (raw.has(parent) and raw.has(child) and pk in raw.columns(parent)):
            continue
        s = exp.select(
            literal(parent).as_("record_type"),
            exp.cast(column(pk, "p"), "BIGINT").as_("record_id"),
            exp.cast(column("tag_name", "c"), "TEXT").as_("tag_name"),
        )
        selects.append(_of_live_parents(s, raw, parent, child))
    empty = exp.select(
        exp.cast(exp.null(), "TEXT").as_("record_type"),
        exp.cast(exp.null(), "BIGINT").as_("record_id"),
        exp.cast(exp.null(), "TEXT").as_("tag_name"),
    ).where(exp.false())
    return _union(selects, empty)


LINK_COLUMNS = (
    ("link_id", "BIGINT"),
    ("object_name", "TEXT"),
    ("object_id", "BIGINT"),
    ("link_object_name", "TEXT"),
    ("link_object_id", "BIGINT"),
    ("role", "TEXT"),
    ("details", "TEXT"),
    ("relationship_id", "BIGINT"),
    ("is_forward", "BOOLEAN"),
)


def record_links(raw: RawSchema, stg_schema: str) -> exp.Expression:
    """Each record represents one link between two records, once: the forward and reverse
    copies (one on each linked record) are merged, and ends are in forward order."""
    selects = []
    for parent in sorted(PRIMARY_KEYS):
        child = f"{parent}__links"
        if not (raw.has(parent) and raw.has(child)):
            continue
        cols = raw.columns(child)
        s = exp.select(*[_or_null(cols, n, "c", t).as_(n) for n, t in LINK_COLUMNS])
        selects.append(_of_live_parents(s, raw, parent, child))
    empty = exp.select(*[exp.cast(exp.null(), t).as_(n) for n, t in LINK_COLUMNS]).where(
        exp.false()
    )
    sides = _union(selects, empty)
    reverse = exp.EQ(this=exp.column("is_forward"), expression=exp.false())

    def pick(forward: str, backward: str) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=reverse.copy(), true=exp.column(backward))]).else_(
            exp.column(forward)
        )

    oriented = exp.select(
        exp.column("link_id"),
        pick("object_name", "link_object_name").as_("object_type"),
        pick("object_id", "link_object_id").as_("object_id"),
        pick("link_object_name", "object_name").as_("linked_object_type"),
        pick("link_object_id", "object_id").as_("linked_object_id"),
        exp.column("role"),
        exp.column("details"),
        exp.column("relationship_id"),
        exp.Coalesce(this=exp.column("is_forward"), expressions=[exp.true()]).as_("has_forward"),
    ).from_(exp.Subquery(this=sides, alias=exp.TableAlias(this=ident("sides"))))
    ranked = oriented.select(
        exp.Window(
            this=exp.RowNumber(),
            partition_by=[exp.column("link_id")],
            order=exp.Order(
                expressions=[
                    exp.Ordered(
                        this=exp.Coalesce(this=exp.column("is_forward"), expressions=[exp.true()]),
                        desc=True,
                    ),
                    exp.Ordered(this=exp.column("role"), nulls_first=False),
                    exp.Ordered(this=exp.column("details"), nulls_first=False),
                ]
            ),
        ).as_("_n"),
        copy=False,
    )
    rel = table(stg_schema, "relationships", "r")
    out = (
        exp.select(
            column("link_id", "l"),
            column("object_type", "l"),
            column("object_id", "l"),
            column("linked_object_type", "l"),
            column("linked_object_id", "l"),
            column("role", "l"),
            column("details", "l"),
            column("relationship_id", "l"),
            column("forward_title", "r").as_("relationship_name"),
            column("reverse_title", "r").as_("reverse_relationship_name"),
        )
        .from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=ident("l"))))
        .join(
            rel,
            on=exp.EQ(
                this=column("relationship_id", "l"), expression=column("relationship_id", "r")
            ),
            join_type="left",
        )
        .where(exp.EQ(this=column("_n", "l"), expression=exp.Literal.number(1)))
    )
    return out


def load_custom_fields(execute: Execute, raw: RawSchema, destination: str) -> list[cf.CustomField]:
    if not raw.has("custom_fields"):
        return []
    cols = raw.columns("custom_fields")
    if not {"object_table", "field_name"} <= cols:
        return []
    wanted = ["object_table", "field_name", "field_label", "field_type", "field_order"]
    query = exp.select(*[column(c) if c in cols else exp.null().as_(c) for c in wanted]).from_(
        table(raw.name, "custom_fields")
    )
    out = []
    for object_table, name, label, field_type, order in execute(render(query, destination)):
        if object_table and name:
            out.append(cf.CustomField(object_table, name, label, field_type, order))
    return out


# ----------------------------------------------------------------- the build
def _create_view(schema: str, name: str, select: exp.Expression, destination: str) -> str:
    return render(exp.Create(this=table(schema, name), kind="VIEW", expression=select), destination)


def _drop_schema(schema: str, destination: str) -> str:
    drop = exp.Drop(tables=[exp.Table(db=ident(schema))], kind="SCHEMA", exists=True, cascade=True)
    return render(drop, destination)


def _create_schema(schema: str, destination: str) -> str:
    return render(
        exp.Create(this=exp.Table(this=ident(schema)), kind="SCHEMA", exists=True), destination
    )


def build(
    execute: Execute,
    raw_dataset: str,
    destination: str,
    staging_schema: str | None = None,
    reporting_schema: str | None = None,
    sql_dir: Path = SQL_DIR,
) -> ModelReport:
    started = time.monotonic()
    stg = staging_schema or f"{raw_dataset}_stg"
    rep = reporting_schema or f"{raw_dataset}_reporting"
    report = ModelReport(raw_dataset, stg, rep)
    raw = introspect(execute, raw_dataset, destination)
    if not raw.tables:
        raise RuntimeError(f"dataset {raw_dataset!r} has no tables: run a sync first")
    for schema in (rep, stg):
        execute(_drop_schema(schema, destination))
    for schema in (stg, rep):
        execute(_create_schema(schema, destination))
    schemas = {STG: stg, REPORTING: rep, RAW: raw_dataset}

    static = set()
    for path in model_files(sql_dir, "staging"):
        tree, missing = resolve(path.read_text(), raw, schemas)
        execute(_create_view(stg, path.stem, tree, destination))
        static.add(path.stem)
        report.staging.append(path.stem)
        if not raw.has(path.stem):
            report.degraded[path.stem] = ["(table absent: empty view)"]
        elif [m for m in missing if m != "_deleted_at"]:
            report.degraded[path.stem] = [m for m in missing if m != "_deleted_at"]

    fields = load_custom_fields(execute, raw, destination)
    by_table: dict[str, list[cf.CustomField]] = {}
    for f in fields:
        by_table.setdefault(f.object_table, []).append(f)

    for name in sorted(raw.tables):
        if name.startswith("_dlt") or "__" in name or name in static:
            continue
        if name.startswith(CUSTOM_PREFIX) and "record_id" in raw.columns(name):
            _custom_object_view(execute, raw, name, by_table.get(name, []), stg, destination)
            report.staging.append(name)
            report.custom_fields.append(name)
        elif name in PRIMARY_KEYS:
            execute(_create_view(stg, name, generic_staging(raw, name), destination))
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
        columns = cf.plan_columns(object_fields, reserved=[pk])
        child = f"{object_table}__customfields"
        select = cf.pivot_view(
            raw.name,
            object_table,
            raw.columns(object_table),
            raw.columns(child) if raw.has(child) else None,
            [(exp.cast(column(pk, "p"), "BIGINT"), pk)],
            columns,
        )
        view = f"{object_table}_custom_fields"
        execute(_create_view(stg, view, select, destination))
        report.custom_fields.append(view)

    execute(_create_view(stg, "record_tags", record_tags(raw), destination))
    execute(_create_view(stg, "record_links", record_links(raw, stg), destination))
    report.staging += ["record_tags", "record_links"]

    for path in model_files(sql_dir, "reporting"):
        tree, _ = resolve(path.read_text(), raw, schemas)
        execute(_create_view(rep, path.stem, tree, destination))
        report.reporting.append(path.stem)
    report.seconds = time.monotonic() - started
    return report


BASE_CUSTOM_OBJECT_COLUMNS = (
    ("record_name", "TEXT"),
    ("owner_user_id", "BIGINT"),
    ("created_user_id", "BIGINT"),
    ("visible_to", "TEXT"),
    ("visible_team_id", "BIGINT"),
    ("date_created_utc", "TIMESTAMPTZ"),
    ("date_updated_utc", "TIMESTAMPTZ"),
)


def _custom_object_view(
    execute: Execute,
    raw: RawSchema,
    name: str,
    fields: Sequence[cf.CustomField],
    stg: str,
    destination: str,
) -> None:
    """Each record represents one record of a custom object, with typed custom fields."""
    cols = raw.columns(name)
    keys = [(exp.cast(column("record_id", "p"), "BIGINT"), custom_object_key(name))]
    keys += [(_or_null(cols, c, "p", t), clean_name(c)) for c, t in BASE_CUSTOM_OBJECT_COLUMNS]
    columns = cf.plan_columns(fields, reserved=[n for _, n in keys])
    child = f"{name}__customfields"
    select = cf.pivot_view(
        raw.name, name, cols, raw.columns(child) if raw.has(child) else None, keys, columns
    )
    execute(_create_view(stg, name, select, destination))


# ----------------------------------------------------------------- entry points
def _executor(target: Any) -> tuple[Execute, Any]:
    """An execute(sql) -> rows function for a dlt sql client or a DB-API connection."""
    if hasattr(target, "execute_sql"):
        return (lambda sql: list(target.execute_sql(sql) or [])), None
    if hasattr(target, "cursor"):

        def run(sql: str) -> list[tuple]:
            cur = target.cursor()
            try:
                cur.execute(sql)
                return list(cur.fetchall()) if cur.description else []
            finally:
                cur.close()

        return run, None
    raise TypeError(f"cannot run SQL on {type(target).__name__}")


def build_models(
    target: Any,
    raw_dataset: str = "insightly",
    destination: str | None = None,
    **options: Any,
) -> ModelReport:
    """Build every model on a dlt pipeline's destination (or a sql client / connection).

    target: a `dlt.Pipeline` (its `sql_client()` is used), a dlt sql client, or a DB-API
    connection (duckdb, psycopg2). destination: the dlt destination name; taken from the
    pipeline when omitted.
    """
    if hasattr(target, "sql_client") and hasattr(target, "destination"):
        destination = destination or target.destination.destination_name
        with target.sql_client() as client:
            return build_models(client, raw_dataset, destination, **options)
    execute, _ = _executor(target)
    return build(execute, raw_dataset, destination or "duckdb", **options)


def main(argv: Sequence[str] | None = None) -> int:
    """`insightly models`: build the models on the pipeline's destination."""
    from .pipeline_args import add_pipeline_arguments, pipeline_from

    parser = argparse.ArgumentParser(prog="insightly models", description=main.__doc__)
    add_pipeline_arguments(parser)
    parser.add_argument("--staging-schema", default=None)
    parser.add_argument("--reporting-schema", default=None)
    args = parser.parse_args(argv)
    report = build_models(
        pipeline_from(args),
        args.dataset,
        args.destination,
        staging_schema=args.staging_schema,
        reporting_schema=args.reporting_schema,
    )
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
