"""The options `insightly models` and `insightly dbt-sources` share: which pipeline to open."""

from __future__ import annotations

import argparse
from typing import Any


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """--destination, --dataset, --pipeline-name, --pipelines-dir, defaulting as `sync` does."""
    from insightly.sync.pipeline import DATASET_NAME, PIPELINE_NAME

    parser.add_argument("--destination", default="duckdb", help="any dlt destination")
    parser.add_argument("--dataset", default=DATASET_NAME, help="the raw dataset")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
    parser.add_argument("--pipelines-dir", default=None)


def options_from(args: argparse.Namespace) -> Any:
    """The SyncOptions naming the pipeline the arguments name (the base each account's
    options are made from, accounts.py)."""
    from insightly.sync.pipeline import SyncOptions

    return SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
    )


def pipeline_from(args: argparse.Namespace) -> Any:
    """The dlt pipeline the arguments name, opened as `sync` opens it (its destination
    credentials come from config; DuckDB gets the same memory limit)."""
    from insightly.sync.pipeline import make_pipeline

    return make_pipeline(options_from(args))


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
