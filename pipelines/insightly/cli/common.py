"""What several commands share: the account options (--account, --all, --parallel), the
pipeline options (--destination, --dataset, --pipeline-name, --pipelines-dir) and the
handler that turns our own errors into one line on stderr and their exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from insightly.errors import find_user_error
from insightly.sync.accounts import DEFAULT_PARALLEL
from insightly.sync.pipeline import DATASET_NAME, PIPELINE_NAME, SyncOptions


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    """--account NAME (repeatable), --all and --parallel N, for any command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--account",
        action="append",
        metavar="NAME",
        help="run for this [accounts.NAME] section of .dlt/config.toml (repeatable)",
    )
    group.add_argument("--all", action="store_true", help="run for every configured account")
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help=f"accounts run at the same time with --all ({DEFAULT_PARALLEL}; "
        "[sources.insightly] accounts_in_parallel)",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """--destination, --dataset, --pipeline-name, --pipelines-dir, defaulting as `sync` does:
    the pipeline `models`, `dbt-sources`, `status`, `report` and `changes` open."""
    parser.add_argument("--destination", default="duckdb", help="any dlt destination")
    parser.add_argument("--dataset", default=DATASET_NAME, help="the raw dataset")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
    parser.add_argument("--pipelines-dir", default=None)


def pipeline_options(args: argparse.Namespace) -> SyncOptions:
    """The SyncOptions naming the pipeline add_pipeline_arguments' options name (the base
    each account's options are made from, sync/accounts.py)."""
    return SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
    )


def run_command(action: Callable[[], int]) -> int:
    """Run a command; our own errors become one line on stderr and their exit code."""
    try:
        return action()
    except Exception as exc:
        error = find_user_error(exc)
        if error is None:
            raise
        print(f"insightly: {error}", file=sys.stderr)
        return error.exit_code
