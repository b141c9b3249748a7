"""What `status` and `report` check before they open a loaded pipeline. (Which pipeline a
command opens is a SyncOptions with its destination, dataset, pipeline name and pipelines
directory; cli/common.py fills one from the command line, defaulting as `sync` does.)"""

from __future__ import annotations

from typing import Any


def missing_duckdb_file(pipeline: Any) -> str | None:
    """What to do when the pipeline's DuckDB file does not exist yet; None when it does (or
    the destination is not DuckDB). Asked before opening: opening would create an empty
    file, which later reads as a warehouse with no tables."""
    from pathlib import Path

    if pipeline.destination is None or pipeline.destination.destination_name != "duckdb":
        return None
    database = getattr(pipeline.destination_client().config.credentials, "database", None)
    if not database or database == ":memory:" or Path(database).exists():
        return None
    return f"no DuckDB file at {database}: run `insightly sync` first (or `make demo`)"
