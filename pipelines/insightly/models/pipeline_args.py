"""The options `insightly models` and `insightly dbt-sources` share: which pipeline to open."""

from __future__ import annotations

import argparse
from typing import Any


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """--destination, --dataset, --pipeline-name, --pipelines-dir, defaulting as `sync` does."""
    from ..runner import DATASET_NAME, PIPELINE_NAME

    parser.add_argument("--destination", default="duckdb", help="any dlt destination")
    parser.add_argument("--dataset", default=DATASET_NAME, help="the raw dataset")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
    parser.add_argument("--pipelines-dir", default=None)


def options_from(args: argparse.Namespace) -> Any:
    """The SyncOptions naming the pipeline the arguments name (the base each account's
    options are made from, accounts.py)."""
    from ..runner import SyncOptions

    return SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
    )


def pipeline_from(args: argparse.Namespace) -> Any:
    """The dlt pipeline the arguments name, opened as `sync` opens it (its destination
    credentials come from config; DuckDB gets the same memory limit)."""
    from ..runner import make_pipeline

    return make_pipeline(options_from(args))
