"""What several commands share: the account options (--account, --all, --parallel), the
pipeline options (--database, --destination, --dataset, --pipeline-name, --pipelines-dir) and the
handler that turns our own errors into one line on stderr and their exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from insightly.errors import ConfigurationError, find_user_error
from insightly.sync.accounts import DEFAULT_PARALLEL
from insightly.sync.pipeline import DATASET_NAME, DEFAULT_DUCKDB_FILE, PIPELINE_NAME, SyncOptions


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


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """--database FILE: the one way every warehouse command names its DuckDB file."""
    parser.add_argument(
        "--database",
        metavar="FILE",
        help=f"the DuckDB file (else DESTINATION__DUCKDB__CREDENTIALS, else {DEFAULT_DUCKDB_FILE})",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """--database, --destination, --dataset, --pipeline-name, --pipelines-dir, defaulting as
    `sync` does: the pipeline every command that reads or writes the warehouse opens."""
    add_database_argument(parser)
    parser.add_argument("--destination", default="duckdb", help="any dlt destination (duckdb)")
    parser.add_argument("--dataset", default=DATASET_NAME, help=f"the raw dataset ({DATASET_NAME})")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME, help="dlt pipeline name")
    parser.add_argument("--pipelines-dir", default=None, help="where dlt keeps its working state")


def pipeline_options(args: argparse.Namespace, **more: Any) -> SyncOptions:
    """The SyncOptions naming the pipeline add_pipeline_arguments' options name (the base
    each account's options are made from, sync/accounts.py); `more` are other fields."""
    database = args.database
    if database and args.destination != "duckdb":
        raise ConfigurationError(
            f"--database names a DuckDB file; --destination {args.destination} takes its "
            f"credentials from DESTINATION__{args.destination.upper()}__CREDENTIALS"
        )
    if database and (getattr(args, "account", None) or getattr(args, "all", False)):
        raise ConfigurationError(
            "--database names one file, and each account keeps its own: set duckdb_file "
            "under [accounts.<name>] (docs/accounts.md), or leave out --account/--all"
        )
    return SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
        duckdb_file=database or None,
        **more,
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
