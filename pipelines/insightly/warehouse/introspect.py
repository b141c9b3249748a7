"""Small questions asked of the destination through dlt's sql_client."""

from __future__ import annotations

from typing import Any


def tables_in(sql: Any) -> set[str]:
    """Tables the pipeline's dataset holds (information_schema, as every SQL warehouse has)."""
    rows = sql.execute_sql(
        "select table_name from information_schema.tables where table_schema = %s",
        sql.dataset_name,
    )
    return {r[0] for r in rows or []}


def columns_in(sql: Any, table: str) -> dict[str, str]:
    """A table's columns in ordinal order, each with its data type (empty: no such table)."""
    rows = sql.execute_sql(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        sql.dataset_name,
        table,
    )
    return {r[0]: str(r[1]) for r in rows or []}


def tables_with_columns(sql: Any, *columns: str) -> set[str]:
    """Tables of the dataset that hold every one of `columns`."""
    marks = ", ".join(["%s"] * len(columns))
    rows = sql.execute_sql(
        "select table_name from information_schema.columns "
        f"where table_schema = %s and column_name in ({marks}) "
        "group by table_name having count(*) = %s",
        sql.dataset_name,
        *columns,
        len(columns),
    )
    return {r[0] for r in rows or []}
