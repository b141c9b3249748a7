"""`insightly status`, `report`, `query` and `changes`: their options.

`status` and `report` parse their own options (cli/__init__.py hands them the rest of the
command line) and are imported when used: altair is slow to import, and every sync would
pay for it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import Any

from insightly.cli.common import (
    add_account_arguments,
    add_database_argument,
    add_pipeline_arguments,
    pipeline_options,
)
from insightly.ops import changes as changes_command
from insightly.ops.query import run_queries
from insightly.sync.pipeline import (
    DATASET_NAME,
    PIPELINE_NAME,
    SyncOptions,
    exclusive,
    make_pipeline,
)


def status(argv: Sequence[str]) -> int:
    from insightly.ops import status as command

    parser = argparse.ArgumentParser(prog="insightly status", description=command.__doc__)
    add_pipeline_arguments(parser)
    parser.add_argument("--runs", type=int, default=10, help="runs shown (10)")
    add_account_arguments(parser)
    args = parser.parse_args(argv)
    return command.main(pipeline_options(args), args.runs, args.account, args.all)


def report(argv: Sequence[str]) -> int:
    from insightly.ops import report as command

    parser = argparse.ArgumentParser(prog="insightly report", description=command.__doc__)
    add_pipeline_arguments(parser)
    out = command.DEFAULT_OUT
    parser.add_argument("--out", default=out, help=f"the HTML file ({out})")
    args = parser.parse_args(argv)
    return command.main(pipeline_options(args), args.out)


def add_query_parser(commands: Any) -> None:
    query = commands.add_parser(
        "query", help="run SQL on the DuckDB warehouse (read-only unless --write)"
    )
    query.add_argument(
        "sql", help='e.g. "select * from contacts limit 5" (several: each answer in turn)'
    )
    add_database_argument(query)
    query.add_argument(
        "--dataset", default=DATASET_NAME, help="schema searched for unqualified names (insightly)"
    )
    query.add_argument(
        "--max-rows", type=int, default=100, help="rows printed at most (100; 0 for all)"
    )
    query.add_argument(
        "--write",
        action="store_true",
        help="read-write, under the sync's lock: create schema analytics, a view, a table",
    )
    query.add_argument("--pipeline-name", default=PIPELINE_NAME, help="whose lock --write takes")
    query.add_argument("--pipelines-dir", default=None, help="where that pipeline's lock is")
    query.add_argument("--wait", action="store_true", help="--write: wait for a running sync")


def query(args: argparse.Namespace) -> int:
    """Each statement's answer as it comes, a blank line between them; --write under the
    pipeline's lock, so it never meets a sync or push writing the same file."""
    if not args.write:
        _print_answers(run_queries(args.sql, args.database, args.dataset, args.max_rows))
        return 0
    options = SyncOptions(
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
        duckdb_file=args.database,
    )
    pipeline = make_pipeline(options)
    database = args.database or pipeline.destination_client().config.credentials.database
    with exclusive(pipeline, args.wait):
        _print_answers(run_queries(args.sql, database, args.dataset, args.max_rows, write=True))
    return 0


def _print_answers(answers: Iterator[str]) -> None:
    for n, answer in enumerate(answers):
        print(f"\n{answer}" if n else answer, flush=True)


def add_changes_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "changes", help="print records created, updated or deleted since a time"
    )
    parser.add_argument(
        "--since", required=True, help="ISO time or date (UTC unless given), or 30m, 24h, 7d ago"
    )
    parser.add_argument("--entity", help="one table, e.g. contacts")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_pipeline_arguments(parser)


def changes(args: argparse.Namespace) -> int:
    return changes_command.run(pipeline_options(args), args.since, args.entity, args.json)
