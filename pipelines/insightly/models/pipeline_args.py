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


def pipeline_from(args: argparse.Namespace) -> Any:
    """The dlt pipeline the arguments name (its destination credentials come from config)."""
    import dlt

    kwargs = {"pipelines_dir": args.pipelines_dir} if args.pipelines_dir else {}
    return dlt.pipeline(
        pipeline_name=args.pipeline_name,
        destination=args.destination,
        dataset_name=args.dataset,
        **kwargs,
    )
