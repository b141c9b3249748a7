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
