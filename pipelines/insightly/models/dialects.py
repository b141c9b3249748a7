"""Which SQL dialect a dlt destination speaks, and how a model is rendered for it.

Models are written once, in DuckDB's dialect (`sql/`), or built as sqlglot expressions
(custom fields, tags, links). They are rendered for the destination with sqlglot.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# dlt destination name -> sqlglot dialect
DIALECTS = {
    "duckdb": "duckdb",
    "motherduck": "duckdb",
    "postgres": "postgres",
    "redshift": "redshift",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "databricks": "databricks",
    "mssql": "tsql",
    "synapse": "tsql",
    "athena": "athena",
    "clickhouse": "clickhouse",
}

SOURCE_DIALECT = "duckdb"


def dialect_of(destination: str) -> str:
    """The sqlglot dialect for a dlt destination name (or a sqlglot dialect name)."""
    name = destination.rsplit(".", 1)[-1].lower()
    return DIALECTS.get(name, name)


def parse(sql: str) -> exp.Expression:
    """Parse one model written in the source dialect."""
    return sqlglot.parse_one(sql, read=SOURCE_DIALECT)


def render(expression: exp.Expression, destination: str) -> str:
    """SQL text of an expression for the destination's dialect."""
    return expression.sql(dialect=dialect_of(destination))


def transpile(sql: str, destination: str) -> str:
    """Source-dialect SQL text rendered for the destination."""
    return render(parse(sql), destination)


def ident(name: str) -> exp.Identifier:
    """A quoted identifier: user-chosen names never reach SQL unquoted."""
    return exp.to_identifier(name, quoted=True)


def table(schema: str, name: str, alias: str | None = None) -> exp.Table:
    return exp.Table(
        this=ident(name),
        db=ident(schema),
        alias=exp.TableAlias(this=ident(alias)) if alias else None,
    )


def column(name: str, table_alias: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table_alias) if table_alias else None)


def literal(value: str) -> exp.Literal:
    return exp.Literal.string(value)
