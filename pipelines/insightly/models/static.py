"""The hand-written models in `models/sql/` (package data), bound to a warehouse's schemas.

Models are written in DuckDB's dialect and name their sources `raw.<table>`,
`stg.<view>`, `reporting.<view>`; the placeholders become the real schemas here, and what
the raw dataset lacks is degraded instead of failing the build (see `resolve`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from sqlglot import exp

from insightly.models.dialects import ident, parse
from insightly.models.raw import RawSchema

# Shipped in the wheel as package data (pyproject.toml); an installed package is a folder,
# so the resource is a real path that the model builder and Dagster can glob.
SQL_DIR = Path(str(files("insightly.models") / "sql"))
RAW, STG, REPORTING = "raw", "stg", "reporting"  # schema placeholders in sql/*.sql


def _empty_source(alias: str) -> exp.Subquery:
    empty = exp.select(exp.Literal.number(1).as_("_empty")).where(
        exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    )
    return exp.Subquery(this=empty, alias=exp.TableAlias(this=ident(alias)))


def resolve(sql: str, raw: RawSchema, schemas: dict[str, str]) -> tuple[exp.Expression, list[str]]:
    """A model from sql/ bound to the real schemas; missing raw columns become NULL.

    Models name their sources `raw.<table>`, `stg.<view>`, `reporting.<view>`. Staging
    models read one raw table, so an unqualified column they use that the table lacks is
    replaced by NULL (every staging column is CAST, which keeps its type). A raw table that
    is absent becomes an empty source.
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
