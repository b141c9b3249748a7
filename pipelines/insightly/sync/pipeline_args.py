"""What the commands that read the warehouse (status, report, changes, models, dbt-sources)
check before they open a loaded pipeline. (Which pipeline a command opens is a SyncOptions
with its destination, dataset, pipeline name and pipelines directory; cli/common.py fills one
from the command line, defaulting as `sync` does.)"""

from __future__ import annotations

from typing import Any

from insightly.errors import QueryFailed


def missing_duckdb_file(pipeline: Any) -> str | None:
    """What to do when the pipeline's DuckDB file does not exist yet, or holds no dataset
    (an empty file an older version's `changes` or `models` left); None when it is there
    (or the destination is not DuckDB, or the file can't be opened now: a sync holds it).
    Asked before opening: opening would create an empty file, which later reads as a
    warehouse with no tables."""
    from pathlib import Path

    if pipeline.destination is None or pipeline.destination.destination_name != "duckdb":
        return None
    database = getattr(pipeline.destination_client().config.credentials, "database", None)
    if not database or database == ":memory:":
        return None
    if not Path(database).exists():
        return f"no DuckDB file at {database}: run `insightly sync` first (or `make demo`)"
    if _has_schema(database, pipeline.dataset_name) is False:
        return (
            f"the DuckDB file {database} holds no dataset {pipeline.dataset_name!r}: "
            "run `insightly sync` first (or `make demo`)"
        )
    return None


def require_warehouse(pipeline: Any) -> None:
    """Raise QueryFailed (exit 2, one line) where missing_duckdb_file says what to run."""
    problem = missing_duckdb_file(pipeline)
    if problem is not None:
        raise QueryFailed(problem)


def _has_schema(database: str, schema: str) -> bool | None:
    """Whether the DuckDB file holds the schema; None when it can't be opened read-only
    (another process writes it, or this one has it open): then the command finds out."""
    import duckdb

    try:
        with duckdb.connect(database, read_only=True) as con:
            found = con.execute(
                "select count(*) from information_schema.schemata where schema_name = ?",
                [schema],
            ).fetchone()
    except duckdb.Error:
        return None
    return bool(found and found[0])
